// --listen: every spelling the man page promises, and one clear line for each mistake.
#include "listen_spec.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

TEST(ListenSpec, TcpSpellings) {
  const auto port_only = parse_listen_spec("8080");
  ASSERT_TRUE(port_only);
  EXPECT_EQ(port_only.value().kind, ListenSpec::Kind::tcp);
  EXPECT_EQ(port_only.value().port, 8080);
  EXPECT_FALSE(port_only.value().address);
  EXPECT_EQ(describe_listen_spec(port_only.value()), "*:8080");

  EXPECT_EQ(describe_listen_spec(parse_listen_spec("127.0.0.1:8080").value()), "127.0.0.1:8080");
  EXPECT_EQ(describe_listen_spec(parse_listen_spec("[::1]:80").value()), "[::1]:80");
  EXPECT_EQ(describe_listen_spec(parse_listen_spec("[::]:0").value()), "[::]:0");
  EXPECT_FALSE(parse_listen_spec("*:9").value().address);
}

TEST(ListenSpec, UnixSocketsWithModeOwnerAndName) {
  auto spec = parse_listen_spec("unix:/run/app.sock,mode=0660,owner=root:0,name=web");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec.value().kind, ListenSpec::Kind::unix_stream);
  EXPECT_EQ(spec.value().path, "/run/app.sock");
  EXPECT_EQ(spec.value().mode, 0660u);
  EXPECT_EQ(spec.value().owner, 0u);
  EXPECT_EQ(spec.value().group, 0u);
  EXPECT_EQ(spec.value().name, "web");
  EXPECT_EQ(describe_listen_spec(spec.value()), "unix:/run/app.sock");
}

TEST(ListenSpec, NamesForTcpToo) {
  EXPECT_EQ(parse_listen_spec("8080,name=http").value().name, "http");
  EXPECT_EQ(parse_listen_spec("8080").value().name, "reuserun");
}

TEST(ListenSpec, MistakesGetOneLineNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "expected PORT"},
      {"http", "expected PORT"},
      {"70000", "expected PORT"},
      {"::1:8080", "expected PORT"},
      {"localhost:80", "expected PORT"},
      {"unix:run/app.sock", "absolute path"},
      {"8080,mode=0660", "unknown option 'mode=0660'"},
      {"unix:/a,mode=999", "octal"},
      {"unix:/a,owner=no-such-user-here", "no such user 'no-such-user-here'"},
      {"8080,name=a:b", "without ':'"},
      {"8080,colour=blue", "unknown option"},
  };
  for (const auto& [text, needle] : cases) {
    const auto spec = parse_listen_spec(text);
    ASSERT_FALSE(spec) << text;
    EXPECT_NE(spec.error().message.find(needle), std::string::npos) << spec.error().message;
    EXPECT_EQ(
        spec.error().message.rfind("invalid value '" + std::string(text) + "' for --listen", 0),
        0u);
  }
}

}  // namespace
}  // namespace reuserun
