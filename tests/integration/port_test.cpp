// Freeing the port: a stale listener is asked to leave (SIGTERM, then SIGKILL), and is named
// when the port stays busy.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"

namespace rrtest {
namespace {

// A server of the test's own that listens on `port` by itself, as a stale process would.
std::unique_ptr<Process> start_stale(int port, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{kTestServer, "--listen", std::to_string(port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto stale = std::make_unique<Process>(argv);
  EXPECT_TRUE(wait_until([&] { return serving_pid(port) == stale->pid(); }, 5s));
  return stale;
}

std::vector<std::string> reuserun_on(int port, std::vector<std::string> options) {
  std::vector<std::string> argv{
      kReuserun, "--port", std::to_string(port), "--bind", "127.0.0.1",
  };
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"--", kTestServer});
  return argv;
}

TEST(FreePort, StaleListenerIsAskedToLeaveAndLogged) {
  const int port = probe_free_port();
  auto stale = start_stale(port);
  Process launcher(reuserun_on(port, {}));
  EXPECT_EQ(stale->wait_exit(10s), 0) << "the stale server drains on SIGTERM";
  ASSERT_TRUE(wait_until_serving(launcher.pid(), 10s));
  const std::string log = launcher.log();
  EXPECT_NE(log.find("is held by pid " + std::to_string(stale->pid())), std::string::npos) << log;
  EXPECT_NE(log.find("--listen " + std::to_string(port)), std::string::npos)
      << "the victim's command line is logged";
  EXPECT_NE(log.find("sending SIGTERM"), std::string::npos);
  EXPECT_NE(log.find("--no-free-port leaves it alone"), std::string::npos)
      << "the line names the option that would have spared it (issue 27, finding 2)";
  const auto now = serving_pid(port);
  ASSERT_TRUE(now);
  EXPECT_NE(*now, stale->pid());
}

// Issue 27, finding 2: `reuserun --port P -- ./nosuch` SIGTERMed the user's own server on P (in
// another terminal), then exited 127 for a command that could never have run.
TEST(FreePort, ACommandThatCannotRunFreesNothing) {
  const int port = probe_free_port();
  auto stale = start_stale(port);
  TempDir dir;
  dir.write("not-executable", "#!/bin/sh\n");
  for (const auto& [command, status] : std::vector<std::pair<std::string, int>>{
           {dir.file("nosuch"), 127}, {dir.file("not-executable"), 126}, {"nosuch-xyz", 127}}) {
    Process launcher({kReuserun, "--port", std::to_string(port), "--bind", "127.0.0.1", "--",
                      command});
    EXPECT_EQ(launcher.wait_exit(10s), status) << command;
    EXPECT_TRUE(stale->running()) << command << ": the server on the port was signalled";
  }
  EXPECT_EQ(serving_pid(port), stale->pid());
}

TEST(FreePort, StaleReuseportListenerIsFreedTooOrItWouldStealConnections) {
  const int port = probe_free_port();
  auto stale = start_stale(port, {"--reuseport"});
  Process launcher(reuserun_on(port, {}));
  EXPECT_TRUE(stale->wait_exit(10s).has_value());
  EXPECT_TRUE(wait_until_serving(launcher.pid(), 10s));
}

TEST(FreePort, StaleListenerIgnoringSigtermIsKilledAfterTheStopTimeout) {
  const int port = probe_free_port();
  auto stale = start_stale(port, {"--ignore-term"});
  Process launcher(reuserun_on(port, {"--stop-timeout", "300ms"}));
  EXPECT_EQ(stale->wait_exit(10s), 128 + SIGKILL);
  EXPECT_TRUE(wait_until_serving(launcher.pid(), 10s));
  EXPECT_NE(launcher.log().find("sending SIGKILL"), std::string::npos);
}

TEST(FreePort, NoFreePortFailsWithExit3NamingTheHolderAndLeavesItAlone) {
  const int port = probe_free_port();
  auto stale = start_stale(port);
  Process launcher(reuserun_on(port, {"--no-free-port"}));
  EXPECT_EQ(launcher.wait_exit(10s), 3);
  const std::string log = launcher.log();
  EXPECT_NE(log.find("Failed to bind 127.0.0.1:" + std::to_string(port) +
                     ": Address already in use (held by pid " + std::to_string(stale->pid())),
            std::string::npos)
      << log;
  EXPECT_TRUE(stale->running());
  EXPECT_EQ(serving_pid(port), stale->pid());
}

TEST(FreePort, SighupWhileThePortIsBeingFreedDoesNotKillReuserun) {
  const int port = probe_free_port();
  auto stale = start_stale(port, {"--ignore-term"});
  Process launcher(reuserun_on(port, {"--stop-timeout", "1s"}));
  ASSERT_TRUE(launcher.wait_for_log("sending SIGTERM", 5s));
  launcher.signal(SIGHUP);  // nothing to restart yet: the first generation is not even started
  launcher.signal(SIGUSR1);
  EXPECT_TRUE(wait_until_serving(launcher.pid(), 10s));
  EXPECT_TRUE(launcher.running());
}

TEST(Bind, DefaultIsEveryAddressDualStack) {
  const int port = probe_free_port();
  Process launcher({kReuserun, "--port", std::to_string(port), "--", kTestServer});
  ASSERT_TRUE(wait_until_serving(launcher.pid(), 10s));
  EXPECT_TRUE(http_get(port, "/", 3s, Loopback::ipv4).ok);
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  EXPECT_NE(launcher.log().find("listening on [::]:" + std::to_string(port)), std::string::npos);
  EXPECT_TRUE(http_get(port, "/", 3s, Loopback::ipv6).ok);
}

TEST(Bind, Ipv6LiteralListensOnIpv6Only) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  const int port = probe_free_port();
  Process launcher({kReuserun, "--port", std::to_string(port), "--bind", "::1", "--", kTestServer});
  ASSERT_TRUE(launcher.wait_for_log("serving on [::1]:" + std::to_string(port), 10s));
  EXPECT_TRUE(http_get(port, "/", 3s, Loopback::ipv6).ok);
  EXPECT_EQ(http_get(port, "/", 3s, Loopback::ipv4).error, "refused");
}

TEST(FreePort, PortZeroLetsTheKernelPickOne) {
  Process launcher({kReuserun, "--port", "0", "--bind", "127.0.0.1", "--", kTestServer});
  // The control socket is named after the port the kernel picks: only the log says which.
  ASSERT_TRUE(launcher.wait_for_log("serving on", 10s));
  const std::string log = launcher.log();
  const auto at = log.find("listening on 127.0.0.1:");
  ASSERT_NE(at, std::string::npos);
  const int port = std::atoi(log.c_str() + at + std::string("listening on 127.0.0.1:").size());
  EXPECT_GT(port, 0);
  EXPECT_TRUE(serving_pid(port).has_value());
}

}  // namespace
}  // namespace rrtest
