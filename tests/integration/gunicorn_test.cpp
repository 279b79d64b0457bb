// A real, unmodified server: Debian's gunicorn takes the socket through LISTEN_FDS (it checks
// LISTEN_PID) and speaks sd_notify. Restarted under load through reuserun, no request may fail.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kRestarts = 5;

TEST(Gunicorn, RestartsUnderLoadWithZeroFailedRequests) {
  if (::access("/usr/bin/gunicorn", X_OK) != 0)
    GTEST_SKIP() << "gunicorn is not installed (scripts/deps installs it)";
  // The default gate: gunicorn's arbiter sends READY=1 before its workers accept, so auto also
  // waits for a worker of the new generation to accept a probe.
  // --stop-timeout above gunicorn's own --graceful-timeout: an arbiter stopped while it still
  // boots a worker waits out its graceful timeout (seen in CI: SIGKILL at 5 s, exit 4).
  Launch launch({"--stop-timeout", "10s"},
                {"/usr/bin/gunicorn", "--workers", "2", "--graceful-timeout", "5", "--chdir",
                 kSupportDir, "pid_app:app"});
  const pid_t first = launch.wait_serving(20s);
  ASSERT_GT(first, 0);
  EXPECT_EQ(std::vector<pid_t>{first}, child_pids(launch.process.pid()))
      << "the arbiter is the generation; its workers answer for it";

  const auto restarts = restart_under_load(launch.process, launch.port, kRestarts, "gunicorn");
  EXPECT_EQ(restarts.succeeded, kRestarts);
  EXPECT_EQ(restarts.load.failed, 0);
  EXPECT_NE(serving_pid(launch.port), first);
  const auto status = ctl_status(launch.process.pid());
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->restarts, kRestarts) << "one restart per SIGHUP, none failed";

  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(20s), 0);
}

}  // namespace
}  // namespace rrtest
