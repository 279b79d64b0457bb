// The children's identity and environment: --user/--group (bind as root, serve unprivileged),
// --chdir, --env, --env-file read again for each generation, and the command resolved again at
// each restart (a symlinked release directory).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "harness.hpp"

namespace rrtest {
namespace {

std::string info(int port) { return http_get(port, "/info").body; }

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// After a restart the old generation may still take a connection or two before its stop signal
// is handled: wait (bounded) for the new one to answer.
bool answers_with(int port, const std::string& line) {
  return wait_until([&] { return has_line(info(port), line); }, 5s);
}

TEST(Identity, EnvFileIsReadAgainForEachGenerationAndEnvWins) {
  TempDir dir;
  dir.write("app.env", "# release 1\nAPP_VERSION=1\nAPP_COLOR=red\n");
  Launch launch({"--env-file", dir.file("app.env"), "--env", "APP_COLOR=blue"}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_TRUE(has_line(info(launch.port), "APP_VERSION=1")) << info(launch.port);
  EXPECT_TRUE(has_line(info(launch.port), "APP_COLOR=blue")) << "--env wins over the file";

  dir.write("app.env", "APP_VERSION=2\n");
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  EXPECT_TRUE(answers_with(launch.port, "APP_VERSION=2")) << info(launch.port);

  // A broken file fails that restart, naming the line; the serving generation stays.
  dir.write("app.env", "APP_VERSION=3\nthis is not an assignment\n");
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::failed, 10s, 2));
  EXPECT_NE(launch.process.log().find(dir.file("app.env") + ":2: expected KEY=VALUE"),
            std::string::npos);
  EXPECT_TRUE(has_line(info(launch.port), "APP_VERSION=2"));
}

TEST(Identity, AnUnreadableEnvFileOrMissingDirectoryIsAUsageErrorAtStart) {
  Launch env_file({"--env-file", "/nonexistent/app.env"}, {kTestServer});
  EXPECT_EQ(env_file.process.wait_exit(10s), 2);
  EXPECT_NE(env_file.process.log().find("Failed to read --env-file /nonexistent/app.env"),
            std::string::npos);
  Launch chdir({"--chdir", "/nonexistent"}, {kTestServer});
  EXPECT_EQ(chdir.process.wait_exit(10s), 2);
  EXPECT_NE(chdir.process.log().find("for --chdir: not a directory"), std::string::npos);
}

TEST(Identity, ChdirSetsTheChildsWorkingDirectory) {
  TempDir dir;
  Launch launch({"--chdir", dir.path()}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_TRUE(has_line(info(launch.port), "cwd=" + dir.path())) << info(launch.port);
}

TEST(Identity, RootBindsAndTheChildServesAsAnotherUserAndStillDiesWithReuserun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the child as nobody";
  // A copy of the test server that nobody may run.
  TempDir bin;
  const std::string server = bin.file("test_server");
  std::filesystem::copy_file(kTestServer, server);
  ASSERT_EQ(::chmod(bin.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(server.c_str(), 0755), 0);
  Launch launch({"--user", "nobody", "--pdeathsig"}, {server});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  EXPECT_TRUE(has_line(info(launch.port), "uid=65534 gid=65534")) << info(launch.port);
  // PR_SET_PDEATHSIG is cleared by a change of credentials: it must be set after them.
  launch.process.signal(SIGKILL);
  launch.process.wait_exit(5s);
  EXPECT_TRUE(wait_until([&] { return !process_exists(child); }, 5s))
      << "the unprivileged child outlived reuserun";
  if (process_exists(child)) ::kill(child, SIGKILL);
}

TEST(Identity, TheCommandIsResolvedAgainAtEachRestart) {
  TempDir dir;
  for (const char* release : {"1", "2"}) {
    const std::string release_dir = dir.file(std::string("release-") + release);
    std::filesystem::create_directory(release_dir);
    dir.write(std::string("release-") + release + "/server",
              "#!/bin/sh\nAPP_RELEASE=" + std::string(release) + " exec " + kTestServer + "\n");
    ASSERT_EQ(::chmod((release_dir + "/server").c_str(), 0755), 0);
  }
  std::filesystem::create_directory_symlink(dir.file("release-1"), dir.file("current"));
  Launch launch({}, {dir.file("current/server")});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_TRUE(has_line(info(launch.port), "APP_RELEASE=1"));
  // The deploy: switch the symlink atomically, then restart.
  std::filesystem::create_directory_symlink(dir.file("release-2"), dir.file("next"));
  std::filesystem::rename(dir.file("next"), dir.file("current"));
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  EXPECT_TRUE(answers_with(launch.port, "APP_RELEASE=2")) << info(launch.port);
}

}  // namespace
}  // namespace rrtest
