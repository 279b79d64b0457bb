// --workers: several children per generation sharing the sockets, replaced one by one on a
// restart (a new worker ready, then an old one drains), a crashed one respawned alone, each one
// visible in `ctl status`.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>

#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kWorkers = 4;

std::vector<pid_t> sorted(std::vector<pid_t> pids) {
  std::sort(pids.begin(), pids.end());
  return pids;
}

class Workers : public ::testing::Test {
 protected:
  Workers()
      : launch({"--workers", std::to_string(kWorkers), "--control-socket", dir.file("ctl.sock")},
               {kTestServer}) {}
  std::string status() const {
    return run_captured({kReuserun, "ctl", "--control-socket", dir.file("ctl.sock"), "status"}).out;
  }
  bool settled() {  // every worker of one generation serves, nothing drains
    return child_pids(launch.process.pid()).size() == kWorkers;
  }

  TempDir dir;
  Launch launch;
};

TEST_F(Workers, FourWorkersAreRolledUnderLoadWithZeroFailedRequests) {
  ASSERT_GT(launch.wait_serving(), 0);
  const auto first = sorted(child_pids(launch.process.pid()));
  ASSERT_EQ(first.size(), static_cast<std::size_t>(kWorkers));

  const auto restarts = restart_under_load(launch.process, launch.port, 3, "4 workers");
  EXPECT_EQ(restarts.succeeded, 3);
  EXPECT_EQ(restarts.load.failed, 0);
  // One at a time: each old worker was told to drain only after a new one was ready.
  EXPECT_EQ(launch.process.count_in_log("draining for up to"), 3 * kWorkers);
  ASSERT_TRUE(wait_until([&] { return settled(); }, 15s));
  const auto last = sorted(child_pids(launch.process.pid()));
  for (pid_t pid : last)
    EXPECT_FALSE(std::binary_search(first.begin(), first.end(), pid)) << "all replaced";
  const std::string text = status();
  for (int worker = 0; worker < kWorkers; ++worker)
    EXPECT_NE(text.find("generation 4 worker " + std::to_string(worker) + ": pid "),
              std::string::npos)
        << text;
}

TEST_F(Workers, ACrashedWorkerIsRespawnedAloneAndTheOthersServeOn) {
  ASSERT_GT(launch.wait_serving(), 0);
  const auto before = sorted(child_pids(launch.process.pid()));
  ASSERT_EQ(before.size(), static_cast<std::size_t>(kWorkers));
  Load load(launch.port);
  ASSERT_TRUE(load.wait_for_requests(20));
  ::kill(before[1], SIGKILL);
  const pid_t killed = before[1];
  const auto respawned = wait_for_status(
      launch.process.pid(),
      [&](const StatusView& status) {
        const auto pids = status.pids_of(1);
        return pids.size() == static_cast<std::size_t>(kWorkers) &&
               std::find(pids.begin(), pids.end(), killed) == pids.end() &&
               std::all_of(status.generations.begin(), status.generations.end(),
                           [](const GenerationView& worker) { return worker.state == "serving"; });
      },
      10s);
  ASSERT_TRUE(respawned.has_value()) << "the worker is replaced and serves again";
  const auto result = load.stop();
  const auto after = sorted(child_pids(launch.process.pid()));
  ASSERT_EQ(after.size(), static_cast<std::size_t>(kWorkers));
  int kept = 0;
  for (pid_t pid : before) kept += std::binary_search(after.begin(), after.end(), pid);
  EXPECT_EQ(kept, kWorkers - 1) << "only the crashed one was replaced";
  EXPECT_EQ(respawned->generations.size(), static_cast<std::size_t>(kWorkers))
      << "no new generation for that";
  EXPECT_EQ(respawned->restarts, 0);
  std::printf("one of 4 workers killed under load: %ld requests, %ld failed\n", result.sent,
              result.failed);
  // A SIGKILLed worker loses the connections it had accepted: that much is the crash's, no more.
  EXPECT_LE(result.failed, 2);
}

}  // namespace
}  // namespace rrtest
