// What the child gets: exactly fds 0-3 with the launcher's socket at 3, LISTEN_* for itself, a
// clean signal state, its own process group; and what happens when it cannot be started.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace rrtest {
namespace {

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(prefix, 0) == 0) found.push_back(line);
  return found;
}

std::string value_of(const std::string& text, const std::string& key) {
  const auto found = lines_starting(text, key + "=");
  return found.empty() ? "<absent>" : found.front().substr(key.size() + 1);
}

// "socket:[123]" for each socket fd of a process.
std::vector<std::string> socket_links(pid_t pid) {
  std::vector<std::string> links;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(entry.path(), error).string();
    if (target.rfind("socket:", 0) == 0) links.push_back(target);
  }
  return links;
}

TEST(Spawn, ChildSeesExactlyFds0To3WithTheLaunchersSocketAt3) {
  Launch launch({}, {kTestServer},
                {"LISTEN_FDS=7", "LISTEN_PID=1", "LISTEN_FDNAMES=bogus", "NOTIFY_SOCKET=/nowhere"});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  const HttpResult info = http_get(launch.port, "/info");
  ASSERT_TRUE(info.ok) << info.error;

  const auto fds = lines_starting(info.body, "fd ");
  ASSERT_EQ(fds.size(), 4u) << info.body;
  EXPECT_EQ(fds[0].substr(0, 5), "fd 0 ");
  EXPECT_EQ(fds[3].substr(0, 5), "fd 3 ");
  const std::string socket = fds[3].substr(5, fds[3].find(' ', 5) - 5);  // "socket:[N] stream"
  const auto launcher_sockets = socket_links(launch.process.pid());
  EXPECT_NE(std::find(launcher_sockets.begin(), launcher_sockets.end(), socket),
            launcher_sockets.end())
      << "fd 3 is " << socket << ", not a socket the launcher holds";
}

TEST(Spawn, ListenVariablesDescribeTheChildItselfAndNothingOfTheLaunchersLeaks) {
  Launch launch({}, {kTestServer},
                {"LISTEN_FDS=7", "LISTEN_PID=1", "LISTEN_FDNAMES=bogus", "NOTIFY_SOCKET=/nowhere"});
  const pid_t child = launch.wait_serving();
  const HttpResult info = http_get(launch.port, "/info");
  ASSERT_TRUE(info.ok) << info.error;
  EXPECT_EQ(value_of(info.body, "LISTEN_FDS"), "1");
  EXPECT_EQ(value_of(info.body, "LISTEN_PID"), std::to_string(child));
  EXPECT_EQ(value_of(info.body, "LISTEN_FDNAMES"), "reuserun");
  const std::string notify = value_of(info.body, "NOTIFY_SOCKET");
  EXPECT_NE(notify, "/nowhere") << "reuserun's own NOTIFY_SOCKET must not reach the child";
  // A private channel of its own: a socket file only the children's user can reach.
  ASSERT_TRUE(notify.starts_with("/") && notify.ends_with("/notify")) << notify;
  struct stat socket_info {};
  struct stat directory_info {};
  ASSERT_EQ(::lstat(notify.c_str(), &socket_info), 0) << notify;
  ASSERT_EQ(::lstat(notify.substr(0, notify.rfind('/')).c_str(), &directory_info), 0);
  EXPECT_TRUE(S_ISSOCK(socket_info.st_mode));
  EXPECT_EQ(socket_info.st_mode & 07777, 0600u);
  EXPECT_TRUE(S_ISDIR(directory_info.st_mode));
  EXPECT_EQ(directory_info.st_mode & 07777, 0700u);
}

TEST(Spawn, ChildHasACleanSignalStateAndItsOwnProcessGroup) {
  Launch launch({}, {kTestServer});
  const pid_t child = launch.wait_serving();
  const HttpResult info = http_get(launch.port, "/info");
  ASSERT_TRUE(info.ok) << info.error;
  EXPECT_EQ(lines_starting(info.body, "SigBlk:").at(0), "SigBlk:\t0000000000000000");
  EXPECT_EQ(lines_starting(info.body, "SigIgn:").at(0), "SigIgn:\t0000000000000000")
      << "reuserun ignores SIGPIPE; the child must not inherit that";
  EXPECT_EQ(value_of(info.body, "pgid"), std::to_string(child));
}

TEST(Spawn, ChildArgvIsPassedVerbatimAndGenerationIsInTheEnvironment) {
  TempDir dir;
  Launch launch(
      {}, {"/bin/sh", "-c",
           "echo \"$0|$1|$REUSERUN_GENERATION\" > " + dir.file("argv") + "; exec " + kTestServer,
           "--port", "--not-ours"});
  ASSERT_GT(launch.wait_serving(), 0);
  std::ifstream file(dir.file("argv"));
  std::string line;
  std::getline(file, line);
  EXPECT_EQ(line, "--port|--not-ours|1");
}

TEST(Spawn, MissingCommandExits127WithOneLineNamingIt) {
  Launch launch({}, {"/nonexistent/server"});
  EXPECT_EQ(launch.process.wait_exit(10s), 127);
  EXPECT_NE(launch.process.log().find("Failed to execute /nonexistent/server: No such file"),
            std::string::npos);
}

TEST(Spawn, CommandNotInPathExits127) {
  Launch launch({}, {"reuserun-no-such-command"});
  EXPECT_EQ(launch.process.wait_exit(10s), 127);
}

TEST(Spawn, NotExecutableCommandExits126) {
  TempDir dir;
  dir.write("server", "#!/bin/sh\n");  // mode 0644
  Launch launch({}, {dir.file("server")});
  EXPECT_EQ(launch.process.wait_exit(10s), 126);
  EXPECT_NE(launch.process.log().find("Permission denied"), std::string::npos);
}

TEST(Spawn, MissingInterpreterIsAnExecFailure) {
  TempDir dir;
  dir.write("server", "#!/nonexistent/interpreter\n");
  std::filesystem::permissions(dir.file("server"), std::filesystem::perms::owner_all);
  Launch launch({}, {dir.file("server")});
  const auto code = launch.process.wait_exit(10s);
  EXPECT_EQ(code, 127);
  EXPECT_NE(launch.process.log().find("Failed to execute " + dir.file("server") +
                                      ": its interpreter was not found"),
            std::string::npos);
}

TEST(Spawn, CommandThatDisappearsBeforeARestartIsRolledBackWithoutAZombie) {
  TempDir dir;
  std::filesystem::copy_file(kTestServer, dir.file("server"));
  Launch launch({}, {dir.file("server")});
  const pid_t old = launch.wait_serving();
  ASSERT_GT(old, 0);
  std::filesystem::remove(dir.file("server"));
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::failed, 10s));
  EXPECT_EQ(serving_pid(launch.port), old);
  for (pid_t child : child_pids(launch.process.pid())) EXPECT_FALSE(is_zombie(child)) << child;
}

}  // namespace
}  // namespace rrtest
