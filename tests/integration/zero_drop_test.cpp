// The promise: zero failed requests across 20 rolling restarts under continuous load, a new
// connection per request. The load is bounded in count and time and stays on loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kRestarts = 20;
constexpr int kClients = 2;
constexpr long kMaxRequestsPerClient = 200000;
constexpr auto kMaxLoadTime = 90s;

TEST(ZeroDrop, TwentyRollingRestartsUnderLoadFailNoRequest) {
  Launch launch({}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0) << launch.process.log();

  std::atomic<bool> stop{false};
  std::atomic<long> sent{0};
  std::mutex errors_lock;
  std::map<std::string, long> failures;
  std::vector<std::thread> clients;
  const auto load_deadline = std::chrono::steady_clock::now() + kMaxLoadTime;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (long i = 0;
           i < kMaxRequestsPerClient && !stop && std::chrono::steady_clock::now() < load_deadline;
           ++i) {
        const HttpResult result = http_get(launch.port, "/", 5s);
        ++sent;
        if (!result.ok) {
          std::lock_guard lock(errors_lock);
          ++failures[result.error];
        }
      }
    });
  }

  std::set<pid_t> pids;
  for (int restart = 1; restart <= kRestarts; ++restart) {
    launch.process.signal(SIGHUP);
    ASSERT_TRUE(launch.process.wait_for_log("restart succeeded", 10s, restart))
        << launch.process.log();
    if (auto pid = serving_pid(launch.port)) pids.insert(*pid);
  }
  stop = true;
  for (auto& client : clients) client.join();

  long failed = 0;
  for (const auto& [kind, count] : failures) failed += count;
  std::printf("zero-drop: %d restarts, %ld requests, %ld failed, reuserun VmRSS %ld KiB\n",
              kRestarts, sent.load(), failed, vm_rss_kib(launch.process.pid()));
  for (const auto& [kind, count] : failures) std::printf("  failed %s: %ld\n", kind.c_str(), count);
  RecordProperty("requests", std::to_string(sent.load()));
  RecordProperty("failed", std::to_string(failed));
  EXPECT_EQ(failed, 0);
  EXPECT_GT(sent.load(), kRestarts * 10) << "the load must really run across the restarts";
  EXPECT_GE(pids.size(), static_cast<std::size_t>(kRestarts / 2)) << "generations really changed";
  EXPECT_EQ(launch.process.count_in_log("restart failed"), 0);
}

}  // namespace
}  // namespace rrtest
