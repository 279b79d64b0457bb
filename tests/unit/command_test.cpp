#include "command.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>

namespace reuserun {
namespace {

// A fake filesystem: path -> errno of the executable check (absent: ENOENT).
ExecutableCheck fake(std::map<std::string, int> files) {
  return [files](const std::string& path) {
    const auto it = files.find(path);
    return it == files.end() ? ENOENT : it->second;
  };
}

TEST(Command, NameWithASlashIsUsedAsItIs) {
  const auto found = resolve_command("./srv", "/usr/bin", fake({{"./srv", 0}}));
  EXPECT_EQ(found.path, "./srv");
  EXPECT_EQ(resolve_command("./gone", "/usr/bin", fake({})).error, ENOENT);
}

TEST(Command, SearchesPathInOrder) {
  const auto found = resolve_command("srv", "/a:/b:/c", fake({{"/b/srv", 0}, {"/c/srv", 0}}));
  EXPECT_EQ(found.path, "/b/srv");
  EXPECT_EQ(found.error, 0);
}

TEST(Command, EmptyPathEntryMeansTheCurrentDirectory) {
  EXPECT_EQ(resolve_command("srv", "/a::/b", fake({{"./srv", 0}})).path, "./srv");
}

TEST(Command, NotExecutableIsReportedWhenNothingBetterIsFound) {
  EXPECT_EQ(resolve_command("srv", "/a:/b", fake({{"/a/srv", EACCES}})).error, EACCES);
  EXPECT_EQ(resolve_command("srv", "/a:/b", fake({{"/a/srv", EACCES}, {"/b/srv", 0}})).path,
            "/b/srv");
  EXPECT_EQ(resolve_command("srv", "/a:/b", fake({})).error, ENOENT);
  EXPECT_EQ(resolve_command("", "/a", fake({})).error, ENOENT);
}

TEST(Command, ARelativeCommandIsResolvedWhereTheChildWillRun) {
  const auto found =
      resolve_command("./srv", "/usr/bin", fake({{"/srv/app/./srv", 0}}), "/srv/app");
  EXPECT_EQ(found.path, "/srv/app/./srv");
  EXPECT_EQ(resolve_command("./srv", "/usr/bin", fake({{"./srv", 0}}), "/srv/app").error, ENOENT)
      << "a ./srv beside reuserun is not the one the child would run";
  EXPECT_EQ(resolve_command("srv", "bin", fake({{"/srv/app/bin/srv", 0}}), "/srv/app").path,
            "/srv/app/bin/srv");
  EXPECT_EQ(resolve_command("/opt/srv", "", fake({{"/opt/srv", 0}}), "/srv/app").path, "/opt/srv");
}

}  // namespace
}  // namespace reuserun
