// What `ctl status` and STATUS= say about the workers (lib/core/service_view.hpp), read off a
// supervisor driven through a first start, a restart and a stop.
#include "service_view.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace reuserun {
namespace {

Status status_of(const Supervisor& supervisor, bool restarted = false) {
  Status out;
  describe_workers(supervisor, 5'000'000'000, restarted,
                   [](WorkerKey key) { return key.generation == 2 ? "127.0.0.1:80" : ""; }, out);
  return out;
}

TEST(ServiceView, FollowsAWorkerFromStartingThroughServingRestartingAndStopping) {
  Supervisor supervisor(SupervisorConfig{});
  supervisor.handle(StartRequested{});
  supervisor.handle(ChildSpawned{1, 41, 0, 2'000'000'000});
  EXPECT_EQ(status_of(supervisor).state, "starting");
  EXPECT_EQ(status_of(supervisor, true).state, "down");  // after a restart: nothing serves
  EXPECT_EQ(describe_serving(supervisor), "no generation");

  supervisor.handle(GatePassed{1});
  Status serving = status_of(supervisor);
  EXPECT_EQ(serving.state, "serving");
  EXPECT_EQ(serving.serving, 1u);
  ASSERT_EQ(serving.generations.size(), 1u);
  EXPECT_EQ(serving.generations[0].pid, 41);
  EXPECT_DOUBLE_EQ(serving.generations[0].uptime_seconds, 3.0);
  EXPECT_EQ(describe_serving(supervisor), "generation 1 (pid 41)");
  EXPECT_EQ(serving_pids(supervisor), (std::vector<pid_t>{41}));

  supervisor.handle(RestartRequested{});
  supervisor.handle(ChildSpawned{2, 52});
  const Status restarting = status_of(supervisor);
  EXPECT_EQ(restarting.state, "restarting");
  ASSERT_EQ(restarting.generations.size(), 2u);
  EXPECT_EQ(restarting.generations[1].bound_itself, "127.0.0.1:80");
  EXPECT_EQ(restarting.generations[1].uptime_seconds, 0.0);  // no spawn time known
  EXPECT_EQ(describe_workers_left(supervisor), "generation 1 (pid 41), generation 2 (pid 52)");

  supervisor.handle(SignalReceived{SIGTERM});
  EXPECT_EQ(status_of(supervisor).state, "stopping");
  EXPECT_TRUE(serving_pids(supervisor).empty());
}

}  // namespace
}  // namespace reuserun
