// The fault table (issue 6): what reuserun does when things go wrong around it. Each test states
// the behaviour a user relies on; rows covered elsewhere are named in the closing comment.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>
#include <sstream>

#include "harness.hpp"

namespace rrtest {
namespace {

// True when a TCP connection to 127.0.0.1:port completes: the kernel answers for a listening
// socket even while nobody accepts (the connection waits in the backlog).
bool tcp_connects(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// utime + stime of a process, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::atol(field.c_str());
    if (i == 15) stime = std::atol(field.c_str());
  }
  return utime + stime;
}

int open_fds(pid_t pid) {
  int count = 0;
  if (DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (const dirent* entry = ::readdir(dir)) count += entry->d_name[0] != '.';
    ::closedir(dir);
  }
  return count;
}

int zombie_children(pid_t pid) {
  int zombies = 0;
  for (pid_t child : child_pids(pid)) zombies += is_zombie(child);
  return zombies;
}

TEST(Fault, AChildThatExitsAtOnceForeverBacksOffAndKeepsThePort) {
  Launch launch({}, {"/bin/sh", "-c", "exit 1"});
  ASSERT_TRUE(launch.process.wait_for_log("generation 1 started", 10s));
  const long ticks_before = cpu_ticks(launch.process.pid());
  // Backoff 100, 200, 400, 800 ms: the fifth failure comes about 1.5 s in, and waits 1.6 s.
  ASSERT_TRUE(launch.process.wait_for_log("(failure 5 in a row)", 10s));
  EXPECT_NE(launch.process.log().find("starting a new one in 1.6s (failure 5 in a row); "
                                      "connections wait in the backlog"),
            std::string::npos);
  EXPECT_LE(launch.process.count_in_log(" started: pid "), 6) << "no tight respawn loop";
  EXPECT_TRUE(tcp_connects(launch.port)) << "the socket stays bound and listening";
  const long ticks = cpu_ticks(launch.process.pid()) - ticks_before;
  const long hz = ::sysconf(_SC_CLK_TCK);
  // A number, not a threshold: speed goals are bench/'s (a loaded CI machine would make it flaky).
  std::cout << "crash loop: reuserun used " << ticks * 1000 / hz << " ms of CPU for 5 respawns\n";
  EXPECT_TRUE(launch.process.running());
  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
}

TEST(Fault, FiftySighupsWithin100msAreCoalescedAndLeaveOneServingGeneration) {
  Launch launch({}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  Load load(launch.port);
  ASSERT_TRUE(load.wait_for_requests(20));
  for (int i = 0; i < 50; ++i) {
    launch.process.signal(SIGHUP);
    ::usleep(2000);
  }
  // Quiet again: one child left, it serves, and no restart is under way.
  const auto quiet = wait_for_status(
      launch.process.pid(),
      [&](const StatusView& status) {
        return status.generations.size() == 1 && status.generations.front().state == "serving" &&
               child_pids(launch.process.pid()).size() == 1;
      },
      30s);
  const auto result = load.stop();
  ASSERT_TRUE(quiet.has_value());
  const int restarts = quiet->restarts;
  ASSERT_TRUE(quiet->last_restart.has_value());
  EXPECT_TRUE(quiet->last_restart->succeeded) << quiet->last_restart->reason;
  std::cout << "50 SIGHUPs: " << restarts << " restarts, " << result.sent << " requests, "
            << result.failed << " failed\n";
  EXPECT_GE(restarts, 1);
  // A restart now takes a few ms (the waiting gate), the signals come 2 ms apart: coalescing
  // shows as far fewer restarts than signals, not as a fixed count.
  EXPECT_LE(restarts, 25) << "coalesced, not one restart per signal";
  EXPECT_EQ(result.failed, 0);
  const auto children = child_pids(launch.process.pid());
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(serving_pid(launch.port), children.front());
  EXPECT_EQ(zombie_children(launch.process.pid()), 0);
  EXPECT_TRUE(descendants(children.front()).empty()) << "no orphan below the child either";
}

TEST(Fault, GenerationsThatIgnoreTheStopSignalAreCappedAtFourDraining) {
  // Every generation ignores SIGTERM and the drain timeout is long: without a cap, each restart
  // would add a process that lingers for a minute.
  Launch launch({"--drain-timeout", "60s"}, {kTestServer, "--ignore-term"});
  std::vector<pid_t> generation_pids{launch.wait_serving()};
  ASSERT_GT(generation_pids.front(), 0);
  for (int restart = 1; restart <= 6; ++restart) {
    launch.process.signal(SIGHUP);
    const auto last = wait_for_restarts(launch.process.pid(), restart, 10s);
    ASSERT_TRUE(last && last->succeeded);
    const auto status = ctl_status(launch.process.pid());
    ASSERT_TRUE(status && status->serving);
    generation_pids.push_back(status->pids_of(*status->serving).front());
  }
  // Serving 7, draining 3..6: generations 1 and 2 were killed.
  EXPECT_TRUE(wait_until([&] { return child_pids(launch.process.pid()).size() == 5; }, 10s));
  EXPECT_FALSE(process_exists(generation_pids[0]));
  EXPECT_FALSE(process_exists(generation_pids[1]));
  for (std::size_t generation = 2; generation < generation_pids.size(); ++generation)
    EXPECT_TRUE(process_exists(generation_pids[generation])) << "generation " << generation + 1;
  // The drainers ignore SIGTERM and still accept on the shared socket: any of them may answer.
  EXPECT_NE(serving_pid(launch.port), std::nullopt);
}

TEST(Fault, ManyRestartsOfAFastChildLeakNoFdsOrZombies) {
#ifdef RRTEST_SANITIZED
  constexpr int kRestarts = 200;
#else
  constexpr int kRestarts = 1000;
#endif
  TempDir dir;
  const std::string socket = dir.file("ctl.sock");
  Launch launch({"--control-socket", socket, "--ready", "exec:true", "--ready-interval", "5ms"},
                {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  const pid_t reuserun = launch.process.pid();
  // Over the control socket, answered when the restart has ended: "0\n..." on success.
  const auto restart = [&] { return unix_exchange(socket, "restart\n").rfind("0\n", 0) == 0; };
  const auto quiet = [&] {
    return wait_until([&] { return child_pids(reuserun).size() == 1; }, 10s);
  };
  // Once the last child is gone, an fd or two still closes a moment later (the control client's
  // connection, the gone worker's notify channel, closed after its handler): counted once it
  // holds for 100 ms. A leak is an fd that never closes.
  const auto settled_fds = [&] {
    int last = -1;
    int same = 0;
    wait_until(
        [&] {
          const int now = open_fds(reuserun);
          same = now == last ? same + 1 : 0;
          last = now;
          return same >= 5;
        },
        5s);  // polled every 20 ms
    return last;
  };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(restart()) << "warm-up " << i;  // buffers, log sink
  ASSERT_TRUE(quiet());
  const int fds_before = settled_fds();
  const long rss_before = vm_rss_kib(reuserun);
  const auto started = std::chrono::steady_clock::now();
  int failed = 0;
  for (int i = 0; i < kRestarts; ++i) failed += !restart();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(quiet());
  const int fds_after = settled_fds();
  const long rss_after = vm_rss_kib(reuserun);
  std::cout << kRestarts << " restarts in " << seconds << " s: fds " << fds_before << " -> "
            << fds_after << ", RSS " << rss_before << " -> " << rss_after << " KiB, zombies "
            << zombie_children(reuserun) << "\n";
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(fds_after, fds_before);
  EXPECT_EQ(zombie_children(reuserun), 0);
  // RSS is printed, not judged: memory goals are bench/'s (restart_bench reports the launcher's
  // peak RSS); the ASan pass of the test command catches what is leaked.
}

TEST(Fault, AStraySameUidProcessJoiningTheReuseportGroupIsReported) {
  Launch launch({}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  Process stray({kTestServer, "--listen", std::to_string(launch.port), "--reuseport"});
  ASSERT_TRUE(
      wait_until([&] { return launch.process.count_in_log("with a socket of its own") > 0; }, 10s));
  EXPECT_NE(launch.process.log().find(
                "pid " + std::to_string(stray.pid()) + " (" + kTestServer + " --listen " +
                std::to_string(launch.port) +
                " --reuseport) listens on 127.0.0.1:" + std::to_string(launch.port)),
            std::string::npos);
  // The watch goes on (a second stray is reported), and reported the first one only once.
  Process second({kTestServer, "--listen", std::to_string(launch.port), "--reuseport"});
  ASSERT_TRUE(wait_until(
      [&] { return launch.process.count_in_log("with a socket of its own") >= 2; }, 10s));
  EXPECT_EQ(launch.process.count_in_log("pid " + std::to_string(stray.pid()) + " ("), 1)
      << "reported once";
  EXPECT_EQ(launch.process.count_in_log("pid " + std::to_string(second.pid()) + " ("), 1);
}

// Hundreds of new sockets on the port every second (reuserun's own uid: SO_REUSEPORT lets no
// other join) cost one pass over /proc a look and at most eight named warnings, the rest counted
// in one line: `ctl status` stays prompt (issue 25, finding 4: 900 a round took 6.4 s and wrote
// 1800 warnings).
TEST(Fault, ManyStraySocketsCostOneLookAndAFewLines) {
  TempDir dir;
  Launch launch({"--control-socket", dir.file("ctl.sock")}, {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  Process strays({"/usr/bin/python3", "-c",
                  "import socket, sys, time\n"
                  "port = int(sys.argv[1])\n"
                  "held = []\n"
                  "for round in range(5):\n"
                  "    fresh = []\n"
                  "    for _ in range(300):\n"
                  "        s = socket.socket()\n"
                  "        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
                  "        s.bind(('127.0.0.1', port))\n"
                  "        s.listen()\n"
                  "        fresh.append(s)\n"
                  "    for s in held:\n"
                  "        s.close()\n"
                  "    held = fresh\n"
                  "    print('round', round, flush=True)\n"
                  "    time.sleep(1)\n",
                  std::to_string(launch.port)});
  double slowest = 0;
  int asked = 0;
  while (strays.running() && asked < 1000) {  // every 10 ms while the rounds last (~5 s)
    const auto began = std::chrono::steady_clock::now();
    const std::string answer = unix_exchange(dir.file("ctl.sock"), "status json\n");
    ASSERT_TRUE(answer.starts_with("0\n{")) << answer;
    slowest = std::max(
        slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    ++asked;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(strays.wait_exit(30s), 0) << strays.log();
  std::printf("1500 stray sockets in 5 rounds: %d status requests, slowest %.1f ms\n", asked,
              slowest * 1000);
  EXPECT_LT(slowest, 0.25);
  EXPECT_LE(launch.process.count_in_log("with a socket of its own"), 8 * 6);
  EXPECT_GE(launch.process.count_in_log("more sockets of their own on the port"), 1);
}

TEST(Fault, ASharedSocketThatStopsListeningIsReportedAndReplaced) {
  TempDir dir;
  dir.write("args", "--shutdown-on-term");  // generation 1 breaks the socket when it stops
  Launch launch({}, server_with_args_from(dir.file("args")));
  ASSERT_GT(launch.wait_serving(), 0);
  dir.write("args", "");
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  EXPECT_TRUE(launch.process.wait_for_log("is no longer listening", 10s));
  EXPECT_TRUE(launch.process.wait_for_log(
      "replaced the socket on 127.0.0.1:" + std::to_string(launch.port) + " with a new one", 10s));
  // Generation 3 got the new socket and serves; nothing refuses connections any more.
  EXPECT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s, 2));
  EXPECT_TRUE(wait_until([&] { return http_get(launch.port).ok; }, 10s));
  const std::string answer = http_get(launch.port).body;
  EXPECT_NE(answer.find("generation=3"), std::string::npos) << answer;
}

// The replacement keeps the socket's own flags: under --protocol nginx the new socket is
// non-blocking like the old one (nginx stalls in accept() on a blocking one). Issue 25,
// finding 9; that it is opened from the whole spec (a unix socket's mode=) is unit-tested.
TEST(Fault, AReplacedSocketKeepsItsNonBlockingFlag) {
  TempDir dir;
  dir.write("args", "--shutdown-on-term");  // generation 1 breaks the socket when it stops
  Launch launch({"--protocol", "nginx"}, server_with_args_from(dir.file("args")));
  ASSERT_GT(launch.wait_serving(), 0);
  dir.write("args", "");
  launch.process.signal(SIGHUP);
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s));
  ASSERT_TRUE(launch.process.wait_for_log("replaced the socket on", 10s));
  ASSERT_TRUE(restart_ended(launch.process.pid(), Ended::succeeded, 10s, 2));
  const auto status = ctl_status(launch.process.pid());
  ASSERT_TRUE(status && status->serving);
  EXPECT_EQ(*status->serving, 3);
  const std::string fdinfo =
      read_text("/proc/" + std::to_string(status->pids_of(*status->serving).at(0)) + "/fdinfo/3");
  const auto at = fdinfo.find("flags:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(std::strtol(fdinfo.c_str() + at + 6, nullptr, 8) & O_NONBLOCK, 0)
      << "the new socket is non-blocking like the old one: " << fdinfo;
}

// Rows covered elsewhere: SIGTERM during a gate (stop_test: StopDuringARestartEndsBothGenerations,
// control_test: StopDuringTheRestartAnswersTheWaitingClient); exec failures (spawn_test); bad input
// (cli_test, stop_test: Cli.*); a child that ignores SIGTERM while draining
// (restart_test: DrainTimeoutKillsAnOldChildThatIgnoresSigterm); load during restarts (zero_drop,
// gunicorn, readiness: ObservingGate.*).

}  // namespace
}  // namespace rrtest
