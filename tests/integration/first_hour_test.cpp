// A newcomer's first hour (issue 27): a first start that fails ends, at a terminal, with the
// cause; what went wrong is said in plain words when reuserun can see it, not 30 s later; a
// server stuck in accept() on the shared socket is named, and --nonblocking keeps it out.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "harness.hpp"

namespace rrtest {
namespace {

// Finding 3: a first start that fails for ever used to loop, with one hint for every cause.
TEST(FirstHour, AFirstStartThatKeepsFailingEndsWithExit7AndItsCause) {
  Launch launch({"--start-attempts", "2"}, {"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(launch.process.wait_exit(10s), 7);
  EXPECT_NE(launch.process.log().find("exited with status 3"), std::string::npos);
}

// At a terminal nobody has to ask for it: `script` gives reuserun one, and no supervisor.
TEST(FirstHour, AtATerminalTheFirstStartIsTriedThreeTimes) {
  const int port = probe_free_port();
  const std::string command = kReuserun + " --port " + std::to_string(port) +
                              " --bind 127.0.0.1 -- /bin/sh -c 'exit 3'";
  Process terminal({"/usr/bin/env", "-u", "INVOCATION_ID", "-u", "NOTIFY_SOCKET",
                    "/usr/bin/script", "-qefc", command, "/dev/null"});
  EXPECT_EQ(terminal.wait_exit(10s), 7) << "script passes on reuserun's exit status";
}

// An http gate that gets 404 names the answer as the hint; the summary carries it.
TEST(FirstHour, AnHttpGateThatGetsAWrongAnswerNamesItInTheSummary) {
  Launch launch({"--ready", "http:/nosuch", "--ready-timeout", "1s", "--start-attempts", "1"},
                {kTestServer, "--status", "404"});
  EXPECT_EQ(launch.process.wait_exit(10s), 7);
  EXPECT_NE(launch.process.log().find("GET /nosuch answered \"HTTP/1."), std::string::npos);
}

// Finding 4: a server that ignores fd 3 and listens on a port of its own is named at once,
// in plain words, long before --ready-timeout.
TEST(FirstHour, AServerListeningOnItsOwnPortIsNamedWithinSeconds) {
  const int own = probe_free_port();
  Launch launch({"--ready-timeout", "30s"}, {kTestServer, "--listen", std::to_string(own)});
  const std::string expected = "listens on 127.0.0.1:" + std::to_string(own) + " itself";
  EXPECT_TRUE(launch.process.wait_for_log(expected, 5s))
      << "said within 5 s, not at the 30 s deadline";
}

// Finding 5: a drain that times out names what the stuck process is doing.
TEST(FirstHour, AnOldGenerationBlockedInAcceptIsNamedAtItsDrainDeadline) {
  TempDir dir;
  dir.write("args", "--wait accept --ignore-term");
  Launch launch({"--drain-timeout", "1s", "--log-format", "json"},
                server_with_args_from(dir.file("args")));
  const pid_t old = launch.wait_serving();
  ASSERT_GT(old, 0);
  dir.write("args", "");
  launch.process.signal(SIGHUP);
  EXPECT_TRUE(launch.process.wait_for_log(
      "pid " + std::to_string(old) + " is blocked in accept on the shared socket", 10s));
  EXPECT_TRUE(wait_until([&] { return !process_exists(old); }, 5s)) << "and it is SIGKILLed";
}

// What the child finds on fd 3: its flags, as the child's own /proc/self/fdinfo/3 says.
long handed_flags(const std::vector<std::string>& options) {
  TempDir dir;
  Launch launch(options, {"/bin/sh", "-c",
                          "cat /proc/self/fdinfo/3 > " + dir.file("fdinfo") + "; exec sleep 30"});
  std::string fdinfo;
  wait_until([&] { return (fdinfo = read_text(dir.file("fdinfo"))).find('\n') != std::string::npos; },
             5s);
  const auto at = fdinfo.find("flags:");
  return at == std::string::npos ? -1 : std::strtol(fdinfo.c_str() + at + 6, nullptr, 8);
}

TEST(FirstHour, NonblockingHandsTheSocketNonBlocking) {
  const long plain = handed_flags({"--stop-timeout", "1s"});
  ASSERT_GE(plain, 0);
  EXPECT_EQ(plain & O_NONBLOCK, 0) << "blocking unless asked";
  const long asked = handed_flags({"--nonblocking", "--stop-timeout", "1s"});
  ASSERT_GE(asked, 0);
  EXPECT_NE(asked & O_NONBLOCK, 0);
}

}  // namespace
}  // namespace rrtest
