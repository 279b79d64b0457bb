// `--ready auto` decides from /proc that a thread of the new generation waits for connections on
// the shared socket, whichever way it waits, without sending the old generation a probe; each
// worker of a rollout is judged on its own process tree.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "harness.hpp"

namespace rrtest {
namespace {

class WaitStyle : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Readiness, WaitStyle,
                         ::testing::Values("poll", "epoll", "select", "accept"));

std::string syscall_of(const std::string& style) { return style == "epoll" ? "epoll_wait" : style; }

TEST_P(WaitStyle, AutoSeesTheNewGenerationWaitAndNoProbeReachesTheOldOne) {
  TempDir counts;
  TwoGenerations generations({}, "--wait " + GetParam(),
                             "--wait " + GetParam() + " --count-file " + counts.file("first"));
  ASSERT_GT(generations.first, 0);
  // wait_serving asked generation 1 once (serving_pid): that is all it may ever accept.
  ASSERT_TRUE(generations.restart());
  // Generation 1 drains and exits a moment after the restart is reported: wait for it (bounded).
  const auto status = wait_for_status(
      generations.launch->process.pid(),
      [](const StatusView& now) { return now.serving == 2 && now.generations.size() == 1; }, 10s);
  ASSERT_TRUE(status && status->serving == 2);
  ASSERT_EQ(status->generations.size(), 1U);
  const GenerationView& second = status->generations.front();
  EXPECT_EQ(second.ready_by,
            "pid " + std::to_string(second.pid) + " waits in " + syscall_of(GetParam()));
  ASSERT_TRUE(wait_until([&] { return !read_text(counts.file("first")).empty(); }, 10s))
      << "generation 1 drained and wrote how many connections it accepted";
  EXPECT_EQ(std::atoi(read_text(counts.file("first")).c_str()), 1)
      << "no readiness probe reached the old generation";
  EXPECT_EQ(serving_pid(generations.launch->port), second.pid);
}

TEST(Readiness, AServerThatHoldsTheSocketButNeverWaitsOnItIsNotReady) {
  TwoGenerations generations({"--ready-timeout", "4s"}, "--no-accept");
  ASSERT_GT(generations.first, 0);
  EXPECT_FALSE(generations.restart());
  const auto last = generations.last_restart();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->outcome, "timed-out");
  // After a second of nothing waiting, connection probes joined in; nobody of generation 2
  // accepted one either.
  EXPECT_NE(last->reason.find("nothing waits on the socket yet; accept: "), std::string::npos)
      << last->reason;
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);
}

TEST(Readiness, SixteenWorkersRollUnderLoadEachJudgedOnItsOwnProcess) {
  constexpr int kWorkers = 16;
  Launch launch({"--workers", std::to_string(kWorkers)}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  ASSERT_TRUE(wait_until(
      [&] { return child_pids(launch.process.pid()).size() == static_cast<std::size_t>(kWorkers); },
      10s));
  const auto restarts = restart_under_load(launch.process, launch.port, 2, "16 workers");
  EXPECT_EQ(restarts.succeeded, 2);
  EXPECT_EQ(restarts.load.failed, 0);
  const auto status = wait_for_status(
      launch.process.pid(),
      [&](const StatusView& now) { return now.pids_of(3).size() == kWorkers; }, 10s);
  ASSERT_TRUE(status.has_value());
  for (const GenerationView& worker : status->generations) {
    if (worker.generation != 3) continue;
    EXPECT_TRUE(worker.ready_by.starts_with("pid " + std::to_string(worker.pid) + " waits in"))
        << "worker " << worker.worker << ": " << worker.ready_by;
  }
}

// Issue 25, finding 11: without /proc (the static binary in a chroot) auto waited to see a thread
// on the socket, which it never could: it failed a serving generation at every --ready-timeout,
// killed it, started another, and blamed the command for binding the port itself. It now says
// at start that READY=1 alone decides, and the serving generation stays.
// The sanitizers read /proc themselves (LeakSanitizer lists threads there): these run in the
// plain build only.
bool sanitized() {
#ifdef RRTEST_SANITIZED
  return true;
#else
  return false;
#endif
}

std::vector<std::string> without_proc(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh",
                             "-c", "umount -l /proc && exec \"$0\" \"$@\""});
  return argv;
}

TEST(Readiness, WithoutProcAutoTakesReadyAndKeepsAServingGenerationPastTheTimeout) {
  if (::geteuid() != 0) GTEST_SKIP() << "unmounts /proc in a mount namespace of its own";
  if (sanitized()) GTEST_SKIP() << "a sanitized reuserun needs /proc";
  const int port = probe_free_port();
  Process reuserun(without_proc({kReuserun, "--port", std::to_string(port), "--bind", "127.0.0.1",
                                 "--ready-timeout", "1s", "--", kTestServer, "--notify"}));
  std::optional<pid_t> first;
  ASSERT_TRUE(wait_until([&] { return (first = serving_pid(port)).has_value(); }, 10s))
      << reuserun.log();
  std::this_thread::sleep_for(2500ms);  // two and a half --ready-timeouts
  EXPECT_EQ(serving_pid(port), first) << reuserun.log();
  EXPECT_TRUE(process_exists(*first));

  reuserun.signal(SIGHUP);
  std::optional<pid_t> now;
  EXPECT_TRUE(wait_until([&] { return (now = serving_pid(port)) && *now != *first; }, 10s))
      << reuserun.log();
  EXPECT_TRUE(wait_until([&] { return !process_exists(*first) || is_zombie(*first); }, 10s))
      << "the old generation was told to stop once the new one sent READY=1";
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(10s), 0) << reuserun.log();
}

TEST(Readiness, WithoutProcAGateThatMustSeeWhoTookAProbeIsRefusedAtStart) {
  if (::geteuid() != 0) GTEST_SKIP() << "unmounts /proc in a mount namespace of its own";
  if (sanitized()) GTEST_SKIP() << "a sanitized reuserun needs /proc";
  const Captured refused =
      run_captured(without_proc({kReuserun, "--port", "0", "--bind", "127.0.0.1", "--ready",
                                 "accept", "--", kTestServer}),
                   10s);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_NE(refused.err.find("/proc is not mounted"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace rrtest
