// The bind takeover's decisions (lib/core/takeover_decision.hpp): which of a child's own binds
// get the shared socket, and what is read out of the sockaddr it passed.
#include "bind_takeover.hpp"

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace reuserun {
namespace {

BindAddress inet(const char* text, std::uint16_t port) {
  BindAddress address;
  address.inet = *parse_ip_address(text, port);
  address.family = address.inet.family();
  return address;
}

HeldSocket tcp(const char* text, std::uint16_t port, bool rebindable = false) {
  return {ListenSpec::Kind::tcp, *parse_ip_address(text, port), "", rebindable};
}

TEST(BindTakeover, ABindOfTheHeldAddressGetsTheSharedSocket) {
  const auto verdict =
      decide_bind(inet("127.0.0.1", 8080), AF_INET, SOCK_STREAM, {tcp("127.0.0.1", 8080)});
  EXPECT_EQ(verdict.kind, BindVerdict::Kind::take_over);
  EXPECT_EQ(verdict.listener, 0u);
}

TEST(BindTakeover, AnotherPortPortZeroAndAnotherKindAreLeftAlone) {
  const std::vector<HeldSocket> held{tcp("127.0.0.1", 8080)};
  EXPECT_EQ(decide_bind(inet("127.0.0.1", 9090), AF_INET, SOCK_STREAM, held).kind,
            BindVerdict::Kind::pass)
      << "an admin port";
  EXPECT_EQ(decide_bind(inet("127.0.0.1", 0), AF_INET, SOCK_STREAM, held).kind,
            BindVerdict::Kind::pass)
      << "port 0: a client's bind";
  EXPECT_EQ(decide_bind(inet("127.0.0.1", 8080), AF_INET, SOCK_DGRAM, held).kind,
            BindVerdict::Kind::pass)
      << "UDP on the port of a TCP socket";
  EXPECT_EQ(decide_bind(inet("127.0.0.1", 8080), AF_INET6, SOCK_STREAM, held).kind,
            BindVerdict::Kind::pass)
      << "a sockaddr of the other family than its socket: the kernel refuses it";
}

TEST(BindTakeover, TheFirstGenerationsOwnAddressMovesAnUnchosenSocket) {
  // `--port 5000 -- flask run`: reuserun holds [::]:5000, flask binds 127.0.0.1:5000.
  const auto verdict = decide_bind(inet("127.0.0.1", 5000), AF_INET, SOCK_STREAM,
                                   {tcp("::", 5000, /*rebindable=*/true)});
  EXPECT_EQ(verdict.kind, BindVerdict::Kind::rebind);
  // Dual-stack [::] asked for by an IPv6 server (python3 -m http.server): nothing to move.
  EXPECT_EQ(decide_bind(inet("::", 5000), AF_INET6, SOCK_STREAM, {tcp("::", 5000, true)}).kind,
            BindVerdict::Kind::take_over);
}

TEST(BindTakeover, AnotherFamilyThanAChosenSocketIsRefusedNamingTheBindThatAgrees) {
  const auto verdict =
      decide_bind(inet("::1", 8080), AF_INET6, SOCK_STREAM, {tcp("127.0.0.1", 8080)});
  ASSERT_EQ(verdict.kind, BindVerdict::Kind::refuse);
  EXPECT_NE(verdict.reason.find("[::1]:8080 with an IPv6 socket"), std::string::npos)
      << verdict.reason;
  EXPECT_NE(verdict.reason.find("is IPv4 (127.0.0.1:8080)"), std::string::npos) << verdict.reason;
  EXPECT_NE(verdict.reason.find("--bind ::1"), std::string::npos) << verdict.reason;
}

TEST(BindTakeover, AnotherAddressOfTheChosenFamilyGetsTheChosenSocket) {
  // --bind 0.0.0.0 was the user's choice; the server asking for 127.0.0.1 gets it all the same.
  EXPECT_EQ(decide_bind(inet("127.0.0.1", 8080), AF_INET, SOCK_STREAM, {tcp("0.0.0.0", 8080)})
                .kind,
            BindVerdict::Kind::take_over);
}

TEST(BindTakeover, TheSocketOfTheSameFamilyIsChosenAmongTwoOnThePort) {
  const std::vector<HeldSocket> held{tcp("127.0.0.1", 8080), tcp("::1", 8080)};
  const auto verdict = decide_bind(inet("::1", 8080), AF_INET6, SOCK_STREAM, held);
  EXPECT_EQ(verdict.kind, BindVerdict::Kind::take_over);
  EXPECT_EQ(verdict.listener, 1u);
}

TEST(BindTakeover, UdpIsNeverMovedAndANamedUdpListenerAgrees) {
  const HeldSocket udp{ListenSpec::Kind::udp, *parse_ip_address("::", 5353), "", true};
  const auto verdict = decide_bind(inet("127.0.0.1", 5353), AF_INET, SOCK_DGRAM, {udp});
  ASSERT_EQ(verdict.kind, BindVerdict::Kind::refuse)
      << "an old UDP socket cannot leave the SO_REUSEPORT group: datagrams would go to it";
  EXPECT_NE(verdict.reason.find("--listen udp:127.0.0.1:5353"), std::string::npos)
      << verdict.reason;
}

TEST(BindTakeover, AUnixPathOfTheRightKindGetsTheSharedSocket) {
  const HeldSocket stream{ListenSpec::Kind::unix_stream, {}, "/run/app.sock", false};
  BindAddress wanted;
  wanted.family = AF_UNIX;
  wanted.path = "/run/app.sock";
  EXPECT_EQ(decide_bind(wanted, AF_UNIX, SOCK_STREAM, {stream}).kind,
            BindVerdict::Kind::take_over);
  EXPECT_EQ(decide_bind(wanted, AF_UNIX, SOCK_DGRAM, {stream}).kind, BindVerdict::Kind::pass);
  wanted.path = "/run/other.sock";
  EXPECT_EQ(decide_bind(wanted, AF_UNIX, SOCK_STREAM, {stream}).kind, BindVerdict::Kind::pass);
}

TEST(BindTakeover, TheSockaddrIsReadNoFurtherThanItsFamilyNeeds) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(8080);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto parsed = parse_bind_address(&in, sizeof in);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(describe_bind_address(*parsed), "127.0.0.1:8080");
  EXPECT_FALSE(parse_bind_address(&in, sizeof in - 1)) << "shorter than a sockaddr_in";
  EXPECT_FALSE(parse_bind_address(&in, 1)) << "not even a family";

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(8000);
  const auto six = parse_bind_address(&in6, 24);  // RFC 2133's length: the kernel takes it
  ASSERT_TRUE(six);
  EXPECT_EQ(describe_bind_address(*six), "[::]:8000");

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, "/run/app.sock", 13);  // no NUL within the length given
  const auto path = parse_bind_address(&un, offsetof(sockaddr_un, sun_path) + 13);
  ASSERT_TRUE(path);
  EXPECT_EQ(path->path, "/run/app.sock");
  un.sun_path[0] = '\0';  // abstract: never a path reuserun holds
  EXPECT_EQ(parse_bind_address(&un, sizeof un)->path, "");

  sockaddr_storage other{};
  other.ss_family = AF_PACKET;
  EXPECT_FALSE(parse_bind_address(&other, sizeof other));
}

// The mechanism end to end without the loop: a child installs the filter and passes its fd,
// its bind() waits for the parent, and runs once let go.
TEST(BindTakeover, AChildsBindWaitsForTheParentAndRunsWhenLetGo) {
  auto filter = TakeoverFilter::build();
  ASSERT_TRUE(filter) << filter.error().message;
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pair[0]);
    install_takeover_filter(filter.value().program(), pair[1]);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::_exit(::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0 ? 0 : 1);
  }
  ::close(pair[1]);
  const UniqueFd report(pair[0]);
  pollfd readable{report.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 5000), 1);
  auto notifications = receive_takeover_fd(report.get());
  ASSERT_TRUE(notifications) << notifications.error().message;
  readable = {notifications.value().get(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 5000), 1) << "the child's bind() never reached the parent";
  std::vector<char> buffer(4096, 0);
  ASSERT_EQ(::ioctl(notifications.value().get(), SECCOMP_IOCTL_NOTIF_RECV, buffer.data()), 0);
  seccomp_notif notif{};
  std::memcpy(&notif, buffer.data(), sizeof notif);
  EXPECT_EQ(notif.data.nr, __NR_bind);
  EXPECT_EQ(static_cast<pid_t>(notif.pid), child);
  seccomp_notif_resp resp{};
  resp.id = notif.id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  ASSERT_EQ(::ioctl(notifications.value().get(), SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the bind, let go, failed";
}

}  // namespace
}  // namespace reuserun
