#include "signal_name.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace reuserun {
namespace {

TEST(SignalName, AcceptsNamesWithOrWithoutSigAndNumbers) {
  EXPECT_EQ(parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(parse_signal("term"), SIGTERM);
  EXPECT_EQ(parse_signal("QUIT"), SIGQUIT);
  EXPECT_EQ(parse_signal("sigint"), SIGINT);
  EXPECT_EQ(parse_signal("9"), SIGKILL);
}

TEST(SignalName, RejectsWhatIsNotASignal) {
  for (const char* bad : {"", "0", "65", "-15", "TERMX", "SIG", "15x", "FOO"})
    EXPECT_FALSE(parse_signal(bad)) << bad;
}

TEST(SignalName, NamesSignals) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
}

}  // namespace
}  // namespace reuserun
