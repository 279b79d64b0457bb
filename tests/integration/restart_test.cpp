// Rolling restarts: the pid switches on SIGHUP, a bad new generation is rolled back while the old
// one keeps serving, a draining child that ignores SIGTERM is killed, a crash is respawned.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "harness.hpp"

namespace rrtest {
namespace {

TEST(Restart, SighupSwitchesTheServingPidAndTheOldChildExits) {
  Launch launch({}, {kTestServer});
  const pid_t old = launch.wait_serving();
  ASSERT_GT(old, 0);
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  std::optional<pid_t> now;
  ASSERT_TRUE(wait_until([&] { return (now = serving_pid(launch.port)) && *now != old; }, 5s));
  EXPECT_TRUE(wait_until([&] { return !process_exists(old); }, 5s));
  // Exited is not yet reaped: reuserun collects it within moments.
  EXPECT_TRUE(
      wait_until([&] { return child_pids(launch.process.pid()) == std::vector<pid_t>{*now}; }, 5s))
      << "exactly one generation left";
}

TEST(Restart, NewGenerationThatExitsAtOnceIsRolledBackAndTheOldKeepsServing) {
  TwoGenerations generations({}, "--exit-after 0");
  ASSERT_GT(generations.first, 0);
  EXPECT_FALSE(generations.restart());
  EXPECT_NE(generations.log().find("exited with status 3 before it was ready"), std::string::npos);
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
  EXPECT_EQ(child_pids(generations.launch->process.pid()), std::vector<pid_t>{generations.first});
}

TEST(Restart, NewGenerationThatNeverGetsReadyIsKilledAfterTheReadyTimeout) {
  Launch launch({"--ready-timeout", "1s", "--ready-interval", "50ms", "--ready",
                 "exec:[ \"$REUSERUN_GENERATION\" = 1 ]"},
                {kTestServer});
  const pid_t old = launch.wait_serving();
  ASSERT_GT(old, 0);
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::failed, 10s));
  EXPECT_NE(launch.process.log().find("not ready within 1s"), std::string::npos);
  EXPECT_EQ(serving_pid(launch.port), old);
  EXPECT_TRUE(wait_until([&] { return child_pids(launch.process.pid()).size() == 1; }, 5s))
      << "the failed generation is gone";
}

TEST(Restart, ExecGateSeesTheNewChildsPid) {
  TempDir dir;
  Launch launch({"--ready", "exec:echo $REUSERUN_CHILD_PID > " + dir.file("gate-pid")},
                {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  std::ifstream file(dir.file("gate-pid"));
  pid_t seen = 0;
  file >> seen;
  EXPECT_EQ(seen, child);
}

TEST(Restart, DrainTimeoutKillsAnOldChildThatIgnoresSigterm) {
  TwoGenerations generations({"--drain-timeout", "500ms"}, "", "--ignore-term");
  ASSERT_GT(generations.first, 0);
  ASSERT_TRUE(generations.restart());
  EXPECT_TRUE(wait_until([&] { return !process_exists(generations.first); }, 10s));
  EXPECT_NE(generations.log().find("still running after 500ms: SIGKILL"), std::string::npos);
  // Reaped and reported after it died: a moment after it is gone from /proc.
  EXPECT_TRUE(generations.launch->process.wait_for_log("was killed by SIGKILL (draining)", 5s));
}

TEST(Restart, CrashedChildIsRespawned) {
  TempDir dir;
  dir.write("args", "--exit-after 300");
  Launch launch({}, server_with_args_from(dir.file("args")));
  const pid_t first = launch.wait_serving();
  ASSERT_GT(first, 0);
  dir.write("args", "");
  ASSERT_TRUE(launch.process.wait_for_log("while serving", 10s));
  std::optional<pid_t> now;
  EXPECT_TRUE(wait_until([&] { return (now = serving_pid(launch.port)) && *now != first; }, 10s));
  EXPECT_NE(launch.process.log().find("no generation is serving: starting a new one in 100ms"),
            std::string::npos);
}

TEST(Restart, TheDocumentedSignalsAreForwardedToTheServingChild) {
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  for (int sig : {SIGUSR1, SIGWINCH, SIGTTIN, SIGTTOU}) launch.process.signal(sig);
  const std::string forwarded = "USR1=1 USR2=0 WINCH=1 TTIN=1 TTOU=1\n";
  EXPECT_TRUE(wait_until([&] { return http_get(launch.port, "/signals").body == forwarded; }, 5s))
      << http_get(launch.port, "/signals").body;
  EXPECT_EQ(serving_pid(launch.port), child);
}

}  // namespace
}  // namespace rrtest
