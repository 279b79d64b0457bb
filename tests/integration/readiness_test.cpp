// Readiness gates against real children: each gate passes for a good child and fails, with the
// old generation serving and no request lost, for a child that never accepts or dies early.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "harness.hpp"

namespace rrtest {
namespace {

class EveryGate : public ::testing::TestWithParam<std::string> {
 protected:
  // The child arguments that make a good child for this gate.
  std::string good_args() const { return GetParam() == "notify" ? "--notify" : ""; }
};

INSTANTIATE_TEST_SUITE_P(Gates, EveryGate,
                         ::testing::Values("auto", "notify", "accept", "http:/", "exec:true",
                                           "delay:200ms"),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.find(':'));
                           return name;
                         });

TEST_P(EveryGate, PassesForAGoodChild) {
  TwoGenerations generations({"--ready", GetParam()}, good_args(), good_args());
  ASSERT_GT(generations.first, 0);
  ASSERT_TRUE(generations.restart());
  std::optional<pid_t> now;
  EXPECT_TRUE(wait_until(
      [&] { return (now = serving_pid(generations.launch->port)) && *now != generations.first; },
      5s));
}

// The gates that look at the child itself (not the ones that only wait or run a command).
class ObservingGate : public EveryGate {};
INSTANTIATE_TEST_SUITE_P(Gates, ObservingGate,
                         ::testing::Values("auto", "notify", "accept", "http:/"),
                         [](const auto& info) {
                           return info.param.substr(0, info.param.find(':'));
                         });

TEST_P(ObservingGate, FailsForAChildThatNeverAcceptsAndNoRequestIsLost) {
  TwoGenerations generations({"--ready", GetParam(), "--ready-timeout", "1500ms"}, "--no-accept",
                             good_args());
  ASSERT_GT(generations.first, 0);
  Load load(generations.launch->port);
  ASSERT_TRUE(load.wait_for_requests(20));
  EXPECT_FALSE(generations.restart());
  const auto result = load.stop();
  EXPECT_EQ(result.failed, 0) << result.sent << " requests";
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
  // The reason names the gate that waited and what it saw.
  const std::string gate = GetParam() == "auto" ? "wait" : GetParam().substr(0, 4);
  const auto last = generations.last_restart();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->outcome, "timed-out");
  EXPECT_TRUE(last->reason.starts_with("not ready within 1.5s (--ready-timeout): " + gate))
      << last->reason;
}

TEST_P(ObservingGate, FailsForAChildThatExitsAfter1500msAndNoRequestIsLost) {
  TwoGenerations generations({"--ready", GetParam(), "--ready-timeout", "10s"},
                             "--no-accept --exit-after 1500", good_args());
  ASSERT_GT(generations.first, 0);
  Load load(generations.launch->port);
  EXPECT_FALSE(generations.restart());
  const auto result = load.stop();
  EXPECT_EQ(result.failed, 0) << result.sent << " requests";
  EXPECT_NE(generations.log().find("exited with status 3 before it was ready"), std::string::npos);
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
}

TEST(Readiness, DelayGateFailsForAChildThatExitsBeforeTheDelay) {
  TwoGenerations generations({"--ready", "delay:2s"}, "--exit-after 1500");
  ASSERT_GT(generations.first, 0);
  EXPECT_FALSE(generations.restart());
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
}

TEST(Readiness, HttpGateFailsWhenTheNewChildAnswers500) {
  TwoGenerations generations({"--ready", "http:/health", "--ready-timeout", "1s"}, "--status 500");
  ASSERT_GT(generations.first, 0);
  EXPECT_FALSE(generations.restart());
  EXPECT_NE(generations.log().find("last answer from the new generation: HTTP/1.1 500"),
            std::string::npos);
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
}

// Issue 27, finding 7: the http gate was silent until --ready-timeout (30 s by default) although
// its first probe had got a 404. The first wrong answer is said at once.
TEST(Readiness, HttpGateSaysAWrongAnswerAtOnce) {
  const int port = probe_free_port();
  Process reuserun({kReuserun, "--port", std::to_string(port), "--bind", "127.0.0.1", "--ready",
                    "http:/health", "--ready-timeout", "30s", "--", kTestServer, "--status",
                    "404"});
  EXPECT_TRUE(reuserun.wait_for_log("GET /health answered \"HTTP/1.1 404", 5s)) << reuserun.log();
  EXPECT_EQ(reuserun.count_in_log("answered \"HTTP/1.1 404"), 1) << "once, not per probe";
  reuserun.signal(SIGTERM);
  EXPECT_TRUE(reuserun.wait_exit(20s).has_value());
}

TEST(Readiness, HttpGateSendsTheReadyHost) {
  TwoGenerations with_host({"--ready", "http:/", "--ready-host", "app.example"},
                           "--require-host app.example");
  ASSERT_GT(with_host.first, 0);
  EXPECT_TRUE(with_host.restart());

  TwoGenerations without({"--ready", "http:/", "--ready-timeout", "1s"},
                         "--require-host app.example");
  ASSERT_GT(without.first, 0);
  EXPECT_FALSE(without.restart());
  EXPECT_NE(without.log().find("HTTP/1.1 400"), std::string::npos);
}

TEST(Readiness, AcceptGateIsNotFooledWhileTheOldChildKeepsAccepting) {
  TwoGenerations generations(
      {"--ready", "accept", "--ready-timeout", "1s", "--ready-interval", "20ms"}, "--no-accept");
  ASSERT_GT(generations.first, 0);
  Load load(generations.launch->port, 1);
  EXPECT_FALSE(generations.restart());
  load.stop();
  EXPECT_NE(generations.log().find("accepted by pid " + std::to_string(generations.first) +
                                   " (not generation 2)"),
            std::string::npos);
}

// Sends one sd_notify datagram from this (unrelated) process.
void send_notify(const std::string& path, const std::string& message) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (path[0] == '@') address.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&address),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size()));
  ::close(fd);
}

std::string environment_value(pid_t pid, const std::string& key) {
  const std::string environ = read_text("/proc/" + std::to_string(pid) + "/environ");
  for (std::size_t at = 0; at < environ.size(); at = environ.find('\0', at) + 1) {
    if (environ.compare(at, key.size() + 1, key + "=") == 0)
      return environ.substr(at + key.size() + 1, environ.find('\0', at) - at - key.size() - 1);
    if (environ.find('\0', at) == std::string::npos) break;
  }
  return "";
}

TEST(Readiness, NotifyGateIgnoresReadyFromAnUnrelatedProcess) {
  TwoGenerations generations(
      {"--ready", "notify", "--ready-timeout", "1500ms", "--log-level", "debug"}, "",
      "--notify");  // generation 2 never sends READY=1 itself
  ASSERT_GT(generations.first, 0);
  generations.launch->process.signal(SIGHUP);
  ASSERT_TRUE(wait_for_status(
      generations.launch->process.pid(),
      [](const StatusView& status) { return !status.pids_of(2).empty(); }, 5s));
  pid_t second = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        for (pid_t child : child_pids(generations.launch->process.pid()))
          if (child != generations.first) second = child;
        return second != 0 && !environment_value(second, "NOTIFY_SOCKET").empty();
      },
      5s));
  send_notify(environment_value(second, "NOTIFY_SOCKET"), "READY=1");
  const auto last = wait_for_restarts(generations.launch->process.pid(), 1, 10s);
  ASSERT_TRUE(last.has_value());
  EXPECT_FALSE(last->succeeded) << last->reason;
  EXPECT_NE(
      generations.log().find("ignored an sd_notify message from pid " + std::to_string(::getpid())),
      std::string::npos);
}

TEST(Readiness, StatusFromTheChildIsLogged) {
  Launch launch({"--ready", "notify"}, {kTestServer, "--notify"});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_TRUE(launch.process.wait_for_log("status: accepting connections", 5s));
}

// With the bind takeover turned off: with it, a child that binds the port gets the shared socket.
TEST(Adoption, ChildListeningByItselfIsReported) {
  TwoGenerations generations({"--ready", "delay:300ms", "--no-bind-takeover"}, "");
  ASSERT_GT(generations.first, 0);
  generations.dir.write("args",
                        "--listen " + std::to_string(generations.launch->port) + " --reuseport");
  EXPECT_TRUE(generations.restart());
  EXPECT_NE(generations.log().find("with a socket of its own instead of the inherited fd 3"),
            std::string::npos);
}

TEST(Adoption, StrictAdoptionFailsAChildListeningByItself) {
  TwoGenerations generations({"--ready", "delay:300ms", "--strict-adoption", "--no-bind-takeover"},
                             "");
  ASSERT_GT(generations.first, 0);
  generations.dir.write("args",
                        "--listen " + std::to_string(generations.launch->port) + " --reuseport");
  EXPECT_FALSE(generations.restart());
  EXPECT_NE(generations.log().find("(--strict-adoption)"), std::string::npos);
  // The rejected generation holds its own reuseport socket until its SIGTERM takes effect, and
  // may answer until then (the intrusion being tested); once it is gone, only the old one serves.
  EXPECT_TRUE(
      wait_until([&] { return child_pids(generations.launch->process.pid()).size() == 1; }, 10s));
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
}

}  // namespace
}  // namespace rrtest
