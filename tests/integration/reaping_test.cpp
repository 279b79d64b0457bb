// Orphans: as PID 1 (a container) and with --subreaper, a process the child leaves behind is
// reparented to reuserun, which reaps it: no zombie piles up.
#include <gtest/gtest.h>
#include <unistd.h>

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
  Launch launch({"--subreaper"}, server_leaving_an_orphan());
  ASSERT_GT(launch.wait_serving(), 0);
  // The orphaned sleep now has reuserun as its parent, next to the generation.
  EXPECT_TRUE(wait_until([&] { return child_pids(launch.process.pid()).size() == 2; }, 5s));
  // Once it exits, reuserun reaps it.
  EXPECT_TRUE(wait_until([&] { return child_pids(launch.process.pid()).size() == 1; }, 5s));
  EXPECT_TRUE(no_zombie_children(launch.process.pid()));
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
