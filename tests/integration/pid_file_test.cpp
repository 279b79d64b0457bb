// --pid-file: written while reuserun runs, removed when it exits, a stale one replaced, a live
// one respected, and `kill -HUP $(cat FILE)` restarts.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "harness.hpp"

namespace rrtest {
namespace {

pid_t pid_in(const std::string& path) {
  std::ifstream file(path);
  pid_t pid = 0;
  file >> pid;
  return pid;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

TEST(PidFile, NamesReuserunWhileItRunsAndIsRemovedAtExit) {
  TempDir dir;
  Launch launch({"--pid-file", dir.file("reuserun.pid")}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_EQ(pid_in(dir.file("reuserun.pid")), launch.process.pid());
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  EXPECT_FALSE(exists(dir.file("reuserun.pid")));
}

TEST(PidFile, KillHupOfThePidInTheFileRestarts) {
  TempDir dir;
  Launch launch({"--pid-file", dir.file("reuserun.pid")}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  ASSERT_EQ(::kill(pid_in(dir.file("reuserun.pid")), SIGHUP), 0);
  EXPECT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
}

TEST(PidFile, AStaleFileFromADeadProcessIsReplaced) {
  TempDir dir;
  Process gone({"/bin/true"});
  ASSERT_EQ(gone.wait_exit(5s), 0);
  dir.write("reuserun.pid", std::to_string(gone.pid()) + "\n");
  Launch launch({"--pid-file", dir.file("reuserun.pid")}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_EQ(pid_in(dir.file("reuserun.pid")), launch.process.pid());
  EXPECT_NE(launch.process.log().find("replacing the stale pid file"), std::string::npos);
}

TEST(PidFile, ASecondReuserunWithTheSameFileRefusesToStartAndLeavesItAlone) {
  TempDir dir;
  Launch first({"--pid-file", dir.file("reuserun.pid")}, {kTestServer});
  ASSERT_GT(first.wait_serving(), 0);
  Launch second({"--pid-file", dir.file("reuserun.pid")}, {kTestServer});
  EXPECT_EQ(second.process.wait_exit(10s), 5);
  EXPECT_NE(second.process.log().find("reuserun pid " + std::to_string(first.process.pid()) +
                                      " is running with it"),
            std::string::npos);
  EXPECT_EQ(pid_in(dir.file("reuserun.pid")), first.process.pid());
  EXPECT_TRUE(first.process.running());
}

TEST(PidFile, UnwritableLocationExitsFive) {
  Launch launch({"--pid-file", "/nonexistent-dir/reuserun.pid"}, {kTestServer});
  EXPECT_EQ(launch.process.wait_exit(10s), 5);
  EXPECT_NE(
      launch.process.log().find("Failed to create the pid file /nonexistent-dir/reuserun.pid"),
      std::string::npos);
}

}  // namespace
}  // namespace rrtest
