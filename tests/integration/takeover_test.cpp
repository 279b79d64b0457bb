// The bind takeover (lib/runtime/bind_takeover.hpp): a server that binds reuserun's port itself is given
// the shared socket at its own bind(), so it restarts without a lost request and with one
// listening socket on the port at all times; other binds are left alone; the family must agree;
// it can be turned off, and where the kernel refuses it reuserun runs as before.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace rrtest {
namespace {

// The socket inode behind fd `fd` of `pid`, 0 when it is none.
unsigned long socket_inode(pid_t pid, int fd) {
  char target[64] = {};
  const std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  if (::readlink(link.c_str(), target, sizeof target - 1) <= 0) return 0;
  unsigned long inode = 0;
  return std::sscanf(target, "socket:[%lu]", &inode) == 1 ? inode : 0;
}

// A field of /proc/PID/status ("NoNewPrivs", "Seccomp_filters"), -1 when absent.
int status_number(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::atoi(line.c_str() + field.size() + 1);
  return -1;
}

// How many fds of `pid` are seccomp notification fds.
int notification_fds(pid_t pid) {
  int count = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    char target[64] = {};
    const std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    if (::readlink(link.c_str(), target, sizeof target - 1) > 0 &&
        std::string(target) == "anon_inode:seccomp notify")
      ++count;
  }
  return count;
}

std::vector<std::string> reuserun_in_front(int port, std::vector<std::string> options,
                                           std::vector<std::string> command) {
  std::vector<std::string> argv{kReuserun, "--port", std::to_string(port)};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::optional<StatusView> serving_status(pid_t reuserun) {
  return wait_for_status(
      reuserun, [](const StatusView& status) { return status.serving.has_value(); }, 10s);
}

TEST(Takeover, AServerBindingThePortItselfRestartsUnderLoadOnTheOneSharedSocket) {
  const int port = probe_free_port();
  const std::string self = std::to_string(port);
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1"},
                                     {kTestServer, "--listen", self, "--reuseport"}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status) << "never served";
  ASSERT_EQ(status->generations.size(), 1u);
  EXPECT_EQ(status->generations[0].bound_itself, "127.0.0.1:" + self);
  const auto shared = listening_inodes(port);
  ASSERT_EQ(shared.size(), 1u) << "the server's own SO_REUSEPORT socket joined reuserun's";
  // fd 3 is what reuserun handed; fd 4 is the one the server bound: the same socket.
  EXPECT_EQ(socket_inode(status->generations[0].pid, 4), *shared.begin());

  ListenerCount listeners(port);
  const auto restarts = restart_under_load(reuserun, port, 5, "test server, binding itself");
  listeners.finish();
  EXPECT_EQ(restarts.succeeded, 5);
  EXPECT_GT(restarts.load.sent, 0);
  EXPECT_EQ(restarts.load.failed, 0);
  EXPECT_EQ(listeners.most(), 1) << "a second listening socket appeared on the port";
  EXPECT_EQ(listeners.fewest(), 1) << "the port had no listening socket for a moment";
  EXPECT_EQ(listening_inodes(port), shared) << "the one socket is still reuserun's first";
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

// Go, libuv and asyncio make their socket non-blocking and hang on a blocking one; options set
// before bind() are the server's too. The shared socket follows, while nothing has been served.
TEST(Takeover, TheSharedSocketFollowsTheServersNonBlockingFlagAndOptions) {
  const int port = probe_free_port();
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1"},
                                     {kTestServer, "--listen", std::to_string(port),
                                      "--nonblocking", "--defer-accept", "5"}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status);
  const pid_t child = status->generations.at(0).pid;
  const std::string info = read_text("/proc/" + std::to_string(child) + "/fdinfo/4");
  const auto flags = info.find("flags:");
  ASSERT_NE(flags, std::string::npos) << info;
  EXPECT_NE(std::strtoul(info.c_str() + flags + 6, nullptr, 8) & O_NONBLOCK, 0u) << info;
  // Its fd 4 is reuserun's socket now: ask it (root may take another process's fd).
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  ASSERT_GE(pidfd, 0);
  const int shared = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, 4, 0));
  ::close(pidfd);
  ASSERT_GE(shared, 0);
  int defer = 0;
  socklen_t length = sizeof defer;
  EXPECT_EQ(::getsockopt(shared, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, &length), 0);
  ::close(shared);
  EXPECT_GT(defer, 0) << "TCP_DEFER_ACCEPT was lost with the server's own socket";
  EXPECT_EQ(listening_inodes(port).size(), 1u);
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

// `--port 8080 -- server --port 8000`: nothing waits on reuserun's port, and the failure of its
// gate names both ports.
TEST(Takeover, AServerListeningOnAnotherPortIsNamedWhenItsGateFails) {
  const int port = probe_free_port();
  int other = probe_free_port();
  while (other == port) other = probe_free_port();
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1", "--ready-timeout", "1s"},
                                     {kTestServer, "--listen", std::to_string(other)}));
  ASSERT_TRUE(reuserun.wait_for_log("reuserun's port " + std::to_string(port), 10s));
  EXPECT_GE(reuserun.count_in_log("--port " + std::to_string(other)), 1);
  EXPECT_EQ(listening_inodes(port).size(), 1u) << "reuserun's, untouched";
  reuserun.signal(SIGTERM);
  EXPECT_TRUE(reuserun.wait_exit(20s).has_value());
}

// More calls waiting at once than the loop answers in one turn: the rest are answered too (the
// reactor gives no new edge for calls already waiting). reuserun is stopped while 64 threads
// bind, so that all 64 wait when it goes on.
TEST(Takeover, ABurstOfBindsFromManyThreadsIsAllAnswered) {
  const int port = probe_free_port();
  TempDir dir;
  const std::string script =
      "import os, socket, sys, threading, time\n"
      "go, started = sys.argv[2], sys.argv[3]\n"
      "deadline = time.monotonic() + 20\n"
      "while not os.path.exists(go) and time.monotonic() < deadline:\n"
      "    time.sleep(0.01)\n"
      "done = []\n"
      "def bind():\n"
      "    s = socket.socket()\n"
      "    s.bind(('127.0.0.1', 0))\n"
      "    done.append(s)\n"
      "threads = [threading.Thread(target=bind) for _ in range(64)]\n"
      "[t.start() for t in threads]\n"
      "open(started, 'w').close()\n"
      "[t.join() for t in threads]\n"
      "assert len(done) == 64\n"
      "import http.server\n"
      "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler,\n"
      "                 ServerClass=http.server.ThreadingHTTPServer, port=int(sys.argv[1]),\n"
      "                 bind='127.0.0.1')\n";
  dir.write("burst.py", script);
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1"},
                                     {"/usr/bin/python3", dir.file("burst.py"),
                                      std::to_string(port), dir.file("go"),
                                      dir.file("started")}));
  ASSERT_TRUE(wait_until([&] { return !child_pids(reuserun.pid()).empty(); }, 10s));
  reuserun.signal(SIGSTOP);
  dir.write("go", "");
  const bool started =
      wait_until([&] { return ::access(dir.file("started").c_str(), F_OK) == 0; }, 10s);
  std::this_thread::sleep_for(300ms);  // every thread in its bind(), waiting for reuserun
  reuserun.signal(SIGCONT);
  ASSERT_TRUE(started);
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status) << "a bind of the burst was never answered";
  EXPECT_EQ(status->generations.at(0).bound_itself, "127.0.0.1:" + std::to_string(port));
  reuserun.signal(SIGTERM);
  EXPECT_TRUE(reuserun.wait_exit(20s).has_value());
}

// Python's socketserver calls listen(5) on the socket it bound: on the shared socket that would
// shrink the backlog of every generation. A burst of 64 connections while the server is paused
// must all be queued (with a backlog of 5, the kernel drops the SYNs past the sixth).
TEST(Takeover, ListenOnTheSharedSocketKeepsReuserunsBacklog) {
  const int port = probe_free_port();
  TempDir dir;
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1"},
                                     {"/usr/bin/python3", "-m", "http.server", "--bind",
                                      "127.0.0.1", "--directory", dir.path(),
                                      std::to_string(port)}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status);
  const pid_t child = status->generations.at(0).pid;
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  std::vector<int> clients;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    clients.push_back(fd);
  }
  int established = 0;
  for (const int fd : clients) {
    pollfd writable{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (::poll(&writable, 1, 1000) == 1 &&
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0)
      ++established;
  }
  ::kill(child, SIGCONT);
  for (const int fd : clients) ::close(fd);
  EXPECT_EQ(established, 64) << "connections queued while the server was paused";
  reuserun.signal(SIGTERM);
  EXPECT_TRUE(reuserun.wait_exit(20s).has_value());
}

TEST(Takeover, AServerOfTheOtherFamilyThanBindEndsTheFirstStartWithStatus3) {
  const int port = probe_free_port();
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1"},
                                     {kTestServer, "--listen6", std::to_string(port)}));
  EXPECT_EQ(reuserun.wait_exit(20s), 3) << "retrying changes nothing: the families disagree";
  EXPECT_TRUE(child_pids(reuserun.pid()).empty());
  EXPECT_EQ(reuserun.count_in_log("--bind ::1"), 1) << "the one line names the --bind that agrees";
}

TEST(Takeover, TheFirstGenerationsOwnAddressMovesASocketNoBindChose) {
  // `reuserun --port P -- server` with no --bind holds [::]:P; the server binds 127.0.0.1:P.
  const int port = probe_free_port();
  Process reuserun(reuserun_in_front(port, {}, {kTestServer, "--listen", std::to_string(port)}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status);
  ASSERT_EQ(status->listeners.size(), 1u);
  EXPECT_EQ(status->listeners[0], "127.0.0.1:" + std::to_string(port))
      << "reuserun's socket moved where the server asked, no wider";
  EXPECT_EQ(listening_inodes(port).size(), 1u) << "the socket it left stopped listening";
  ASSERT_TRUE(http_get(port).ok);
  reuserun.signal(SIGHUP);
  const auto restarted = wait_for_restarts(reuserun.pid(), 1);
  ASSERT_TRUE(restarted);
  EXPECT_TRUE(restarted->succeeded) << restarted->reason;
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

TEST(Takeover, ABindOfAnotherPortIsLeftAlone) {
  const int port = probe_free_port();
  int admin = probe_free_port();
  while (admin == port) admin = probe_free_port();
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1"},
                                     {kTestServer, "--also-listen", std::to_string(admin)}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status);
  const pid_t child = status->generations.at(0).pid;
  EXPECT_EQ(status->generations[0].bound_itself, "") << "it took its socket from fd 3";
  const auto own = listening_inodes(admin);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(reuserun.count_in_log("not on reuserun's port"), 0) << "it serves fd 3: no mistake";
  EXPECT_EQ(socket_inode(child, 4), *own.begin()) << "its admin port is its own socket";
  EXPECT_NE(*own.begin(), *listening_inodes(port).begin());
  EXPECT_TRUE(http_get(admin).ok);
  EXPECT_TRUE(http_get(port).ok);
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

TEST(Takeover, TurnedOffTheChildHasNoFilterAndKeepsItsOwnSocket) {
  const int port = probe_free_port();
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1", "--no-bind-takeover"},
                                     {kTestServer, "--listen", std::to_string(port),
                                      "--reuseport"}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status);
  const pid_t child = status->generations.at(0).pid;
  EXPECT_EQ(status_number(child, "Seccomp_filters"), 0);
  EXPECT_EQ(status_number(child, "NoNewPrivs"), 0);
  EXPECT_EQ(listening_inodes(port).size(), 2u) << "its own socket beside reuserun's";
  EXPECT_EQ(status->generations[0].bound_itself, "");
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

TEST(Takeover, WhereTheKernelRefusesTheFilterReuserunRunsAsBefore) {
  const int port = probe_free_port();
  std::vector<std::string> argv =
      reuserun_in_front(port, {"--bind", "127.0.0.1"}, {kTestServer});
  argv.insert(argv.begin(), kNoSeccomp);
  Process reuserun(argv);
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status) << "a refused filter must not stop a child that takes fd 3";
  const pid_t child = status->generations.at(0).pid;
  EXPECT_EQ(status_number(child, "Seccomp_filters"), 1) << "no_seccomp's own filter only";
  EXPECT_TRUE(http_get(port).ok);
  reuserun.signal(SIGHUP);
  const auto restarted = wait_for_restarts(reuserun.pid(), 1);
  ASSERT_TRUE(restarted);
  EXPECT_TRUE(restarted->succeeded) << restarted->reason;
  EXPECT_EQ(reuserun.count_in_log("user notification"), 1) << "said once, not once per generation";
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

TEST(Takeover, RootWithUserInstallsTheFilterBeforeDroppingSoSetuidProgramsKeepWorking) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const int port = probe_free_port();
  TempDir dir;
  const std::string server = copy_for_nobody(kTestServer, dir);
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1", "--user", "nobody"},
                                     {server, "--listen", std::to_string(port)}));
  const auto status = serving_status(reuserun.pid());
  ASSERT_TRUE(status);
  const pid_t child = status->generations.at(0).pid;
  EXPECT_EQ(status->generations[0].bound_itself, "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(status_number(child, "NoNewPrivs"), 0);
  EXPECT_EQ(status_number(child, "Seccomp_filters"), 1);
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

TEST(Takeover, AnUnprivilegedReuserunSetsNoNewPrivsInTheChildAndTakesOverAllTheSame) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  const int port = probe_free_port();
  TempDir dir;
  const std::string reuserun_copy = copy_for_nobody(kReuserun, dir);
  const std::string server = copy_for_nobody(kTestServer, dir);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);  // for its control socket
  Process reuserun(as_nobody({reuserun_copy, "--port", std::to_string(port), "--bind",
                              "127.0.0.1", "--control-socket", dir.file("ctl.sock"), "--",
                              server, "--listen", std::to_string(port), "--reuseport"}));
  std::optional<pid_t> child;
  ASSERT_TRUE(wait_until([&] { return (child = serving_pid(port)).has_value(); }, 10s));
  EXPECT_EQ(status_number(*child, "NoNewPrivs"), 1);
  EXPECT_EQ(listening_inodes(port).size(), 1u) << "given reuserun's socket: no second one";
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

TEST(Takeover, TheNotificationFdsSurviveAnInPlaceUpgrade) {
  const int port = probe_free_port();
  Process reuserun(reuserun_in_front(port, {"--bind", "127.0.0.1", "--workers", "2"},
                                     {kTestServer, "--listen", std::to_string(port),
                                      "--reuseport"}));
  ASSERT_TRUE(serving_status(reuserun.pid()));
  EXPECT_EQ(notification_fds(reuserun.pid()), 2) << "one per worker";
  reuserun.signal(SIGUSR2);
  const auto upgraded = wait_for_status(
      reuserun.pid(), [](const StatusView& status) { return status.upgrades == 1; }, 15s);
  ASSERT_TRUE(upgraded);
  EXPECT_EQ(notification_fds(reuserun.pid()), 2);
  ASSERT_EQ(upgraded->generations.size(), 2u);
  for (const auto& worker : upgraded->generations)
    EXPECT_EQ(worker.bound_itself, "127.0.0.1:" + std::to_string(port)) << "carried over";
  reuserun.signal(SIGHUP);
  const auto restarted = wait_for_restarts(reuserun.pid(), 1);
  ASSERT_TRUE(restarted);
  EXPECT_TRUE(restarted->succeeded) << restarted->reason;
  EXPECT_EQ(listening_inodes(port).size(), 1u);
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

}  // namespace
}  // namespace rrtest
