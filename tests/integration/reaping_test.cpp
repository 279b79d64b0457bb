// Orphans: as PID 1 (a container) and as a subreaper (the default), a process the child leaves
// behind is reparented to reuserun, which reaps it: no zombie piles up. A command that
// daemonizes is named, and nothing of it outlives reuserun (issue 27, finding 1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "harness.hpp"

namespace rrtest {
namespace {

// The child's shell starts `sleep 0.3` in a subshell that exits at once: the sleep is an orphan,
// and dies 0.3 s later.
std::vector<std::string> server_leaving_an_orphan() {
  return {"/bin/sh", "-c", "(sleep 0.3 &) ; exec " + kTestServer};
}

// No zombie among the processes whose parent is `parent`, for a while: the orphan was reaped.
bool no_zombie_children(pid_t parent) {
  for (pid_t child : child_pids(parent))
    if (is_zombie(child)) return false;
  return true;
}

TEST(Reaping, SubreaperAdoptsAndReapsAnOrphanOfTheChild) {
  Launch launch({}, server_leaving_an_orphan());
  ASSERT_GT(launch.wait_serving(), 0);
  // The orphaned sleep now has reuserun as its parent, next to the generation.
  EXPECT_TRUE(wait_until([&] { return child_pids(launch.process.pid()).size() == 2; }, 5s));
  // Once it exits, reuserun reaps it.
  EXPECT_TRUE(wait_until([&] { return child_pids(launch.process.pid()).size() == 1; }, 5s));
  EXPECT_TRUE(no_zombie_children(launch.process.pid()));
}

// A daemon: a subshell starts the server in a session of its own and exits, so the server is
// reparented; it writes its pid to `pid_file` and serves the inherited fd 3. `leader` runs
// after that: "exit 0" (a command that daemonizes), or a foreground server of its own.
std::vector<std::string> daemonizing(const std::string& pid_file, const std::string& leader,
                                     const std::string& daemon_args = "") {
  return {"/bin/sh", "-c",
          "(setsid /bin/sh -c 'echo $$ > " + pid_file + "; exec " + kTestServer + " --fd 3 " +
              daemon_args + "' &) ; " + leader};
}

// True once `pid` ignores SIGTERM (/proc's SigIgn mask).
bool ignores_sigterm(pid_t pid) {
  const std::string status = read_text("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("SigIgn:");
  if (at == std::string::npos) return false;
  const unsigned long long mask = std::strtoull(status.c_str() + at + 7, nullptr, 16);
  return (mask & (1ULL << (SIGTERM - 1))) != 0;
}

// The daemon's pid once it runs the test server (and, for `ignoring`, once it ignores SIGTERM):
// before, the shell or the server just started would die of a SIGTERM the server ignores.
pid_t read_pid(const std::string& path, bool ignoring = false) {
  pid_t pid = 0;
  wait_until(
      [&] {
        pid = static_cast<pid_t>(std::atol(read_text(path).c_str()));
        return pid > 0 &&
               read_text("/proc/" + std::to_string(pid) + "/cmdline").find("test_server") !=
                   std::string::npos &&
               (!ignoring || ignores_sigterm(pid));
      },
      5s);
  return pid;
}

// True once `pid` is a child of `reuserun` (reparented to the subreaper), within 5 s.
bool adopted_by(pid_t reuserun, pid_t pid) {
  return wait_until(
      [&] {
        const auto children = child_pids(reuserun);
        return std::find(children.begin(), children.end(), pid) != children.end();
      },
      5s);
}

TEST(Reaping, ACommandThatDaemonizesIsNamedStoppedAndNotRetried) {
  TempDir dir;
  Launch launch({"--stop-timeout", "1s", "--start-attempts", "unlimited"},
                daemonizing(dir.file("daemon.pid"), "sleep 0.3; exit 0"));
  const pid_t daemon = read_pid(dir.file("daemon.pid"));
  ASSERT_GT(daemon, 0);
  EXPECT_EQ(launch.process.wait_exit(10s), 7) << "a daemonizing command fails its first start";
  EXPECT_FALSE(process_exists(daemon)) << "the daemon it left is stopped";
  EXPECT_NE(launch.process.log().find("pid " + std::to_string(daemon)), std::string::npos)
      << "the line names the process holding the socket";
  EXPECT_EQ(http_get(launch.port).error, "refused") << "nothing serves the port any more";
}

TEST(Reaping, ReuserunStopsWhatAGenerationLeftHoldingTheSocket) {
  TempDir dir;
  // The leader serves in the foreground (exec keeps LISTEN_PID right); the process it left
  // behind ignores SIGTERM, so it takes SIGKILL at the stop deadline.
  Launch launch({"--stop-timeout", "1s"},
                daemonizing(dir.file("daemon.pid"), "exec " + kTestServer, "--ignore-term"));
  ASSERT_GT(launch.wait_serving(), 0);
  const pid_t daemon = read_pid(dir.file("daemon.pid"), true);
  ASSERT_GT(daemon, 0);
  EXPECT_TRUE(adopted_by(launch.process.pid(), daemon)) << "reparented to reuserun, the subreaper";
  ::kill(launch.process.pid(), SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 4) << "it had to be SIGKILLed";
  EXPECT_FALSE(process_exists(daemon)) << "nothing of a generation outlives reuserun";
}

// While reuserun waits for what a generation left behind, it still answers `ctl` and a second
// SIGTERM ends the wait at once (attack review: the wait once blocked the loop).
TEST(Reaping, WaitingForALeftoverAtStopKeepsTheLoopTurning) {
  TempDir dir;
  Launch launch({"--stop-timeout", "20s"},
                daemonizing(dir.file("daemon.pid"), "exec " + kTestServer, "--ignore-term"));
  ASSERT_GT(launch.wait_serving(), 0);
  const pid_t daemon = read_pid(dir.file("daemon.pid"), true);
  ASSERT_GT(daemon, 0);
  ASSERT_TRUE(adopted_by(launch.process.pid(), daemon));
  ::kill(launch.process.pid(), SIGTERM);
  const auto stopping = wait_for_status(
      launch.process.pid(), [](const StatusView& status) { return status.generations.empty(); },
      5s);
  ASSERT_TRUE(stopping) << "ctl answers while the leftover is waited for";
  EXPECT_EQ(stopping->state, "stopping");
  EXPECT_TRUE(process_exists(daemon)) << "it has until --stop-timeout";
  ::kill(launch.process.pid(), SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(3s), 4) << "a second SIGTERM kills what is left at once";
  EXPECT_TRUE(wait_until([&] { return !process_exists(daemon); }, 2s));
}

TEST(Reaping, AsPid1InAPidNamespaceReuserunReapsOrphans) {
  if (::geteuid() != 0) GTEST_SKIP() << "a new PID namespace (unshare -p) needs root";
  const int port = probe_free_port();
  std::vector<std::string> argv{"/usr/bin/unshare",
                                "-p",
                                "-f",
                                "--mount-proc",
                                kReuserun,
                                "--port",
                                std::to_string(port),
                                "--bind",
                                "127.0.0.1",
                                "--"};
  for (const auto& word : server_leaving_an_orphan()) argv.push_back(word);
  Process unshare(argv);
  ASSERT_TRUE(wait_until_serving(unshare.pid(), 10s));
  const auto launchers = child_pids(unshare.pid());
  ASSERT_EQ(launchers.size(), 1u) << "unshare forks reuserun as PID 1 of the namespace";
  const pid_t reuserun = launchers.front();
  EXPECT_TRUE(wait_until([&] { return child_pids(reuserun).size() == 2; }, 5s))
      << "the orphan is reparented to PID 1, reuserun";
  EXPECT_TRUE(wait_until([&] { return child_pids(reuserun).size() == 1; }, 5s))
      << "and reaped when it exits";
  EXPECT_TRUE(no_zombie_children(reuserun));
  ::kill(reuserun, SIGTERM);
  EXPECT_EQ(unshare.wait_exit(10s), 0);
}

}  // namespace
}  // namespace rrtest
