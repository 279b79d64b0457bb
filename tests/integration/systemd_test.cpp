// reuserun under systemd: the sd_notify sequence a Type=notify-reload unit relies on, observed
// on a NOTIFY_SOCKET that the test owns, and socket activation of reuserun itself, faked by the
// test (it binds, and starts reuserun with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

// The test's stand-in for systemd's notification socket.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);  // who sent it, as systemd sees
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  ~FakeSystemd() {
    ::close(fd_);
    if (passed_ >= 0) ::close(passed_);
  }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next datagram, or "" when none arrives in time.
  std::string next(Millis limit = 10s) {
    pollfd readable{fd_, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(limit.count())) <= 0) return "";
    char buffer[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int))];
    iovec data{buffer, sizeof buffer};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_, &message, MSG_CMSG_CLOEXEC);
    sender_ = 0;
    if (passed_ >= 0) ::close(passed_);
    passed_ = -1;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header))
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
        sender_ = credentials.pid;
      } else if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
        std::memcpy(&passed_, CMSG_DATA(header), sizeof passed_);
      }
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }
  // The pid that sent the last datagram (the kernel's word): what systemd holds as MAINPID.
  pid_t sender() const { return sender_; }
  // The fd that came with the last datagram (FDSTORE=1), -1 when none did. It stays the fake's
  // until the next datagram; take it to keep it.
  int passed() const { return passed_; }
  int take_passed() { return std::exchange(passed_, -1); }

 private:
  std::string path_;
  int fd_ = -1;
  pid_t sender_ = 0;
  int passed_ = -1;
};

long long monotonic_usec_now() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

long long field_number(const std::string& message, const std::string& key) {
  const std::size_t at = message.find(key + "=");
  return at == std::string::npos ? -1 : std::atoll(message.c_str() + at + key.size() + 1);
}

TEST(Systemd, TheWatchdogIsPingedAtHalfItsIntervalAndNotPassedToTheChildren) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  Launch launch({}, {kTestServer}, {systemd.env(), "WATCHDOG_USEC=400000"});
  const auto started = std::chrono::steady_clock::now();
  int pings = 0;
  while (std::chrono::steady_clock::now() - started < 1500ms) {
    const std::string message = systemd.next(1s);
    if (message == "WATCHDOG=1") ++pings;
  }
  // Every 200 ms for 1.5 s: about 8; a loop that pinged at the full interval would send 4.
  EXPECT_GE(pings, 6);
  EXPECT_LE(pings, 10);
  EXPECT_EQ(systemd.sender(), launch.process.pid()) << "reuserun pings, as the unit's main pid";
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  const std::string environment = read_text("/proc/" + std::to_string(child) + "/environ");
  EXPECT_EQ(environment.find("WATCHDOG_USEC="), std::string::npos)
      << "the watchdog is reuserun's, not the child's";
}

TEST(Systemd, AWatchdogMeantForAnotherPidIsIgnored) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  Launch launch({}, {kTestServer}, {systemd.env(), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  ASSERT_GT(launch.wait_serving(), 0);
  int pings = 0;
  for (std::string message = systemd.next(1s); !message.empty(); message = systemd.next(600ms))
    if (message == "WATCHDOG=1") ++pings;
  EXPECT_EQ(pings, 0);
}

// --watchdog: each generation gets its own interval, as systemd would give a service.
TEST(Systemd, EachGenerationGetsItsOwnWatchdogAndOneThatPingsKeepsServing) {
  Launch launch({"--watchdog", "300ms"}, {kTestServer, "--watchdog-for", "-1"});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  const std::string info = http_get(launch.port, "/info").body;
  EXPECT_NE(info.find("WATCHDOG_USEC=300000\n"), std::string::npos) << info;
  EXPECT_NE(info.find("WATCHDOG_PID=" + std::to_string(child) + "\n"), std::string::npos)
      << "WATCHDOG_PID is the child's own pid, as sd_watchdog_enabled(3) checks\n" << info;
  std::this_thread::sleep_for(1200ms);  // four intervals
  EXPECT_EQ(serving_pid(launch.port), child);
  const auto status = ctl_status(launch.process.pid());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->serving, 1);
}

TEST(Systemd, AGenerationThatStopsPingingItsWatchdogIsAbortedAndReplaced) {
  const rlimit no_core{0, 0};  // SIGABRT: no core file of the test server in the build tree
  ASSERT_EQ(::setrlimit(RLIMIT_CORE, &no_core), 0);
  Launch launch({"--watchdog", "300ms"}, {kTestServer, "--watchdog-for", "500"});
  const pid_t hung = launch.wait_serving();
  ASSERT_GT(hung, 0);
  const auto replaced = wait_for_status(
      launch.process.pid(),
      [](const StatusView& status) { return status.serving.value_or(0) >= 2; }, 10s);
  ASSERT_TRUE(replaced) << "the generation that stopped pinging was not replaced";
  EXPECT_FALSE(process_exists(hung));
  EXPECT_TRUE(replaced->pids_of(1).empty());
  const auto answering = serving_pid(launch.port);
  ASSERT_TRUE(answering);
  EXPECT_NE(*answering, hung);
}

TEST(Systemd, NotifiesReadyReloadingReadyAndStopping) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  Launch launch({}, {kTestServer}, {systemd.env()});

  const std::string ready = systemd.next();
  EXPECT_EQ(ready.rfind("READY=1\n", 0), 0u) << ready;
  EXPECT_NE(ready.find("STATUS=serving on 127.0.0.1:"), std::string::npos) << ready;

  launch.process.signal(SIGHUP);
  const std::string reloading = systemd.next();
  EXPECT_EQ(reloading.rfind("RELOADING=1\n", 0), 0u) << reloading;
  const long long stamp = field_number(reloading, "MONOTONIC_USEC");
  EXPECT_GT(stamp, 0) << reloading;
  EXPECT_LE(stamp, monotonic_usec_now()) << "CLOCK_MONOTONIC, as systemd compares it";
  EXPECT_GT(stamp, monotonic_usec_now() - 10'000'000);
  EXPECT_GT(field_number(reloading, "EXTEND_TIMEOUT_USEC"), 0) << reloading;

  const std::string reloaded = systemd.next();
  EXPECT_EQ(reloaded.rfind("READY=1\n", 0), 0u) << reloaded;
  EXPECT_NE(reloaded.find("serving: generation 2"), std::string::npos) << reloaded;

  launch.process.signal(SIGTERM);
  const std::string stopping = systemd.next();
  EXPECT_EQ(stopping.rfind("STOPPING=1\n", 0), 0u) << stopping;
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  // After STOPPING=1 only stop progress (generation 1 may still have been draining): never a
  // READY=1 that would tell systemd the service is back.
  for (std::string after = systemd.next(200ms); !after.empty(); after = systemd.next(200ms))
    EXPECT_EQ(after.rfind("STOPPING=1\n", 0), 0u) << after;
}

TEST(Systemd, RolledBackRestartStillEndsWithReady) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  dir.write("args", "");
  Launch launch({"--ready-timeout", "1s"}, server_with_args_from(dir.file("args")),
                {systemd.env()});
  ASSERT_EQ(systemd.next().rfind("READY=1", 0), 0u);
  dir.write("args", "--no-accept");
  launch.process.signal(SIGHUP);
  EXPECT_EQ(systemd.next().rfind("RELOADING=1", 0), 0u);
  const std::string after = systemd.next();
  EXPECT_EQ(after.rfind("READY=1\n", 0), 0u) << "systemctl reload must not hang: " << after;
  EXPECT_NE(after.find("restart failed"), std::string::npos) << after;
  EXPECT_NE(after.find("serving: generation 1"), std::string::npos) << after;
}

TEST(Systemd, AnUpgradeIsReloadingThenReadyFromTheSameMainPid) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  // The upgrade executes whatever `next` is: reuserun itself first, then a broken build.
  std::filesystem::create_symlink(kReuserun, dir.file("next"));
  Launch launch({"--control-socket", dir.file("ctl.sock"), "--reexec-as", dir.file("next")},
                {kTestServer}, {systemd.env()});
  ASSERT_EQ(systemd.next().rfind("READY=1", 0), 0u);
  const pid_t main_pid = systemd.sender();
  EXPECT_EQ(main_pid, launch.process.pid());
  const std::vector<std::string> upgrade{kReuserun, "ctl", "--control-socket", dir.file("ctl.sock"),
                                         "upgrade"};

  const Captured upgraded = run_captured(upgrade);
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.err;
  const std::string reloading = systemd.next();
  EXPECT_EQ(reloading.rfind("RELOADING=1\n", 0), 0u) << reloading;
  EXPECT_GT(field_number(reloading, "MONOTONIC_USEC"), 0) << reloading;
  EXPECT_NE(reloading.find("STATUS=upgrading reuserun"), std::string::npos) << reloading;
  const std::string ready = systemd.next();
  EXPECT_EQ(ready.rfind("READY=1\n", 0), 0u) << ready;
  EXPECT_NE(ready.find("STATUS=upgraded in place; serving: generation 1"), std::string::npos)
      << ready;
  EXPECT_EQ(systemd.sender(), main_pid) << "the new image speaks from the same pid";

  std::filesystem::remove(dir.file("next"));
  dir.write("next", "#!/bin/sh\nexit 1\n");
  std::filesystem::permissions(dir.file("next"), std::filesystem::perms::owner_all);
  const Captured failed = run_captured(upgrade);
  EXPECT_EQ(failed.exit_code, 15) << failed.err;
  EXPECT_EQ(systemd.next().rfind("RELOADING=1\n", 0), 0u);
  const std::string after = systemd.next();
  EXPECT_EQ(after.rfind("READY=1\n", 0), 0u) << "systemctl must not wait forever: " << after;
  EXPECT_NE(after.find("upgrade failed"), std::string::npos) << after;
}

TEST(Systemd, AStopThatWaitsForADrainExtendsTheTimeoutToReuserunsOwnDeadline) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  dir.write("args", "--ignore-term");  // generation 1 will not drain on its own
  Launch launch({"--stop-timeout", "3s", "--drain-timeout", "60s"},
                server_with_args_from(dir.file("args")), {systemd.env()});
  ASSERT_EQ(systemd.next().rfind("READY=1", 0), 0u);
  dir.write("args", "");
  launch.process.signal(SIGHUP);
  ASSERT_EQ(systemd.next().rfind("RELOADING=1", 0), 0u);
  ASSERT_EQ(systemd.next().rfind("READY=1", 0), 0u);  // generation 1 now drains, forever

  launch.process.signal(SIGTERM);
  const std::string stopping = systemd.next();
  EXPECT_EQ(stopping.rfind("STOPPING=1\n", 0), 0u) << stopping;
  EXPECT_GE(field_number(stopping, "EXTEND_TIMEOUT_USEC"), 3'000'000) << stopping;
  // Generation 2 leaves at once; systemd hears who is still draining, and for how long at most.
  const std::string progress = systemd.next();
  EXPECT_NE(progress.find("STATUS=stopping: waiting for generation 1 (pid "), std::string::npos)
      << progress;
  EXPECT_GT(field_number(progress, "EXTEND_TIMEOUT_USEC"), 1'000'000) << progress;
  EXPECT_LE(field_number(progress, "EXTEND_TIMEOUT_USEC"), 4'000'000) << progress;
  EXPECT_EQ(launch.process.wait_exit(10s), 4) << "generation 1 had to be killed";
}

// A listening socket on 127.0.0.1 as systemd would pass it: not close-on-exec, at an fd number
// of 20 or more so that bash can move it to 3.. without clobbering another.
struct ActivationSocket {
  ActivationSocket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd, 128), 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    this->fd = ::fcntl(fd, F_DUPFD, 20);
    ::close(fd);
    struct stat info {};
    ::fstat(this->fd, &info);
    inode = info.st_ino;
  }
  ~ActivationSocket() { ::close(fd); }
  int fd = -1;
  int port = 0;
  ino_t inode = 0;
};

// reuserun started the way systemd starts a socket-activated service: `variables` in its
// environment, LISTEN_PID its own pid (the shell's $$, kept by exec), the sockets at fds 3...
std::vector<std::string> activated(const std::vector<const ActivationSocket*>& sockets,
                                   const std::string& variables, const std::string& options) {
  std::string redirections;
  for (std::size_t i = 0; i < sockets.size(); ++i)
    redirections += " " + std::to_string(3 + i) + "<&" + std::to_string(sockets[i]->fd);
  for (const auto* socket : sockets) redirections += " " + std::to_string(socket->fd) + "<&-";
  return {"/bin/bash", "-c",  // dash knows fds 0-9 only
          "LISTEN_PID=$$ " + variables + " exec " + kReuserun + " " + options + " -- " +
              kTestServer + redirections};
}

std::string info_of(int port) { return http_get(port, "/info").body; }

TEST(SocketActivation, AdoptedSocketsArePassedOnInOrderWithTheirNames) {
  ActivationSocket web, admin;
  TempDir dir;
  Process reuserun(activated({&web, &admin}, "LISTEN_FDS=2 LISTEN_FDNAMES=web:admin",
                             "--control-socket " + dir.file("ctl.sock")));
  ASSERT_TRUE(wait_until_serving(reuserun.pid(), 10s));
  EXPECT_NE(reuserun.log().find("adopted socket-activation listener 127.0.0.1:" +
                                std::to_string(web.port) + " (web)"),
            std::string::npos);
  EXPECT_EQ(reuserun.log().find("listening on"), std::string::npos) << "it bound nothing";

  // Generation 2 is started by the launcher's first image, generation 3 by its upgraded one.
  for (int generation = 1; generation <= 3; ++generation) {
    const std::string info = info_of(web.port);
    const auto pid = serving_pid(web.port);
    ASSERT_TRUE(pid);
    EXPECT_NE(info.find("LISTEN_FDS=2\n"), std::string::npos) << info;
    EXPECT_NE(info.find("LISTEN_FDNAMES=web:admin\n"), std::string::npos) << info;
    EXPECT_NE(info.find("LISTEN_PID=" + std::to_string(*pid) + "\n"), std::string::npos) << info;
    EXPECT_NE(info.find("fd 3 socket:[" + std::to_string(web.inode) + "]"), std::string::npos)
        << info;
    EXPECT_NE(info.find("fd 4 socket:[" + std::to_string(admin.inode) + "]"), std::string::npos)
        << info;
    if (generation == 2) {
      const Captured upgrade =
          run_captured({kReuserun, "ctl", "--control-socket", dir.file("ctl.sock"), "upgrade"});
      ASSERT_EQ(upgrade.exit_code, 0) << upgrade.err;
    }
    if (generation < 3) {
      const Captured restart =
          run_captured({kReuserun, "ctl", "--control-socket", dir.file("ctl.sock"), "restart"});
      ASSERT_EQ(restart.exit_code, 0) << restart.err;
    }
  }
  const Captured status =
      run_captured({kReuserun, "ctl", "--control-socket", dir.file("ctl.sock"), "status"});
  EXPECT_NE(status.out.find("listening on 127.0.0.1:" + std::to_string(admin.port) + " (admin)"),
            std::string::npos)
      << status.out;
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(10s), 0);
}

TEST(SocketActivation, AnFdThatIsNotAListeningSocketIsRefused) {
  TempDir dir;
  dir.write("not-a-socket", "");
  Process reuserun({"/bin/sh", "-c",
                    "LISTEN_PID=$$ LISTEN_FDS=1 exec " + kReuserun + " -- " + kTestServer + " 3<" +
                        dir.file("not-a-socket")});
  EXPECT_EQ(reuserun.wait_exit(10s), 3);
  EXPECT_NE(reuserun.log().find("socket-activation fd 3 (unknown) is not a socket"),
            std::string::npos);
}

TEST(SocketActivation, VariablesForAnotherPidAreNotOurs) {
  // LISTEN_PID names some other process: reuserun must bind --port itself, or without it refuse.
  Process without_port(
      {"/bin/sh", "-c", "LISTEN_PID=1 LISTEN_FDS=1 exec " + kReuserun + " -- " + kTestServer});
  EXPECT_EQ(without_port.wait_exit(10s), 2);
  EXPECT_NE(without_port.log().find("--port or --listen is required"), std::string::npos);
}

// The next FDSTORE=1 datagram's fd (kept: the caller closes it) and its message; -1 and "" when
// none came within `limit` of the one before.
std::pair<int, std::string> next_stored(FakeSystemd& systemd, Millis limit = 10s) {
  for (int datagrams = 0; datagrams < 20; ++datagrams) {
    const std::string message = systemd.next(limit);
    if (message.empty()) break;
    if (message.find("FDSTORE=1\n") != std::string::npos) return {systemd.take_passed(), message};
  }
  return {-1, ""};
}

ino_t inode_of(int fd) {
  struct stat info {};
  return ::fstat(fd, &info) == 0 ? info.st_ino : 0;
}

// FileDescriptorStoreMax= in a unit: reuserun stores its listener in systemd's fd store when it
// starts, and a reuserun that systemd starts again after the first was SIGKILLed gets it back
// in LISTEN_FDS and serves the very same socket (systemd is the fake; the test does its part).
TEST(FdStore, TheListenerIsStoredAtStartAndARestartedReuserunServesTheSameSocket) {
  TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  Launch first({}, {kTestServer}, {systemd.env(), "FDSTORE=4"});
  auto [stored, message] = next_stored(systemd);
  ASSERT_GE(stored, 0) << "no FDSTORE=1 with an fd";
  EXPECT_NE(message.find("FDNAME=reuserun"), std::string::npos) << message;
  const ino_t inode = inode_of(stored);
  EXPECT_EQ(listening_inodes(first.port), std::set<unsigned long>{inode})
      << "the stored fd is the socket reuserun listens on";
  const pid_t child = first.wait_serving();
  first.process.signal(SIGKILL);
  EXPECT_EQ(first.process.wait_exit(10s), 128 + SIGKILL);

  // systemd hands the store back as it starts the unit again: fd 3, LISTEN_FDNAMES from FDNAME=.
  const int passed = ::fcntl(stored, F_DUPFD, 20);  // not close-on-exec, out of bash's way
  ::close(stored);
  Process second({"/bin/bash", "-c",
                  "LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=reuserun FDSTORE=4 " + systemd.env() +
                      " exec " + kReuserun + " --control-socket " + dir.file("ctl.sock") +
                      " -- " + kTestServer + " 3<&" + std::to_string(passed) + " " +
                      std::to_string(passed) + "<&-"});
  // Like systemd, the fake keeps its copy (found by the attack review: a holder that is no
  // orphan made reuserun overlook the orphan).
  ASSERT_TRUE(wait_until_serving(second.pid(), 10s)) << second.log();
  // The first one's generation outlived it (KillMode=process) and drains once the second's is
  // ready.
  const bool drained = wait_until(
      [&] {
        const auto pid = serving_pid(first.port);
        return pid && *pid != child && !process_exists(child);
      },
      10s);
  if (process_exists(child)) ::kill(child, SIGKILL);  // not below the harness any more
  EXPECT_TRUE(drained) << "a generation of the second reuserun answers, the orphan has exited";
  EXPECT_EQ(listening_inodes(first.port), std::set<unsigned long>{inode});
  EXPECT_NE(info_of(first.port).find("fd 3 socket:[" + std::to_string(inode) + "]"),
            std::string::npos);
  const auto status = ctl_status(second.pid());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->recovery, "fd-store") << "ctl status says where the socket came from";
  EXPECT_NE(status->recovery_detail.find("pid " + std::to_string(child)), std::string::npos)
      << status->recovery_detail;
  // Not stored again: it is in the store already (a socket unit's would be passed twice).
  auto [again, repeated] = next_stored(systemd, 1s);
  EXPECT_EQ(again, -1) << repeated;
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(10s), 0);
  ::close(passed);
}

}  // namespace
}  // namespace rrtest
