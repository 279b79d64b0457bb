// --listen: every spelling the man page promises, and one clear line for each mistake.
#include "listen_spec.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

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
  // Names go through the lookup the app gives (the account database): here a fake one.
  const AccountNames names{[](std::string_view user) {
                             return user == "root" ? std::optional<uid_t>(0) : std::nullopt;
                           },
                           {}};
  auto spec = parse_listen_spec("unix:/run/app.sock,mode=0660,owner=root:0,name=web", names);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec.value().kind, ListenSpec::Kind::unix_stream);
  EXPECT_EQ(spec.value().path, "/run/app.sock");
  EXPECT_EQ(spec.value().mode, 0660u);
  EXPECT_EQ(spec.value().owner, 0u);
  EXPECT_EQ(spec.value().group, 0u);
  EXPECT_EQ(spec.value().name, "web");
  EXPECT_EQ(describe_listen_spec(spec.value()), "unix:/run/app.sock");
}

TEST(ListenSpec, DatagramAndSeqpacketSockets) {
  const auto udp = parse_listen_spec("udp:53,name=dns");
  ASSERT_TRUE(udp) << udp.error().message;
  EXPECT_EQ(udp.value().kind, ListenSpec::Kind::udp);
  EXPECT_EQ(udp.value().port, 53);
  EXPECT_FALSE(udp.value().address);
  EXPECT_EQ(udp.value().name, "dns");
  EXPECT_EQ(describe_listen_spec(udp.value()), "udp:*:53");
  EXPECT_EQ(describe_listen_spec(parse_listen_spec("udp:127.0.0.1:5353").value()),
            "udp:127.0.0.1:5353");
  EXPECT_EQ(describe_listen_spec(parse_listen_spec("udp:[::1]:5353").value()), "udp:[::1]:5353");
  EXPECT_EQ(socket_type(udp.value().kind), SOCK_DGRAM);

  const auto dgram = parse_listen_spec("unix-dgram:/run/log.sock,mode=0620,name=log");
  ASSERT_TRUE(dgram) << dgram.error().message;
  EXPECT_EQ(dgram.value().kind, ListenSpec::Kind::unix_dgram);
  EXPECT_EQ(dgram.value().path, "/run/log.sock");
  EXPECT_EQ(dgram.value().mode, 0620u);
  EXPECT_EQ(describe_listen_spec(dgram.value()), "unix-dgram:/run/log.sock");
  EXPECT_EQ(socket_type(dgram.value().kind), SOCK_DGRAM);

  const auto seqpacket = parse_listen_spec("unix-seqpacket:/run/app.sock,owner=0");
  ASSERT_TRUE(seqpacket) << seqpacket.error().message;
  EXPECT_EQ(seqpacket.value().kind, ListenSpec::Kind::unix_seqpacket);
  EXPECT_EQ(seqpacket.value().owner, 0u);
  EXPECT_EQ(socket_type(seqpacket.value().kind), SOCK_SEQPACKET);
  EXPECT_FALSE(is_datagram(seqpacket.value().kind)) << "it listens and accepts";
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
      {"udp:", "expected udp:PORT"},
      {"udp:dns", "expected udp:PORT"},
      {"udp:::1:53", "expected udp:PORT"},
      {"udp:53,mode=0660", "unknown option 'mode=0660'"},
      {"unix-dgram:log.sock", "absolute path"},
      {"unix-seqpacket:", "absolute path"},
      {"tcp:8080", "expected PORT"},
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
