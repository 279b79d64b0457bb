// --env and --env-file: the spellings deploy tools write, and one line naming a bad one.
#include "env_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace reuserun {
namespace {

TEST(EnvFile, ReadsAssignmentsCommentsExportAndQuotes) {
  char path[] = "/tmp/reuserun-env-XXXXXX";
  ::close(::mkstemp(path));
  std::ofstream(path) << "# release\n\nAPP_VERSION=2\nexport DB_URL=\"postgres://x/y\"\n"
                         "  GREETING='hello world'  \nEMPTY=\nEQUALS=a=b\n";
  const auto pairs = read_env_file(path);
  ASSERT_TRUE(pairs) << pairs.error().message;
  EXPECT_EQ(pairs.value(), (EnvPairs{{"APP_VERSION", "2"},
                                     {"DB_URL", "postgres://x/y"},
                                     {"GREETING", "hello world"},
                                     {"EMPTY", ""},
                                     {"EQUALS", "a=b"}}));
  std::ofstream(path) << "OK=1\nnot an assignment\n";
  const auto bad = read_env_file(path);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, std::string(path) + ":2: expected KEY=VALUE");
  ::unlink(path);
  const auto missing = read_env_file(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "Failed to read --env-file " + std::string(path) + ": No such file or directory");
}

TEST(EnvFile, AssignmentsNeedAValidKey) {
  EXPECT_TRUE(parse_env_assignment("A_1=x"));
  for (const char* bad : {"=x", "1A=x", "A-B=x", "A", ""})
    EXPECT_FALSE(parse_env_assignment(bad)) << bad;
}

}  // namespace
}  // namespace reuserun
