// --listen and --protocol: several sockets of every kind, handed over in order with their names,
// each served by a real client; every child protocol consumed the way its real users read it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

// GET / over a unix socket; the body, or "" when nothing answered.
std::string unix_get(const std::string& path, const std::string& target = "/") {
  const std::string answer = unix_exchange(path, "GET " + target + " HTTP/1.0\r\n\r\n");
  const auto body = answer.find("\r\n\r\n");
  return answer.rfind("HTTP/1.0 200", 0) == 0 && body != std::string::npos ? answer.substr(body + 4)
                                                                           : "";
}

struct stat stat_of(const std::string& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info;
}

TEST(Listen, EveryKindOfListenerIsHandedOverInOrderWithItsNameAndServed) {
  TempDir dir;
  const int v4 = probe_free_port();
  const int v6 = probe_free_port();
  const bool ipv6 = has_ipv6_loopback();
  const std::string unix_path = dir.file("app.sock");
  std::vector<std::string> options{"--listen", "127.0.0.1:" + std::to_string(v4) + ",name=v4"};
  if (ipv6) options.insert(options.end(), {"--listen", "[::1]:" + std::to_string(v6) + ",name=v6"});
  options.insert(options.end(), {"--listen", "unix:" + unix_path + ",name=local,mode=0660"});
  Launch launch(options, {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);

  const std::string info = http_get(launch.port, "/info").body;
  EXPECT_NE(info.find(ipv6 ? "LISTEN_FDS=4\n" : "LISTEN_FDS=3\n"), std::string::npos) << info;
  EXPECT_NE(info.find(ipv6 ? "LISTEN_FDNAMES=reuserun:v4:v6:local\n"
                           : "LISTEN_FDNAMES=reuserun:v4:local\n"),
            std::string::npos)
      << info;
  EXPECT_EQ(serving_pid(v4), child);
  if (ipv6)
    EXPECT_TRUE(http_get(v6, "/", 3s, Loopback::ipv6).ok);
  else
    std::cout << "no IPv6 loopback here: the [::1] listener is left out\n";
  EXPECT_NE(unix_get(unix_path).find("pid=" + std::to_string(child)), std::string::npos);
  EXPECT_TRUE(S_ISSOCK(stat_of(unix_path).st_mode));
  EXPECT_EQ(stat_of(unix_path).st_mode & 0777, 0660u);

  // A restart hands the same sockets to the next generation.
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  // (the old generation may take a connection or two before its stop signal is handled)
  EXPECT_TRUE(wait_until(
      [&] { return unix_get(unix_path).find("generation=2") != std::string::npos; }, 5s));
  EXPECT_TRUE(
      wait_until([&] { return http_get(v4).body.find("generation=2") != std::string::npos; }, 5s));

  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  EXPECT_EQ(stat_of(unix_path).st_mode, 0u) << "the unix socket file is removed at exit";
}

TEST(Listen, UnixSocketOwnerIsApplied) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the socket to another user";
  TempDir dir;
  const std::string path = dir.file("app.sock");
  Launch launch({"--listen", "unix:" + path + ",owner=nobody:nogroup"}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_EQ(stat_of(path).st_uid, 65534u);
  EXPECT_EQ(stat_of(path).st_gid, 65534u);
}

TEST(Listen, AStaleUnixSocketIsReplacedAndALiveOneRefused) {
  TempDir dir;
  const std::string path = dir.file("app.sock");
  {
    Launch killed({"--listen", "unix:" + path, "--pdeathsig"}, {kTestServer});
    ASSERT_GT(killed.wait_serving(), 0);
    killed.process.signal(SIGKILL);
    ASSERT_TRUE(killed.process.wait_exit(10s));
  }
  ASSERT_TRUE(S_ISSOCK(stat_of(path).st_mode)) << "left behind by SIGKILL";
  Launch second({"--listen", "unix:" + path}, {kTestServer});
  const pid_t child = second.wait_serving();
  ASSERT_GT(child, 0);
  EXPECT_NE(unix_get(path).find("pid=" + std::to_string(child)), std::string::npos);

  Launch third({"--listen", "unix:" + path}, {kTestServer});
  EXPECT_EQ(third.process.wait_exit(10s), 3);
  EXPECT_NE(third.process.log().find("another process listens on it"), std::string::npos);
  EXPECT_NE(unix_get(path).find("pid=" + std::to_string(child)), std::string::npos)
      << "the running one keeps its socket";
}

TEST(Listen, Ipv6OnlyLeavesIpv4Out) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  const int port = probe_free_port();
  Launch launch({"--listen", "[::]:" + std::to_string(port), "--ipv6-only"}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_TRUE(http_get(port, "/", 3s, Loopback::ipv6).ok);
  EXPECT_EQ(http_get(port, "/", 3s, Loopback::ipv4).error, "refused");
}

struct ProtocolCase {
  const char* protocol;
  std::vector<std::string> lines;  // what the child saw; "{port}" is the admin socket's port
};
void PrintTo(const ProtocolCase& c, std::ostream* out) { *out << c.protocol; }

class Protocols : public ::testing::TestWithParam<ProtocolCase> {};

TEST_P(Protocols, TheChildFindsItsSocketsThroughIt) {
  const int second = probe_free_port();
  Launch launch({"--protocol", GetParam().protocol, "--listen",
                 "127.0.0.1:" + std::to_string(second) + ",name=admin"},
                {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  const std::string info = http_get(launch.port, "/info").body;
  EXPECT_NE(info.find(std::string("protocol=") + GetParam().protocol), std::string::npos) << info;
  EXPECT_NE(info.find("LISTEN_FDS=\n"), std::string::npos) << "systemd's variables only on request";
  EXPECT_EQ(serving_pid(second), child) << "both sockets served";
  for (std::string line : GetParam().lines) {
    if (const auto at = line.find("{port}"); at != std::string::npos)
      line.replace(at, 6, std::to_string(second));
    if (const auto at = line.find("{first}"); at != std::string::npos)
      line.replace(at, 7, std::to_string(launch.port));
    EXPECT_NE(info.find(line + "\n"), std::string::npos) << line << "\n" << info;
  }
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Each, Protocols,
    ::testing::Values(ProtocolCase{"einhorn",
                                   {"EINHORN_FD_COUNT=2", "EINHORN_FD_0=3", "EINHORN_FD_1=4"}},
                      ProtocolCase{"server-starter",
                                   {"SERVER_STARTER_PORT=127.0.0.1:{first}=3;127.0.0.1:{port}=4",
                                    "SERVER_STARTER_GENERATION=1"}},
                      ProtocolCase{"nginx", {"NGINX=3;4;"}}),
    [](const auto& info) {
      std::string name = info.param.protocol;
      name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
      return name;
    });

// The file status flags of `pid`'s fd `fd` (octal in /proc/PID/fdinfo), or -1.
long fd_flags(pid_t pid, int fd) {
  const std::string info =
      read_text("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
  const auto at = info.find("flags:");
  return at == std::string::npos ? -1 : std::strtol(info.c_str() + at + 6, nullptr, 8);
}

// nginx never makes an inherited socket non-blocking (its own upgrade hands it so); on a
// blocking one, a worker woken with others blocks in accept() and requests wait.
TEST(Protocols, NginxGetsItsSocketsNonBlockingTheOthersAsBound) {
  for (const bool nginx : {false, true}) {
    std::vector<std::string> options = {"--ready", "exec:true"};
    if (nginx) options.insert(options.end(), {"--protocol", "nginx"});
    Launch launch(options, {"/bin/sleep", "30"});  // a child that leaves its fds as handed
    const auto status = wait_for_status(
        launch.process.pid(), [](const StatusView& now) { return now.serving.has_value(); }, 10s);
    ASSERT_TRUE(status);
    const auto pids = status->pids_of(1);
    ASSERT_EQ(pids.size(), 1u);
    const long flags = fd_flags(pids.front(), 3);
    ASSERT_GE(flags, 0);
    EXPECT_EQ((flags & O_NONBLOCK) != 0, nginx) << "flags 0" << std::oct << flags;
  }
}

TEST(Protocols, FdMarkersInTheCommandBecomeTheSocketsFd) {
  const int admin = probe_free_port();
  // Only the admin socket (fd 4), through the child's own --fd option.
  // The gates probe the first socket, which this child leaves alone: exec:true instead.
  Launch launch(
      {"--listen", "127.0.0.1:" + std::to_string(admin) + ",name=admin", "--ready", "exec:true"},
      {kTestServer, "--fd", "{fd:admin}"});
  ASSERT_TRUE(wait_until_serving(launch.process.pid(), 10s));
  EXPECT_NE(http_get(admin, "/info").body.find("protocol=fd"), std::string::npos);
  EXPECT_NE(http_get(admin, "/info").body.find("\nfd 4 socket:["), std::string::npos);

  Launch typo({}, {kTestServer, "--fd", "{fd:admn}"});
  EXPECT_EQ(typo.process.wait_exit(10s), 2);
  EXPECT_NE(typo.process.log().find("no socket is named admn"), std::string::npos);
}

}  // namespace
}  // namespace rrtest
