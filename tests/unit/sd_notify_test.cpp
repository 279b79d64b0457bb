// systemd's watchdog settings, as sd_watchdog_enabled(3) reads them.
#include "sd_notify.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

using std::chrono::milliseconds;

TEST(Watchdog, TheIntervalComesFromWatchdogUsecWhenThePidIsOursOrAbsent) {
  EXPECT_EQ(watchdog_interval("3000000", nullptr, 42), milliseconds(3000));
  EXPECT_EQ(watchdog_interval("3000000", "", 42), milliseconds(3000));
  EXPECT_EQ(watchdog_interval("3000000", "42", 42), milliseconds(3000));
  EXPECT_EQ(watchdog_interval("500", nullptr, 42), milliseconds(1)) << "never zero";
}

TEST(Watchdog, AnotherProcessesWatchdogOrAMalformedValueIsNotOurs) {
  EXPECT_FALSE(watchdog_interval("3000000", "41", 42).has_value()) << "meant for another pid";
  EXPECT_FALSE(watchdog_interval(nullptr, nullptr, 42).has_value());
  EXPECT_FALSE(watchdog_interval("0", nullptr, 42).has_value());
  EXPECT_FALSE(watchdog_interval("3s", nullptr, 42).has_value());
  EXPECT_FALSE(watchdog_interval("-1", nullptr, 42).has_value());
  EXPECT_FALSE(watchdog_interval("3000000", "x", 42).has_value());
}

}  // namespace
}  // namespace reuserun
