// What a log shipper and journald get: --log-format json lines that parse, with the worker events
// a shipper keys on; under journald (JOURNAL_STREAM names standard error) priority prefixes and
// no timestamp of reuserun's own.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <sstream>

#include "harness.hpp"

namespace rrtest {
namespace {

TEST(Logging, JsonLinesParseAndNameTheWorkerEvents) {
  Launch launch({"--log-format", "json"}, {kTestServer});
  const pid_t first = launch.wait_serving();
  ASSERT_GT(first, 0);
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  launch.process.signal(SIGTERM);
  ASSERT_EQ(launch.process.wait_exit(10s), 0);
  std::istringstream lines(launch.process.log());
  int parsed = 0;
  std::map<std::string, int> events;
  pid_t ready_pid = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto json = parse_json(line);
    ASSERT_TRUE(json.has_value()) << "not one JSON object: " << line;
    ++parsed;
    EXPECT_EQ((*json)["reuserun_pid"].integer(), launch.process.pid());
    EXPECT_FALSE((*json)["time"].text.empty());
    EXPECT_FALSE((*json)["message"].text.empty());
    const std::string event = (*json)["event"].text;
    if (event.empty()) continue;
    ++events[event];
    if (event == "ready" && (*json)["generation"].integer() == 1)
      ready_pid = static_cast<pid_t>((*json)["pid"].integer());
  }
  EXPECT_GT(parsed, 5);
  EXPECT_EQ(ready_pid, first) << "the ready event names the worker that answers";
  EXPECT_EQ(events["started"], 2);
  EXPECT_EQ(events["ready"], 2);
  EXPECT_EQ(events["draining"], 1);
  EXPECT_EQ(events["restart-succeeded"], 1);
  EXPECT_EQ(events["exited"], 2);
}

TEST(Logging, UnderJournaldLinesCarryAPriorityAndNoTimestamp) {
  const int port = probe_free_port();
  // JOURNAL_STREAM names standard error as systemd would: its device and inode.
  Process reuserun({"/bin/sh", "-c",
                    "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec " + kReuserun +
                        " --port " + std::to_string(port) + " --bind 127.0.0.1 -- " + kTestServer});
  ASSERT_TRUE(reuserun.wait_for_log("serving on", 10s));
  std::istringstream lines(reuserun.log());
  int lines_seen = 0;
  for (std::string line; std::getline(lines, line); ++lines_seen) {
    EXPECT_TRUE(line.starts_with("<6>") || line.starts_with("<4>") || line.starts_with("<3>") ||
                line.starts_with("<7>"))
        << line;
    EXPECT_FALSE(line.starts_with("<6>20")) << "journald stamps the time itself: " << line;
  }
  EXPECT_GE(lines_seen, 3);
}

TEST(Logging, ABadFormatIsOneLineAndExitTwo) {
  const Captured bad = run_captured({kReuserun, "--port", "1", "--log-format", "xml", "--", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "reuserun: invalid value 'xml' for --log-format: expected text or json\n");
}

}  // namespace
}  // namespace rrtest
