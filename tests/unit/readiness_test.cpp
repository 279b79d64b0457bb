#include "readiness.hpp"

#include <gtest/gtest.h>

#include "notify_socket.hpp"

namespace reuserun {
namespace {

using namespace std::chrono_literals;

TEST(GateSpec, ParsesEveryGate) {
  EXPECT_EQ(parse_gate_spec("auto"), (GateSpec{GateKind::automatic, "", {}}));
  EXPECT_EQ(parse_gate_spec("notify"), (GateSpec{GateKind::notify, "", {}}));
  EXPECT_EQ(parse_gate_spec("accept"), (GateSpec{GateKind::accept, "", {}}));
  EXPECT_EQ(parse_gate_spec("http:/health?x=1"), (GateSpec{GateKind::http, "/health?x=1", {}}));
  EXPECT_EQ(parse_gate_spec("exec:curl -f localhost:1/a:b"),
            (GateSpec{GateKind::exec, "curl -f localhost:1/a:b", {}}));
  EXPECT_EQ(parse_gate_spec("delay:1.5s"), (GateSpec{GateKind::delay, "", 1500ms}));
}

TEST(GateSpec, RejectsWhatIsNotAGate) {
  for (const char* bad : {"", "tcp", "accept:x", "notify:", "http", "http:", "http:health",
                          "exec:", "delay", "delay:", "delay:x", "AUTO"})
    EXPECT_FALSE(parse_gate_spec(bad)) << bad;
}

TEST(GateSpec, DescribesWhatItParses) {
  for (const char* text : {"auto", "notify", "accept", "http:/h", "exec:true", "delay:2s"})
    EXPECT_EQ(describe_gate_spec(*parse_gate_spec(text)), text);
}

TEST(NotifyMessage, SplitsLinesIntoFields) {
  const auto fields = parse_notify_message("READY=1\nSTATUS=Booting: 3/4 = done\n\nnoequals\n=x\n");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0], (std::pair<std::string, std::string>{"READY", "1"}));
  EXPECT_EQ(fields[1].second, "Booting: 3/4 = done");
  ASSERT_NE(notify_field(fields, "STATUS"), nullptr);
  EXPECT_EQ(notify_field(fields, "MAINPID"), nullptr);
}

TEST(NotifyMessage, LastLineNeedsNoNewline) {
  const auto fields = parse_notify_message("STOPPING=1");
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].first, "STOPPING");
}

TEST(NotifyMessage, AWatchdogPingAloneSaysNothingAboutReadiness) {
  EXPECT_TRUE(only_watchdog(parse_notify_message("WATCHDOG=1\n")));
  EXPECT_FALSE(only_watchdog(parse_notify_message("WATCHDOG=1\nSTATUS=busy")));
  EXPECT_FALSE(only_watchdog(parse_notify_message("READY=1")));
  EXPECT_FALSE(only_watchdog({}));
}

}  // namespace
}  // namespace reuserun
