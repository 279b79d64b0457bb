// In-place upgrade of reuserun itself (SIGUSR2, `reuserun ctl upgrade`): the same pid runs the
// new binary, keeps its sockets and its children and goes on supervising them; a broken new
// binary changes nothing; a handover of another format version is refused before it is used.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "harness.hpp"

namespace rrtest {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

ino_t inode_of(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_ino : 0;
}

// The inode of the binary a process runs: it changes when an upgrade executes a new file.
ino_t running_inode(pid_t pid) { return inode_of("/proc/" + std::to_string(pid) + "/exe"); }

std::vector<pid_t> sorted(std::vector<pid_t> pids) {
  std::sort(pids.begin(), pids.end());
  return pids;
}

// reuserun started from a copy of itself in a temporary directory, so that a test can install
// a new binary over that path (a new file renamed over it, as a package upgrade does).
class Upgrade : public ::testing::Test {
 protected:
  Upgrade() { install(kReuserun); }

  void install(const std::string& source, std::filesystem::perms mode = kExecutable) {
    std::filesystem::copy_file(source, dir.file("reuserun.new"),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(dir.file("reuserun.new"), mode);
    std::filesystem::rename(dir.file("reuserun.new"), binary);
  }
  void install_script(const std::string& text, std::filesystem::perms mode = kExecutable) {
    dir.write("reuserun.new", text);
    std::filesystem::permissions(dir.file("reuserun.new"), mode);
    std::filesystem::rename(dir.file("reuserun.new"), binary);
  }

  std::unique_ptr<Process> start(std::vector<std::string> options,
                                 std::vector<std::string> command = {kTestServer}) {
    std::vector<std::string> argv{binary,   "--port",     std::to_string(port),
                                  "--bind", "127.0.0.1",  "--control-socket",
                                  socket,   "--pid-file", pid_file};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    auto process = std::make_unique<Process>(argv);
    EXPECT_TRUE(wait_until_serving(process->pid(), 15s));
    return process;
  }

  Captured ctl(std::vector<std::string> words) const {
    std::vector<std::string> argv{kReuserun, "ctl", "--control-socket", socket};
    argv.insert(argv.end(), words.begin(), words.end());
    return run_captured(argv, 60s);
  }

  static constexpr auto kExecutable = std::filesystem::perms::owner_all |
                                      std::filesystem::perms::group_read |
                                      std::filesystem::perms::group_exec;
  TempDir dir;
  std::string binary = dir.file("reuserun");
  std::string socket = dir.file("ctl.sock");
  std::string pid_file = dir.file("reuserun.pid");
  int port = probe_free_port();
};

TEST_F(Upgrade, UnderLoadNothingFailsAndTheSameChildrenAreStillSupervised) {
  auto reuserun = start({"--workers", "2"});
  const pid_t pid = reuserun->pid();
  std::vector<pid_t> workers;
  ASSERT_TRUE(wait_until([&] { return (workers = sorted(child_pids(pid))).size() == 2; }, 10s));

  Load load(port);
  ASSERT_TRUE(load.wait_for_requests(50));
  constexpr int kUpgrades = 3;
  for (int upgrade = 1; upgrade <= kUpgrades; ++upgrade) {
    install(kReuserun);
    const ino_t fresh = inode_of(binary);
    const Captured answer = ctl({"upgrade"});
    ASSERT_EQ(answer.exit_code, 0) << answer.err;
    EXPECT_TRUE(contains(answer.out, "upgraded in ")) << answer.out;
    EXPECT_TRUE(contains(answer.out, "reuserun pid " + std::to_string(pid) + " runs " + binary))
        << answer.out;
    EXPECT_EQ(running_inode(pid), fresh) << "it runs the new file";
  }
  // SIGUSR2 does the same, and is not passed on to the children.
  install(kReuserun);
  const ino_t fresh = inode_of(binary);
  reuserun->signal(SIGUSR2);
  ASSERT_TRUE(wait_for_status(
      pid, [](const StatusView& status) { return status.upgrades == kUpgrades + 1; }, 15s));
  EXPECT_EQ(running_inode(pid), fresh);
  const Load::Result seen = load.stop();
  std::printf("%d upgrades under load: %ld requests, %ld failed\n", kUpgrades + 1, seen.sent,
              seen.failed);
  EXPECT_EQ(seen.failed, 0);
  EXPECT_GT(seen.sent, 0);

  EXPECT_TRUE(reuserun->running());
  EXPECT_EQ(sorted(child_pids(pid)), workers) << "no child was restarted or lost";
  EXPECT_TRUE(contains(http_get(port, "/signals").body, "USR2=0")) << "SIGUSR2 is reuserun's";
  const Captured status = ctl({"status"});
  EXPECT_TRUE(contains(status.out, "upgraded in place 4 times: runs " + binary)) << status.out;
  EXPECT_EQ(read_text(pid_file), std::to_string(pid) + "\n") << "the pid file carries on";

  // Still supervised: a SIGHUP rolls both workers ...
  reuserun->signal(SIGHUP);
  ASSERT_TRUE(restart_ended(reuserun->pid(), Ended::succeeded, 20s));
  for (const pid_t old : workers)
    EXPECT_TRUE(wait_until([&] { return !process_exists(old) && !is_zombie(old); }, 15s))
        << "worker " << old << " drained and was reaped\n";
  std::vector<pid_t> now;
  ASSERT_TRUE(wait_until([&] { return (now = child_pids(pid)).size() == 2; }, 10s));
  // ... and a crashed worker is respawned.
  ASSERT_EQ(::kill(now.front(), SIGKILL), 0);
  EXPECT_TRUE(wait_until(
      [&] {
        const auto children = child_pids(pid);
        return children.size() == 2 &&
               std::find(children.begin(), children.end(), now.front()) == children.end();
      },
      10s));
  EXPECT_FALSE(is_zombie(now.front()));

  reuserun->signal(SIGTERM);
  EXPECT_EQ(reuserun->wait_exit(15s), 0);
  EXPECT_FALSE(std::filesystem::exists(pid_file)) << "the new image removes the pid file";
  EXPECT_FALSE(std::filesystem::exists(socket)) << "... and the control socket";
}

TEST_F(Upgrade, ABrokenNewBinaryLeavesTheOldOneRunningAndFailsTheRequest) {
  auto reuserun = start({});
  const pid_t pid = reuserun->pid();
  const ino_t original = running_inode(pid);
  const auto child = serving_pid(port);
  ASSERT_TRUE(child);

  install_script("#!/bin/sh\nexit 3\n");  // exits at once
  const Captured exits = ctl({"upgrade"});
  EXPECT_EQ(exits.exit_code, 15) << exits.out << exits.err;
  EXPECT_TRUE(
      contains(exits.err, "upgrade failed: the check run of " + binary + " exited with status 3"))
      << exits.err;
  EXPECT_TRUE(contains(exits.err, "runs on as it was; generation 1 serves on")) << exits.err;

  install_script("#!/bin/sh\nexit 0\n", std::filesystem::perms::owner_read);  // not executable
  const Captured denied = ctl({"--json", "upgrade"});
  EXPECT_EQ(denied.exit_code, 15) << denied.out << denied.err;
  EXPECT_TRUE(contains(denied.out, R"("succeeded":false)")) << denied.out;
  EXPECT_TRUE(contains(denied.out, "Permission denied")) << denied.out;

  std::filesystem::remove(binary);  // gone
  reuserun->signal(SIGUSR2);
  EXPECT_TRUE(reuserun->wait_for_log("No such file or directory; this reuserun runs on", 10s));

  // Nothing changed: same image, same child, still answering and still supervising.
  EXPECT_TRUE(reuserun->running());
  EXPECT_EQ(running_inode(pid), original);
  EXPECT_EQ(serving_pid(port), child);
  EXPECT_EQ(ctl({"status"}).exit_code, 0);
  reuserun->signal(SIGHUP);
  EXPECT_TRUE(restart_ended(reuserun->pid(), Ended::succeeded, 15s));

  install(kReuserun);  // fixed: the next upgrade goes through
  const Captured fixed = ctl({"upgrade"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  reuserun->signal(SIGTERM);
  EXPECT_EQ(reuserun->wait_exit(15s), 0);
}

TEST_F(Upgrade, AnUpgradeAskedForDuringARestartWaitsForItsOutcome) {
  dir.write("args", "");
  auto reuserun = start({}, server_with_args_from(dir.file("args")));
  // Ready 3 s after it starts: the upgrade's check run (a whole reuserun, slow under ASan: 0.5 s
  // seen, after ctl itself took 0.65 s to connect) passes while the restart is still under way,
  // so the upgrade has to wait. With 1 s, a slow check found the restart over (CI, once).
  dir.write("args", "--start-delay 3000");
  reuserun->signal(SIGHUP);
  ASSERT_TRUE(reuserun->wait_for_log("restart: starting generation 2", 10s));
  const Captured answer = ctl({"upgrade"});
  EXPECT_EQ(answer.exit_code, 0) << answer.err;
  const std::string log = reuserun->log();
  const auto restarted = log.find("restart succeeded");
  const auto upgraded = log.find("upgraded in place");
  ASSERT_NE(restarted, std::string::npos) << log;
  ASSERT_NE(upgraded, std::string::npos) << log;
  EXPECT_LT(restarted, upgraded) << log;
  EXPECT_TRUE(contains(log, "upgrade: waiting for the restart or worker start under way to end"))
      << log;
  EXPECT_TRUE(contains(answer.out, "generation 2 serves on")) << answer.out;
}

TEST_F(Upgrade, DrainDeadlinesArmedBeforeTheUpgradeStillFire) {
  dir.write("args", "--ignore-term");  // generation 1 will not drain on its own
  auto reuserun = start({"--drain-timeout", "3s"}, server_with_args_from(dir.file("args")));
  const auto first = serving_pid(port);
  ASSERT_TRUE(first);
  dir.write("args", "");
  reuserun->signal(SIGHUP);
  ASSERT_TRUE(restart_ended(reuserun->pid(), Ended::succeeded, 15s));
  const Captured answer = ctl({"upgrade"});
  ASSERT_EQ(answer.exit_code, 0) << answer.err;
  // The new image kills generation 1 when the old image's drain deadline says so.
  EXPECT_TRUE(reuserun->wait_for_log("still running after 3s: SIGKILL", 10s));
  EXPECT_TRUE(wait_until([&] { return !process_exists(*first) && !is_zombie(*first); }, 10s));
}

TEST(UpgradeHandover, AnotherFormatVersionIsRefusedBeforeAnythingIsTouched) {
  TempDir dir;
  dir.write("handover", "reuserun-handover 2\nstarted 1\nlistener 3 0 x\nend\n");
  const std::string version_error =
      "handover format version 2 is not supported: this reuserun reads version 1 only";

  // The check run an upgrade makes of the new binary: it says no, and why.
  const Captured check = run_captured({"/bin/bash", "-c",
                                       "exec " + kReuserun + " --upgrade-check 7 --port 0 -- " +
                                           kTestServer + " 7<" + dir.file("handover")});
  EXPECT_EQ(check.exit_code, 6) << check.err;
  EXPECT_TRUE(contains(check.err, "upgrade check: " + version_error)) << check.err;

  // A new image given such a handover stops at once: it binds nothing and starts nothing.
  const int port = probe_free_port();
  const Captured resumed =
      run_captured({"/bin/bash", "-c",
                    "REUSERUN_HANDOVER_FD=7 exec " + kReuserun + " --port " + std::to_string(port) +
                        " --bind 127.0.0.1 -- " + kTestServer + " 7<" + dir.file("handover")});
  EXPECT_EQ(resumed.exit_code, 6) << resumed.err;
  EXPECT_TRUE(contains(resumed.err, "upgrade: cannot take over: " + version_error)) << resumed.err;
  EXPECT_FALSE(contains(resumed.err, "started")) << resumed.err;
  EXPECT_FALSE(http_get(port, "/", 1s).ok);
}

}  // namespace
}  // namespace rrtest
