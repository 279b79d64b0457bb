// Datagram and seqpacket listeners (--listen udp:, unix-dgram:, unix-seqpacket:): bound once,
// handed over in order like the others, never read by reuserun. A restart loses no datagram:
// what the old generation has not read when it stops stays queued in the shared socket for the
// new one.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kRestarts = 5;

// A UDP client sending numbered queries one after another to 127.0.0.1:port, each waiting up to
// 2 s for its answer ("<query> pid=<pid>"), until stopped or a bound (count, time) is reached.
class QueryStream {
 public:
  explicit QueryStream(int port) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to);
    thread_ = std::thread([this] { run(); });
  }
  ~QueryStream() {
    stop();
    ::close(fd_);
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long sent() const { return sent_; }
  long answered() const { return answered_; }
  std::set<pid_t> answerers() const {
    std::lock_guard guard(lock_);
    return answerers_;
  }

 private:
  void run() {
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (long query = 0; !stop_ && query < 200000 && std::chrono::steady_clock::now() < until;
         ++query) {
      const std::string text = "q" + std::to_string(query);
      if (::send(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) continue;
      ++sent_;
      const auto deadline = std::chrono::steady_clock::now() + 2s;
      while (std::chrono::steady_clock::now() < deadline) {
        pollfd readable{fd_, POLLIN, 0};
        if (::poll(&readable, 1, 100) <= 0) continue;
        char buffer[256];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer - 1, 0);
        if (n <= 0) continue;
        const std::string answer(buffer, static_cast<std::size_t>(n));
        if (answer.rfind(text + " pid=", 0) != 0) continue;  // a late answer to an earlier query
        ++answered_;
        std::lock_guard guard(lock_);
        answerers_.insert(std::atoi(answer.c_str() + text.size() + 5));
        break;
      }
    }
  }

  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<long> sent_{0}, answered_{0};
  mutable std::mutex lock_;
  std::set<pid_t> answerers_;
  std::thread thread_;
};

TEST(Datagrams, EveryUdpQueryIsAnsweredThroughFiveRestarts) {
  TempDir dir;
  const int port = probe_free_port();
  Process reuserun({kReuserun, "--listen", "udp:127.0.0.1:" + std::to_string(port),
                    "--control-socket", dir.file("ctl.sock"), "--ready", "notify", "--",
                    kTestServer, "--notify"});
  ASSERT_TRUE(wait_until_serving(reuserun.pid()));
  QueryStream queries(port);
  ASSERT_TRUE(wait_until([&] { return queries.answered() >= 50; }, 10s));
  for (int restart = 1; restart <= kRestarts; ++restart) {
    const long before = queries.answered();
    ASSERT_TRUE(wait_until([&] { return queries.answered() >= before + 50; }, 10s));
    reuserun.signal(SIGHUP);
    const auto last = wait_for_restarts(reuserun.pid(), restart, 15s);
    ASSERT_TRUE(last && last->succeeded) << "restart " << restart;
  }
  const long before = queries.answered();
  ASSERT_TRUE(wait_until([&] { return queries.answered() >= before + 50; }, 10s));
  queries.stop();
  std::printf("udp: %d restarts, %ld queries sent, %ld answered, by %zu pids\n", kRestarts,
              queries.sent(), queries.answered(), queries.answerers().size());
  EXPECT_EQ(queries.answered(), queries.sent()) << "every query answered: no datagram lost";
  EXPECT_EQ(queries.answerers().size(), static_cast<std::size_t>(kRestarts + 1))
      << "every generation answered its share";
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(10s), 0);
}

TEST(Datagrams, UnixDatagramAndSeqpacketSocketsAreHandedInOrderWithTheirNames) {
  TempDir dir;
  const std::string dgram = dir.file("log.sock");
  const std::string seqpacket = dir.file("app.sock");
  Launch launch({"--listen", "unix-dgram:" + dgram + ",name=log,mode=0620", "--listen",
                 "unix-seqpacket:" + seqpacket + ",name=app", "--protocol",
                 "systemd,server-starter"},
                {kTestServer});
  const pid_t child = launch.wait_serving();
  ASSERT_GT(child, 0);
  const std::string info = http_get(launch.port, "/info").body;
  EXPECT_NE(info.find("LISTEN_FDS=3\n"), std::string::npos) << info;
  EXPECT_NE(info.find("LISTEN_FDNAMES=reuserun:log:app\n"), std::string::npos) << info;
  EXPECT_NE(info.find("] stream\nfd 4 socket:["), std::string::npos) << info;
  EXPECT_NE(info.find("] dgram\nfd 5 socket:["), std::string::npos) << info;
  EXPECT_NE(info.find("] seqpacket\n"), std::string::npos) << info;
  EXPECT_NE(info.find("SERVER_STARTER_PORT=127.0.0.1:" + std::to_string(launch.port) + "=3;" +
                      dgram + "=4;" + seqpacket + "=5\n"),
            std::string::npos)
      << info;

  // The datagram socket answers the generation's pid to a bound client.
  const int client = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un self{};
  self.sun_family = AF_UNIX;
  const std::string self_path = dir.file("client.sock");
  std::strncpy(self.sun_path, self_path.c_str(), sizeof self.sun_path - 1);
  ASSERT_EQ(::bind(client, reinterpret_cast<sockaddr*>(&self), sizeof self), 0);
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::strncpy(to.sun_path, dgram.c_str(), sizeof to.sun_path - 1);
  ASSERT_EQ(::sendto(client, "hello", 5, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 5);
  pollfd readable{client, POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 5000), 1);
  char answer[128] = {};
  ASSERT_GT(::recv(client, answer, sizeof answer - 1, 0), 0);
  EXPECT_EQ(std::string(answer), "hello pid=" + std::to_string(child) + "\n");
  ::close(client);

  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  EXPECT_NE(::access(dgram.c_str(), F_OK), 0) << "reuserun's socket files go with it";
  EXPECT_NE(::access(seqpacket.c_str(), F_OK), 0);
}

TEST(Datagrams, UdpServerStarterPortsCarryTheirUPrefix) {
  const int udp = probe_free_port();
  Launch launch({"--listen", "udp:127.0.0.1:" + std::to_string(udp), "--protocol",
                 "server-starter"},
                {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  const std::string info = http_get(launch.port, "/info").body;
  EXPECT_NE(info.find("SERVER_STARTER_PORT=127.0.0.1:" + std::to_string(launch.port) +
                      "=3;u127.0.0.1:" + std::to_string(udp) + "=4\n"),
            std::string::npos)
      << info;
}

// auto needs no probe: a thread of the new generation blocked reading the socket, or polling
// it, is what /proc shows (docs/DESIGN.md §2).
class DatagramWaits : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(DatagramWaits, AutoSeesTheGenerationWaitOnAUdpSocket) {
  TempDir dir;
  const int port = probe_free_port();
  Process reuserun({kReuserun, "--listen", "udp:127.0.0.1:" + std::to_string(port),
                    "--control-socket", dir.file("ctl.sock"), "--", kTestServer, "--wait",
                    GetParam().first});
  const auto status = wait_for_status(
      reuserun.pid(), [](const StatusView& now) { return now.serving.has_value(); }, 10s);
  ASSERT_TRUE(status);
  ASSERT_EQ(status->generations.size(), 1u);
  EXPECT_NE(status->generations[0].ready_by.find(GetParam().second), std::string::npos)
      << status->generations[0].ready_by;
  QueryStream queries(port);
  EXPECT_TRUE(wait_until([&] { return queries.answered() >= 10; }, 10s));
}

INSTANTIATE_TEST_SUITE_P(Each, DatagramWaits,
                         ::testing::Values(std::pair{"poll", "waits in poll"},
                                           std::pair{"accept", "waits in recv"}),
                         [](const auto& info) { return std::string(info.param.first); });

TEST(Datagrams, AGateThatNeedsAConnectionIsRefusedAtStartForDatagramOnlySockets) {
  const int port = probe_free_port();
  const auto refused =
      run_captured({kReuserun, "--listen", "udp:127.0.0.1:" + std::to_string(port), "--ready",
                    "accept", "--", kTestServer});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--ready accept probes a TCP listener"), std::string::npos)
      << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;

  const auto bad = run_captured({kReuserun, "--listen", "udp:localhost:53", "--", kTestServer});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("invalid value 'udp:localhost:53' for --listen"), std::string::npos)
      << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

// A UDP server that binds the port by itself and says so, as a stale process would.
std::vector<std::string> udp_holder(int port) {
  return {"/usr/bin/python3", "-c",
          "import socket, sys, time\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
          "s.bind(('127.0.0.1', " + std::to_string(port) + "))\n"
          "print('bound', flush=True)\n"
          "time.sleep(60)\n"};
}

std::vector<std::string> reuserun_on_udp(int port, const TempDir& dir) {
  return {kReuserun,  "--listen", "udp:127.0.0.1:" + std::to_string(port),
          "--control-socket", dir.file("ctl.sock"), "--ready", "delay:50ms", "--",
          kTestServer};
}

TEST(Datagrams, AStaleUdpServerOfTheSameUserIsAskedToLeave) {
  TempDir dir;
  const int port = probe_free_port();
  Process stale(udp_holder(port));
  ASSERT_TRUE(stale.wait_for_log("bound", 10s));
  Process reuserun(reuserun_on_udp(port, dir));
  EXPECT_EQ(stale.wait_exit(10s), 128 + SIGTERM) << "the stale holder got SIGTERM";
  EXPECT_TRUE(wait_until_serving(reuserun.pid(), 10s));
}

TEST(Datagrams, AnotherUsersUdpSocketOnThePortIsSparedAndReuserunExits3) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the other user";
  TempDir dir;
  const int port = probe_free_port();
  Process theirs(as_nobody(udp_holder(port)));
  ASSERT_TRUE(theirs.wait_for_log("bound", 10s));
  Process reuserun(reuserun_on_udp(port, dir));
  EXPECT_EQ(reuserun.wait_exit(10s), 3);
  EXPECT_TRUE(theirs.running()) << "nothing was signalled";
  EXPECT_NE(reuserun.log().find("pid " + std::to_string(theirs.pid()) + " (user nobody)"),
            std::string::npos);
}

}  // namespace
}  // namespace rrtest
