// A real, unmodified server from Debian: lighttpd with server.systemd-socket-activation takes its
// socket from LISTEN_FDS, and stops gracefully on SIGINT. Restarted under load, no request fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kRestarts = 5;

TEST(Lighttpd, RestartsUnderLoadWithZeroFailedRequests) {
  if (::access("/usr/sbin/lighttpd", X_OK) != 0)
    GTEST_SKIP() << "lighttpd is not installed (scripts/deps installs it)";
  TempDir dir;
  const int port = probe_free_port();
  dir.write("index.html", "hello from lighttpd\n");
  // lighttpd uses the inherited socket that matches its bind and port.
  dir.write("lighttpd.conf", "server.document-root = \"" + dir.path() +
                                 "\"\n"
                                 "server.bind = \"127.0.0.1\"\n"
                                 "server.port = " +
                                 std::to_string(port) +
                                 "\n"
                                 "server.systemd-socket-activation = \"enable\"\n"
                                 "server.errorlog = \"" +
                                 dir.file("error.log") +
                                 "\"\n"
                                 "index-file.names = ( \"index.html\" )\n");
  Process reuserun({kReuserun, "--port", std::to_string(port), "--bind", "127.0.0.1",
                    "--stop-signal", "INT", "--stop-timeout", "5s", "--", "/usr/sbin/lighttpd",
                    "-D", "-f", dir.file("lighttpd.conf")});
  ASSERT_TRUE(wait_for_status(
      reuserun.pid(), [](const StatusView& status) { return status.serving.has_value(); }, 10s));
  ASSERT_EQ(http_get(port).body, "hello from lighttpd\n");

  const auto restarts = restart_under_load(reuserun, port, kRestarts, "lighttpd");
  EXPECT_EQ(restarts.succeeded, kRestarts);
  EXPECT_EQ(restarts.load.failed, 0);
  const auto status = ctl_status(reuserun.pid());
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->restarts, kRestarts) << "one restart per SIGHUP, none failed";
  EXPECT_EQ(read_text(dir.file("error.log")).find("ERROR"), std::string::npos)
      << read_text(dir.file("error.log"));

  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(20s), 0);
}

}  // namespace
}  // namespace rrtest
