// The promise: zero failed requests across 20 rolling restarts under continuous load, a new
// connection per request. The load is bounded in count and time and stays on loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kRestarts = 20;

TEST(ZeroDrop, TwentyRollingRestartsUnderLoadFailNoRequest) {
  Launch launch({}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);

  Load load(launch.port);
  std::set<pid_t> pids;
  for (int restart = 1; restart <= kRestarts; ++restart) {
    launch.process.signal(SIGHUP);
    const auto last = wait_for_restarts(launch.process.pid(), restart, 10s);
    ASSERT_TRUE(last && last->succeeded) << "restart " << restart;
    if (auto pid = serving_pid(launch.port)) pids.insert(*pid);
  }
  const Load::Result result = load.stop();

  std::printf("zero-drop: %d restarts, %ld requests, %ld failed, reuserun VmRSS %ld KiB\n",
              kRestarts, result.sent, result.failed, vm_rss_kib(launch.process.pid()));
  for (const auto& [kind, count] : result.failures)
    std::printf("  failed %s: %ld\n", kind.c_str(), count);
  RecordProperty("requests", std::to_string(result.sent));
  RecordProperty("failed", std::to_string(result.failed));
  EXPECT_EQ(result.failed, 0);
  EXPECT_GT(result.sent, kRestarts * 10) << "the load must really run across the restarts";
  EXPECT_GE(pids.size(), static_cast<std::size_t>(kRestarts / 2)) << "generations really changed";
  const auto status = ctl_status(launch.process.pid());
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->restarts, kRestarts) << "one restart per SIGHUP, none failed";
}

}  // namespace
}  // namespace rrtest
