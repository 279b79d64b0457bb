// A crash of reuserun itself costs no request (issue 29; man/reuserun.1, FAULTS): a fatal signal
// of its own is recovered in place, with the same pid, and a fresh generation replaces the
// children the crashed image left; more than a few in a minute, or a SIGABRT that another
// process sent (systemd's watchdog), end it with that signal.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

// Waits until reuserun says it recovered in place `count` times in the current window and
// serves a generation newer than `than`; the status that said so.
std::optional<StatusView> wait_for_recovery(pid_t reuserun, int count, int than) {
  const std::string detail = "recovery " + std::to_string(count) + " of";
  return wait_for_status(
      reuserun,
      [&](const StatusView& status) {
        return status.recovery == "in-place" &&
               status.recovery_detail.find(detail) != std::string::npos && status.serving &&
               *status.serving > than && !status.generation_in("draining") &&
               !status.generation_in("starting");
      },
      15s);
}

// Waits until another process than `orphan` answers on `port` and `orphan` has exited: the
// orphan was replaced (and drained, or freed). Bounded at 15 s.
bool replaced(pid_t orphan, int port) {
  return wait_until(
      [&] {
        const auto pid = serving_pid(port);
        return pid && *pid != orphan && !process_exists(orphan);
      },
      15s);
}

TEST(Crash, ThreeSegfaultsUnderLoadAreRecoveredInPlaceWithoutAFailedRequest) {
  Launch launch({}, {kTestServer});
  const pid_t first = launch.wait_serving();
  Load load(launch.port);
  ASSERT_TRUE(load.wait_for_requests(200));
  int serving = 1;
  for (int crash = 1; crash <= 3; ++crash) {
    launch.process.signal(SIGSEGV);
    const auto status = wait_for_recovery(launch.process.pid(), crash, serving);
    ASSERT_TRUE(status) << "crash " << crash << " was not recovered in time";
    serving = *status->serving;
    ASSERT_TRUE(load.wait_for_requests(load.sent() + 200));
  }
  const Load::Result result = load.stop();
  std::printf("3 x SIGSEGV: %ld requests, %ld failed\n", result.sent, result.failed);
  EXPECT_EQ(result.failed, 0);
  EXPECT_TRUE(launch.process.running()) << "the same pid serves";
  const auto pid = serving_pid(launch.port);
  ASSERT_TRUE(pid);
  EXPECT_NE(*pid, first) << "a fresh generation replaced the crashed image's";
  EXPECT_FALSE(process_exists(first)) << "the crashed image's generation drained and exited";
  EXPECT_TRUE(child_pids(launch.process.pid()).size() == 1) << "one worker, no core copy left";
  std::ifstream comm("/proc/" + std::to_string(launch.process.pid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "reuserun") << "what ps, ss and the freeing rule go by (not \"exe\")";
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Crash, AFourthSegfaultWithinAMinuteEndsReuserunWithTheSignal) {
  Launch launch({}, {kTestServer});
  launch.wait_serving();
  int serving = 1;
  for (int crash = 1; crash <= 3; ++crash) {
    launch.process.signal(SIGSEGV);
    const auto status = wait_for_recovery(launch.process.pid(), crash, serving);
    ASSERT_TRUE(status) << "crash " << crash;
    serving = *status->serving;
  }
  const pid_t last = *serving_pid(launch.port);
  launch.process.signal(SIGSEGV);
  EXPECT_EQ(launch.process.wait_exit(10s), 128 + SIGSEGV)
      << "systemd's Restart= and the logs see the crash";
  EXPECT_TRUE(launch.process.wait_for_log("more than 3 recoveries in 60 s", 1s));
  // Its generation outlives it (adopted by the next reuserun for the port): the test ends it.
  if (process_exists(last)) ::kill(last, SIGKILL);
}

TEST(Crash, ASigabrtFromAnotherProcessIsNotRecovered) {
  // systemd's watchdog sends SIGABRT (WatchdogSignal=): a hung reuserun must die of it.
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  launch.process.signal(SIGABRT);
  EXPECT_EQ(launch.process.wait_exit(10s), 128 + SIGABRT);
  if (process_exists(child)) ::kill(child, SIGKILL);
}

// kill -9 of reuserun, then the same command again half a second later: the killed reuserun's
// generation keeps serving meanwhile, the new reuserun takes its very socket, starts its own
// generation and, once that is ready, drains the orphan.
TEST(Crash, AKilledReuserunsGenerationIsAdoptedAndDrainedWithoutAFailedRequest) {
  Launch first({}, {kTestServer});
  const pid_t orphan = first.wait_serving();
  const auto inodes = listening_inodes(first.port);
  ASSERT_EQ(inodes.size(), 1u);
  Load load(first.port);
  ASSERT_TRUE(load.wait_for_requests(200));
  first.process.signal(SIGKILL);
  ASSERT_EQ(first.process.wait_exit(5s), 128 + SIGKILL);
  std::this_thread::sleep_for(500ms);
  Process second({kReuserun, "--port", std::to_string(first.port), "--bind", "127.0.0.1", "--",
                  kTestServer});
  const bool drained = replaced(orphan, first.port);
  ASSERT_TRUE(load.wait_for_requests(load.sent() + 200));
  const Load::Result result = load.stop();
  std::printf("kill -9, a new reuserun 0.5 s later: %ld requests, %ld failed\n", result.sent,
              result.failed);
  if (process_exists(orphan)) ::kill(orphan, SIGKILL);  // not below the harness any more
  ASSERT_TRUE(drained) << "a generation of the new reuserun serves and the orphan has exited";
  EXPECT_EQ(result.failed, 0);
  EXPECT_EQ(listening_inodes(first.port), inodes) << "the very same listening socket";
  const auto status = ctl_status(second.pid());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->recovery, "adopted");
  EXPECT_EQ(status->generations.size(), 1u) << "one generation serves";
  EXPECT_NE(status->recovery_detail.find("pid " + std::to_string(orphan)), std::string::npos)
      << status->recovery_detail;
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(10s), 0);
}

// The same without root: pidfd_getfd needs ptrace rights over the orphans, which a user has over
// its own processes (unless Yama's ptrace_scope is 1 or more: then it falls back to freeing
// them, tested by the unit of the rule and said in the man page).
// reuserun and its server as uid 65534, on a fresh port: `command("x.sock")` is the command line
// of one run, with its own control socket; `extra` goes to the server.
struct Unprivileged {
  explicit Unprivileged(std::vector<std::string> extra = {}) : extra(std::move(extra)) {
    EXPECT_EQ(::mkdir(run.c_str(), 0700), 0);
    EXPECT_EQ(::chown(run.c_str(), 65534, 65534), 0);
  }
  std::vector<std::string> command(const std::string& socket) const {
    std::vector<std::string> argv{reuserun,           "--port", std::to_string(port),
                                  "--bind",           "127.0.0.1", "--control-socket",
                                  run + "/" + socket, "--",        server};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return as_nobody(argv);
  }
  TempDir dir;
  std::string reuserun = copy_for_nobody(kReuserun, dir);
  std::string server = copy_for_nobody(kTestServer, dir);
  std::string run = dir.file("run");  // nobody's, for the control sockets
  int port = probe_free_port();
  std::vector<std::string> extra;
};

TEST(Crash, AnUnprivilegedReuserunAdoptsItsOwnKilledGeneration) {
  const Unprivileged as_user;
  const int port = as_user.port;
  const auto command = [&](const std::string& socket) { return as_user.command(socket); };
  Process first(command("first.sock"));
  ASSERT_TRUE(wait_until([&] { return serving_pid(port).has_value(); }, 10s)) << first.log();
  const pid_t orphan = *serving_pid(port);
  const auto inodes = listening_inodes(port);
  Load load(port);
  ASSERT_TRUE(load.wait_for_requests(200));
  first.signal(SIGKILL);
  ASSERT_TRUE(first.wait_exit(5s).has_value());
  std::this_thread::sleep_for(500ms);
  Process second(command("second.sock"));
  const bool drained = replaced(orphan, port);
  ASSERT_TRUE(load.wait_for_requests(load.sent() + 200));
  const Load::Result result = load.stop();
  if (process_exists(orphan)) ::kill(orphan, SIGKILL);
  ASSERT_TRUE(drained) << second.log();
  EXPECT_EQ(result.failed, 0);
  EXPECT_EQ(listening_inodes(port), inodes);
  EXPECT_TRUE(second.wait_for_log("adopted 127.0.0.1:" + std::to_string(port), 1s))
      << second.log();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(10s), 0);
}

// The killed reuserun listened on 127.0.0.1, the new one is asked for every address: the
// orphans' socket is not the one to serve, so it says why in one line, frees them as before and
// binds the port again. (The same path is taken when the socket cannot be taken at all: a user
// under Yama's ptrace_scope 1, which this kernel may not have.)
TEST(Crash, AnOrphanWhoseSocketIsNotTheOneAskedForIsFreedAndThePortBoundAgain) {
  TempDir dir;
  Launch first({}, {kTestServer});
  const pid_t orphan = first.wait_serving();
  const auto inodes = listening_inodes(first.port);
  first.process.signal(SIGKILL);
  ASSERT_EQ(first.process.wait_exit(5s), 128 + SIGKILL);
  Process second({kReuserun, "--port", std::to_string(first.port), "--control-socket",
                  dir.file("ctl.sock"), "--", kTestServer});
  const bool rebound = replaced(orphan, first.port);
  if (process_exists(orphan)) ::kill(orphan, SIGKILL);
  ASSERT_TRUE(rebound) << second.log();
  for (const unsigned long inode : listening_inodes(first.port))
    EXPECT_EQ(inodes.count(inode), 0u) << "a socket of its own";
  const auto status = ctl_status(second.pid());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->recovery, "rebound");
  EXPECT_NE(status->recovery_detail.find("it listens on 127.0.0.1:"), std::string::npos)
      << status->recovery_detail;
  EXPECT_EQ(second.count_in_log("freeing it instead"), 1) << second.log();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(10s), 0);
}

TEST(Crash, ASigtermThatArrivesDuringTheRecoveryStopsReuserun) {
  // Found by the attack review: Asio's handler ran on top of the crash handler, and its wake-up
  // was lost with the exec.
  Launch launch({}, {kTestServer});
  launch.wait_serving();
  launch.process.signal(SIGSEGV);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Crash, ACrashBeforeAnAdoptedGenerationDrainedStillDrainsIt) {
  // Found by the attack review: the new reuserun adopts a killed one's generation, and crashes
  // before its own generation is ready; its new image must still drain the orphan.
  Launch first({}, {kTestServer});
  const pid_t orphan = first.wait_serving();
  first.process.signal(SIGKILL);
  ASSERT_EQ(first.process.wait_exit(5s), 128 + SIGKILL);
  Process second({kReuserun, "--port", std::to_string(first.port), "--bind", "127.0.0.1",
                  "--ready", "delay:2s", "--", kTestServer});
  ASSERT_TRUE(second.wait_for_log("adopted 127.0.0.1:", 10s)) << second.log();
  // Its loop runs (the crash handler is armed before the first child is spawned), its own
  // generation is not ready yet (--ready delay:2s), the orphan not drained.
  ASSERT_TRUE(second.wait_for_log("generation 1 started", 10s)) << second.log();
  second.signal(SIGSEGV);
  const bool drained = replaced(orphan, first.port);
  if (process_exists(orphan)) ::kill(orphan, SIGKILL);
  EXPECT_TRUE(drained) << second.log();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(10s), 0);
}

TEST(Crash, AChildThatLiesAboutItsGenerationIsDrainedAfterARecoveryAndNumbersStaySane) {
  // A child writes its own environment (found by the attack review: a generation of 2^64-2 made
  // the next restart generation 0, which failed). After a crash its claim is not believed: it
  // is drained once the fresh generation serves, which is generation 2.
  TempDir dir;
  dir.write("liar", "#!/bin/sh\nREUSERUN_GENERATION=18446744073709551614 exec " + kTestServer +
                        "\n");
  ASSERT_EQ(::chmod(dir.file("liar").c_str(), 0755), 0);
  Launch launch({}, {dir.file("liar")});
  const pid_t liar = launch.wait_serving();
  launch.process.signal(SIGSEGV);
  const auto status = wait_for_status(
      launch.process.pid(),
      [&](const StatusView& now) {
        return now.recovery == "in-place" && now.serving && !process_exists(liar);
      },
      15s);
  ASSERT_TRUE(status) << launch.process.log();
  EXPECT_EQ(*status->serving, 2);
  launch.process.signal(SIGHUP);
  const auto restarted = wait_for_status(
      launch.process.pid(), [](const StatusView& now) { return now.serving == 3; }, 15s);
  EXPECT_TRUE(restarted) << launch.process.log();
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

}  // namespace
}  // namespace rrtest
