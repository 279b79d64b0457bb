// Restart on deploy (issue 30): --watch restarts when a watched file is replaced or written, once
// the changes settle, exactly as a SIGHUP would (a bad new binary is rolled back); and
// --restart-signal for setups where SIGHUP is taken.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

// A release directory whose `server` script runs the test server, and a way to put a new
// `server` in place the way a deploy tool does: write a new file beside it, rename it over.
struct Release {
  explicit Release(const std::string& body = "") { install(body.empty() ? good() : body); }
  static std::string good() { return "#!/bin/sh\nexec " + kTestServer + "\n"; }
  // Exits at once: a new generation that never gets ready.
  static std::string broken() { return "#!/bin/sh\nexit 3\n"; }
  void install(const std::string& body) const {
    dir.write("server.new", body);
    EXPECT_EQ(::chmod(dir.file("server.new").c_str(), 0755), 0);
    std::filesystem::rename(dir.file("server.new"), server());
  }
  std::string server() const { return dir.file("server"); }
  TempDir dir;
};

std::optional<StatusView> wait_for_ended(pid_t reuserun, int restarts) {
  return wait_for_status(
      reuserun, [&](const StatusView& now) { return now.restarts >= restarts; }, 15s);
}

TEST(Deploy, ANewBinaryRenamedIntoPlaceRestartsOnceAndStatusSaysWhy) {
  Release release;
  Launch launch({"--watch", release.server(), "--watch-settle", "300ms"}, {release.server()});
  const pid_t first = launch.wait_serving();
  // A burst: five writes of the new release within the settle time are one restart.
  for (int write = 0; write < 5; ++write) {
    release.install(Release::good() + "# build " + std::to_string(write) + "\n");
    std::this_thread::sleep_for(50ms);
  }
  const auto status = wait_for_ended(launch.process.pid(), 1);
  ASSERT_TRUE(status) << launch.process.log();
  ASSERT_TRUE(status->last_restart);
  EXPECT_TRUE(status->last_restart->succeeded);
  EXPECT_EQ(status->restart_trigger, release.server() + " changed (--watch)");
  EXPECT_EQ(status->watching, std::vector<std::string>{release.server()});
  std::this_thread::sleep_for(1s);  // time for a second restart, which must not come
  const auto later = ctl_status(launch.process.pid());
  ASSERT_TRUE(later);
  EXPECT_EQ(later->restarts, 1) << "the burst is one restart";
  const auto pid = serving_pid(launch.port);
  ASSERT_TRUE(pid);
  EXPECT_NE(*pid, first);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Deploy, ABrokenNewBinaryIsRolledBackAndTheOldPidKeepsServing) {
  Release release;
  Launch launch({"--watch", release.server(), "--watch-settle", "200ms"}, {release.server()});
  const pid_t first = launch.wait_serving();
  Load load(launch.port);
  ASSERT_TRUE(load.wait_for_requests(100));
  release.install(Release::broken());
  const auto status = wait_for_ended(launch.process.pid(), 1);
  const Load::Result result = load.stop();
  ASSERT_TRUE(status) << launch.process.log();
  ASSERT_TRUE(status->last_restart);
  EXPECT_FALSE(status->last_restart->succeeded);
  EXPECT_EQ(serving_pid(launch.port), first) << "the old generation keeps serving";
  EXPECT_EQ(result.failed, 0);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Deploy, AWatchedPathThatDoesNotExistYetIsWaitedFor) {
  Release release;
  const std::string config = release.dir.file("conf.d/app.conf");  // neither exists yet
  Launch launch({"--watch", config, "--watch-settle", "200ms"}, {release.server()});
  const pid_t first = launch.wait_serving();
  std::filesystem::create_directory(release.dir.file("conf.d"));
  release.dir.write("conf.d/app.conf", "workers 2\n");
  const auto status = wait_for_ended(launch.process.pid(), 1);
  ASSERT_TRUE(status) << launch.process.log();
  EXPECT_TRUE(status->last_restart && status->last_restart->succeeded);
  EXPECT_NE(serving_pid(launch.port), first);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Deploy, ASwitchedReleaseSymlinkRestartsIntoTheNewRelease) {
  // current -> releases/1, then a new link renamed over it (ln -sfn's atomic form): the watched
  // path's file did not change, a directory on its way did.
  TempDir dir;
  for (const char* number : {"1", "2"}) {
    const std::string release = dir.file(std::string("releases/") + number);
    std::filesystem::create_directories(release);
    dir.write(std::string("releases/") + number + "/server",
              "#!/bin/sh\nAPP_RELEASE=" + std::string(number) + " exec " + kTestServer + "\n");
    ASSERT_EQ(::chmod((release + "/server").c_str(), 0755), 0);
  }
  std::filesystem::create_directory_symlink(dir.file("releases/1"), dir.file("current"));
  const std::string server = dir.file("current/server");
  Launch launch({"--watch", server, "--watch-settle", "200ms"}, {server});
  launch.wait_serving();
  EXPECT_NE(http_get(launch.port, "/info").body.find("APP_RELEASE=1"), std::string::npos);
  std::filesystem::create_directory_symlink(dir.file("releases/2"), dir.file("current.new"));
  std::filesystem::rename(dir.file("current.new"), dir.file("current"));
  const auto status = wait_for_ended(launch.process.pid(), 1);
  ASSERT_TRUE(status) << launch.process.log();
  EXPECT_TRUE(status->last_restart && status->last_restart->succeeded);
  EXPECT_NE(http_get(launch.port, "/info").body.find("APP_RELEASE=2"), std::string::npos);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Deploy, ARestartSignalOfOnesChoiceRestarts) {
  Launch launch({"--restart-signal", "USR1"}, {kTestServer});
  const pid_t first = launch.wait_serving();
  launch.process.signal(SIGUSR1);
  const auto status = wait_for_ended(launch.process.pid(), 1);
  ASSERT_TRUE(status) << launch.process.log();
  EXPECT_TRUE(status->last_restart && status->last_restart->succeeded);
  EXPECT_EQ(status->restart_trigger, "SIGUSR1");
  const auto second = serving_pid(launch.port);
  ASSERT_TRUE(second);
  EXPECT_NE(*second, first);
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Deploy, ARestartSignalReuserunUsesForSomethingElseIsRefused) {
  Process refused({kReuserun, "--port", "1", "--restart-signal", "TERM", "--", kTestServer});
  EXPECT_EQ(refused.wait_exit(5s), 2);
  EXPECT_EQ(refused.log(),
            "reuserun: invalid value 'TERM' for --restart-signal: expected HUP, USR1, WINCH, TTIN "
            "or TTOU\n");
}

}  // namespace
}  // namespace rrtest
