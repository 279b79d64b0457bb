// When reuserun recovers from a fatal signal of its own, and when it dies of it (issue 29).
#include "crash_policy.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(CrashPolicy, AFaultIsRecoveredThreeTimesAMinuteAndTheFourthIsFatal) {
  CrashHistory history;
  for (int crash = 1; crash <= 3; ++crash) {
    EXPECT_EQ(judge_crash(SIGSEGV, false, history, 100 * kSecond + crash * kSecond),
              CrashVerdict::recover);
    EXPECT_EQ(history.recoveries, crash);
    EXPECT_EQ(history.window_start_ns, 101 * kSecond) << "the window starts at the first";
  }
  EXPECT_EQ(judge_crash(SIGBUS, false, history, 150 * kSecond), CrashVerdict::die_too_many);
}

TEST(CrashPolicy, TheWindowStartsAgainAMinuteAfterItsFirstRecovery) {
  CrashHistory history;
  for (int crash = 0; crash < 3; ++crash)
    ASSERT_EQ(judge_crash(SIGSEGV, true, history, crash * kSecond), CrashVerdict::recover)
        << "a SIGSEGV someone sent is recovered too";
  EXPECT_EQ(judge_crash(SIGILL, false, history, 61 * kSecond), CrashVerdict::recover);
  EXPECT_EQ(history.recoveries, 1);
  EXPECT_EQ(history.window_start_ns, 61 * kSecond);
}

TEST(CrashPolicy, ASigabrtSentByAnotherProcessIsTheWatchdogsAndFatal) {
  CrashHistory history;
  EXPECT_EQ(judge_crash(SIGABRT, true, history, kSecond), CrashVerdict::die_asked);
  EXPECT_EQ(history.recoveries, 0);
  EXPECT_EQ(judge_crash(SIGABRT, false, history, kSecond), CrashVerdict::recover)
      << "abort() in reuserun itself is a bug, recovered";
}

}  // namespace
}  // namespace reuserun
