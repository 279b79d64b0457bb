#include "duration.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

using namespace std::chrono_literals;

TEST(Duration, AcceptsUnitsUsersType) {
  EXPECT_EQ(parse_duration("500ms"), Duration(500ms));
  EXPECT_EQ(parse_duration("5s"), Duration(5s));
  EXPECT_EQ(parse_duration("1.5s"), Duration(1500ms));
  EXPECT_EQ(parse_duration("2m"), Duration(2min));
  EXPECT_EQ(parse_duration("2min"), Duration(2min));
  EXPECT_EQ(parse_duration("1h"), Duration(1h));
  EXPECT_EQ(parse_duration("1m30s"), Duration(90s));
  EXPECT_EQ(parse_duration("0"), Duration(0));
}

TEST(Duration, BareNumberIsSecondsAsInSystemd) { EXPECT_EQ(parse_duration("10"), Duration(10s)); }

TEST(Duration, RejectsWhatIsNotADuration) {
  for (const char* bad : {"", "5x", "-1s", "s", "ms", "1.s.", "5 s", "1e3", "99999999999999h"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(Duration, FormatsTheShortestExactSpelling) {
  EXPECT_EQ(format_duration(0ms), "0");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(2min), "2m");
  EXPECT_EQ(format_duration(1h), "1h");
  for (Duration d : {Duration(1), Duration(1001), Duration(61000), Duration(3600000)})
    EXPECT_EQ(parse_duration(format_duration(d)), d);
}

}  // namespace
}  // namespace reuserun
