// A crash of reuserun itself costs no request (issue 29; man/reuserun.1, FAULTS): a fatal signal
// of its own is recovered in place, with the same pid, and a fresh generation replaces the
// children the crashed image left; more than a few in a minute, or a SIGABRT that another
// process sent (systemd's watchdog), end it with that signal.
#include <gtest/gtest.h>
#include <signal.h>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

// Waits until reuserun says it recovered in place `count` times in the current window and
// serves a generation newer than `than`; the status that said so.
std::optional<StatusView> wait_for_recovery(pid_t reuserun, int count, int than) {
  const std::string detail = "recovery " + std::to_string(count) + " of";
  return wait_for_status(
      reuserun,
      [&](const StatusView& status) {
        return status.recovery == "in-place" &&
               status.recovery_detail.find(detail) != std::string::npos && status.serving &&
               *status.serving > than && !status.generation_in("draining") &&
               !status.generation_in("starting");
      },
      15s);
}

TEST(Crash, ThreeSegfaultsUnderLoadAreRecoveredInPlaceWithoutAFailedRequest) {
  Launch launch({}, {kTestServer});
  const pid_t first = launch.wait_serving();
  Load load(launch.port);
  ASSERT_TRUE(load.wait_for_requests(200));
  int serving = 1;
  for (int crash = 1; crash <= 3; ++crash) {
    launch.process.signal(SIGSEGV);
    const auto status = wait_for_recovery(launch.process.pid(), crash, serving);
    ASSERT_TRUE(status) << "crash " << crash << " was not recovered in time";
    serving = *status->serving;
    ASSERT_TRUE(load.wait_for_requests(load.sent() + 200));
  }
  const Load::Result result = load.stop();
  std::printf("3 x SIGSEGV: %ld requests, %ld failed\n", result.sent, result.failed);
  EXPECT_EQ(result.failed, 0);
  EXPECT_TRUE(launch.process.running()) << "the same pid serves";
  const auto pid = serving_pid(launch.port);
  ASSERT_TRUE(pid);
  EXPECT_NE(*pid, first) << "a fresh generation replaced the crashed image's";
  EXPECT_FALSE(process_exists(first)) << "the crashed image's generation drained and exited";
  EXPECT_TRUE(child_pids(launch.process.pid()).size() == 1) << "one worker, no core copy left";
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Crash, AFourthSegfaultWithinAMinuteEndsReuserunWithTheSignal) {
  Launch launch({}, {kTestServer});
  launch.wait_serving();
  int serving = 1;
  for (int crash = 1; crash <= 3; ++crash) {
    launch.process.signal(SIGSEGV);
    const auto status = wait_for_recovery(launch.process.pid(), crash, serving);
    ASSERT_TRUE(status) << "crash " << crash;
    serving = *status->serving;
  }
  const pid_t last = *serving_pid(launch.port);
  launch.process.signal(SIGSEGV);
  EXPECT_EQ(launch.process.wait_exit(10s), 128 + SIGSEGV)
      << "systemd's Restart= and the logs see the crash";
  EXPECT_TRUE(launch.process.wait_for_log("more than 3 recoveries in 60 s", 1s));
  // Its generation outlives it (adopted by the next reuserun for the port): the test ends it.
  if (process_exists(last)) ::kill(last, SIGKILL);
}

TEST(Crash, ASigabrtFromAnotherProcessIsNotRecovered) {
  // systemd's watchdog sends SIGABRT (WatchdogSignal=): a hung reuserun must die of it.
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  launch.process.signal(SIGABRT);
  EXPECT_EQ(launch.process.wait_exit(10s), 128 + SIGABRT);
  if (process_exists(child)) ::kill(child, SIGKILL);
}

}  // namespace
}  // namespace rrtest
