#include "reaper.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace reuserun {
namespace {

// Children that "exited", handed out one per wait, then 0 (none left right now).
struct FakeWait {
  std::deque<std::pair<pid_t, int>> exited;
  pid_t operator()(int* status) {
    if (exited.empty()) return 0;
    const auto [pid, wait_status] = exited.front();
    exited.pop_front();
    *status = wait_status;
    return pid;
  }
};

TEST(Reaper, CollectsEveryExitedChildInOneCall) {
  auto wait = std::make_shared<FakeWait>();
  wait->exited = {{10, 0}, {11, 256}, {12, 9}};
  std::vector<std::pair<pid_t, ExitStatus>> seen;
  Reaper reaper([&](pid_t pid, ExitStatus status) { seen.emplace_back(pid, status); },
                [wait](int* status) { return (*wait)(status); });
  reaper.reap();
  // Decoded once, here, for every reader: exit 0, exit 1, SIGKILL.
  EXPECT_EQ(seen, (std::vector<std::pair<pid_t, ExitStatus>>{{10, ExitStatus::exited(0)},
                                                             {11, ExitStatus::exited(1)},
                                                             {12, ExitStatus::killed(9)}}));
}

TEST(Reaper, RoutedPidGoesToItsHandlerOnceThenBackToTheDefault) {
  auto wait = std::make_shared<FakeWait>();
  std::vector<pid_t> by_default, by_route;
  Reaper reaper([&](pid_t pid, ExitStatus) { by_default.push_back(pid); },
                [wait](int* status) { return (*wait)(status); });
  reaper.route(20, [&](pid_t pid, ExitStatus) { by_route.push_back(pid); });
  wait->exited = {{20, 0}, {21, 0}};
  reaper.reap();
  wait->exited = {{20, 0}};  // a recycled pid later on
  reaper.reap();
  EXPECT_EQ(by_route, std::vector<pid_t>{20});
  EXPECT_EQ(by_default, (std::vector<pid_t>{21, 20}));
}

TEST(Reaper, UnroutedPidGoesToTheDefault) {
  auto wait = std::make_shared<FakeWait>();
  std::vector<pid_t> by_default;
  Reaper reaper([&](pid_t pid, ExitStatus) { by_default.push_back(pid); },
                [wait](int* status) { return (*wait)(status); });
  reaper.route(30, [](pid_t, ExitStatus) { FAIL() << "abandoned probe reported"; });
  reaper.unroute(30);
  wait->exited = {{30, 0}};
  reaper.reap();
  EXPECT_EQ(by_default, std::vector<pid_t>{30});
}

TEST(Reaper, AnExitIsHandledBeforeTheChildIsReleased) {
  // While the handler runs the child is a zombie: its pid, and its process group's id, still
  // name it, so a SIGKILL to the group's leftovers cannot reach a stranger.
  auto wait = std::make_shared<FakeWait>();
  wait->exited = {{30, 0}, {31, 0}};
  std::vector<std::string> order;
  Reaper reaper([&](pid_t pid, ExitStatus) { order.push_back("handled " + std::to_string(pid)); },
                [wait](int* status) { return (*wait)(status); },
                [&](pid_t pid) { order.push_back("released " + std::to_string(pid)); });
  reaper.reap();
  EXPECT_EQ(order,
            (std::vector<std::string>{"handled 30", "released 30", "handled 31", "released 31"}));
}

}  // namespace
}  // namespace reuserun
