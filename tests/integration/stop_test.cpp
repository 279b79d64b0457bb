// Stopping: SIGTERM/SIGINT end every generation and reuserun exits with a status that says how.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"

namespace rrtest {
namespace {

TEST(Stop, SigtermStopsTheChildExitsZeroAndLeavesNothingBehind) {
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  EXPECT_FALSE(process_exists(child));
  EXPECT_FALSE(serving_pid(launch.port).has_value()) << "the socket is closed";
}

TEST(Stop, SigintStopsLikeSigterm) {
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  launch.process.signal(SIGINT);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  EXPECT_FALSE(process_exists(child));
}

TEST(Stop, ChildIgnoringTheStopSignalIsKilledAfterTheStopTimeoutAndTheExitSaysSo) {
  Launch launch({"--stop-timeout", "300ms"}, {kTestServer, "--ignore-term"});
  const pid_t child = launch.wait_serving();
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 4);
  EXPECT_FALSE(process_exists(child));
}

TEST(Stop, SecondSignalKillsAtOnceInsteadOfWaitingForTheStopTimeout) {
  Launch launch({"--stop-timeout", "60s"}, {kTestServer, "--ignore-term"});
  const pid_t child = launch.wait_serving();
  launch.process.signal(SIGTERM);
  ASSERT_TRUE(wait_for_status(
      launch.process.pid(), [](const StatusView& status) { return status.state == "stopping"; },
      5s));
  launch.process.signal(SIGINT);
  EXPECT_EQ(launch.process.wait_exit(10s), 4);
  EXPECT_FALSE(process_exists(child));
}

TEST(Stop, StopDuringARestartEndsBothGenerations) {
  Launch launch({"--ready", "exec:[ \"$REUSERUN_GENERATION\" = 1 ]"}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(wait_for_status(
      launch.process.pid(), [](const StatusView& status) { return !status.pids_of(2).empty(); },
      5s));
  // Both generations, and at times the exec gate's probe: everything must go.
  const auto children = descendants(launch.process.pid());
  ASSERT_GE(children.size(), 2u);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  for (pid_t child : children) EXPECT_FALSE(process_exists(child)) << child;
}

TEST(Stop, WithPdeathsigASigkillOfReuserunLeavesNoChildListeningOnThePort) {
  Launch launch({"--pdeathsig"}, {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  launch.process.signal(SIGKILL);
  launch.process.wait_exit(5s);
  EXPECT_TRUE(wait_until([&] { return !process_exists(child); }, 5s))
      << "PR_SET_PDEATHSIG asks the orphan to stop";
  EXPECT_TRUE(wait_until([&] { return http_get(launch.port, "/", 1s).error == "refused"; }, 5s))
      << "nobody holds the port any more";
  // If it failed, the orphan is no longer below reuserun for the harness to find: end it here.
  if (process_exists(child)) ::kill(child, SIGKILL);
}

TEST(Stop, ByDefaultTheChildOutlivesAKilledReuserunAndKeepsServing) {
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  launch.process.signal(SIGKILL);
  launch.process.wait_exit(5s);
  EXPECT_EQ(serving_pid(launch.port), child) << "the orphan still serves on the inherited socket";
  // Not below reuserun any more, so not the harness's to find: end it here, by pid.
  ::kill(child, SIGKILL);
  EXPECT_TRUE(wait_until([&] { return !process_exists(child); }, 5s));
}

TEST(Cli, HelpAndVersionExitZeroAndBadValuesExitTwo) {
  Process help({kReuserun, "--help"});
  EXPECT_EQ(help.wait_exit(5s), 0);
  EXPECT_NE(help.log().find("--drain-timeout"), std::string::npos);
  Process version({kReuserun, "--version"});
  EXPECT_EQ(version.wait_exit(5s), 0);
  Process bad({kReuserun, "--port", "1", "--drain-timeout", "soon", "--", "x"});
  EXPECT_EQ(bad.wait_exit(5s), 2);
  EXPECT_EQ(bad.log(),
            "reuserun: invalid value 'soon' for --drain-timeout: expected a duration "
            "such as 500ms, 5s, 1.5s or 2m\n");
}

}  // namespace
}  // namespace rrtest
