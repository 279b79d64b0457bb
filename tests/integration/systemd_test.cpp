// reuserun under systemd: the sd_notify sequence a Type=notify-reload unit relies on, observed
// on a NOTIFY_SOCKET that the test owns.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "harness.hpp"

namespace rrtest {
namespace {

// The test's stand-in for systemd's notification socket.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  ~FakeSystemd() { ::close(fd_); }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next datagram, or "" when none arrives in time.
  std::string next(Millis limit = 10s) {
    pollfd readable{fd_, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(limit.count())) <= 0) return "";
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
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
  EXPECT_EQ(systemd.next(200ms), "") << "nothing after STOPPING=1";
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

}  // namespace
}  // namespace rrtest
