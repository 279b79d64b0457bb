// Reading how a thread waits from /proc text: the syscall line, epoll's fdinfo, fd links; and a
// fake /proc laid out in a directory for the whole-tree search.
#include "socket_waiters.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace reuserun {
namespace {

TEST(SocketWaiters, ASyscallLineGivesTheNumberAndArguments) {
  const auto call = parse_syscall_line(
      "232 0x4 0x7ffd5f1c8a40 0x20 0xffffffff 0x0 0x8 0x7ffd5f1c8a28 "
      "0x7f3c2e8d1e2e\n");
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->number, 232);
  EXPECT_EQ(call->args[0], 4UL);
  EXPECT_EQ(call->args[1], 0x7ffd5f1c8a40UL);
  EXPECT_EQ(call->args[3], 0xffffffffUL);
}

TEST(SocketWaiters, ARunningThreadOrOneOutsideASyscallSaysNothing) {
  EXPECT_FALSE(parse_syscall_line("running\n").has_value());
  EXPECT_FALSE(parse_syscall_line("-1 0x7ffd5f1c8a28 0x7f3c2e8d1e2e\n").has_value());
  EXPECT_FALSE(parse_syscall_line("").has_value());
  EXPECT_FALSE(parse_syscall_line("7 0x1 0x2").has_value()) << "truncated";
}

TEST(SocketWaiters, TheWaitingSyscallsOfThisArchitectureAreKnown) {
  EXPECT_EQ(wait_call_of(SYS_accept4), WaitCall::accept);
  EXPECT_EQ(wait_call_of(SYS_epoll_pwait), WaitCall::epoll);
  EXPECT_EQ(wait_call_of(SYS_ppoll), WaitCall::poll);
  EXPECT_EQ(wait_call_of(SYS_pselect6), WaitCall::select);
  EXPECT_EQ(wait_call_of(SYS_io_uring_enter), WaitCall::io_uring);
  EXPECT_EQ(wait_call_of(SYS_recvfrom), WaitCall::receive);  // a datagram server's blocking read
  EXPECT_EQ(wait_call_of(SYS_recvmsg), WaitCall::receive);
  EXPECT_EQ(wait_call_name(WaitCall::receive), "recv");
  EXPECT_EQ(wait_call_of(SYS_futex), WaitCall::none);
#ifdef SYS_epoll_wait
  EXPECT_EQ(wait_call_of(SYS_epoll_wait), WaitCall::epoll);
#endif
}

constexpr std::string_view kEpollInfo =
    "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n"
    "tfd:        5 events:       19 data:                5  pos:0 ino:2f9a sdev:8\n"
    "tfd:        7 events:        0 data:                7  pos:0 ino:3000 sdev:8\n";

TEST(SocketWaiters, AnEpollSetWatchesTheSocketForInputByItsHexInode) {
  EXPECT_TRUE(epoll_watches_for_input(kEpollInfo, 0x2f9a));
  EXPECT_FALSE(epoll_watches_for_input(kEpollInfo, 2989)) << "the inode is hexadecimal";
  EXPECT_FALSE(epoll_watches_for_input(kEpollInfo, 0x3000)) << "registered with no events";
  EXPECT_FALSE(epoll_watches_for_input(kEpollInfo, 1057)) << "the epoll fd's own inode";
  EXPECT_FALSE(epoll_watches_for_input("", 0x2f9a));
}

TEST(SocketWaiters, OnlySocketLinksHaveAnInode) {
  EXPECT_EQ(socket_inode_of_link("socket:[12345]"), 12345U);
  EXPECT_EQ(socket_inode_of_link("pipe:[12345]"), 0U);
  EXPECT_EQ(socket_inode_of_link("socket:[12x]"), 0U);
}

// A fake /proc: processes, their threads' syscall lines, fd links and epoll fdinfo.
class FakeProc {
 public:
  FakeProc() {
    char pattern[] = "/tmp/reuserun-proc-XXXXXX";
    root_ = ::mkdtemp(pattern);
  }
  ~FakeProc() { std::filesystem::remove_all(root_); }
  const std::string& root() const { return root_; }

  void thread(pid_t pid, pid_t tid, const std::string& syscall) const {
    const auto dir = dir_of(pid) + "/task/" + std::to_string(tid);
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/syscall") << syscall;
  }
  void fd(pid_t pid, int fd, const std::string& target) const {
    std::filesystem::create_directories(dir_of(pid) + "/fd");
    std::filesystem::create_symlink(target, dir_of(pid) + "/fd/" + std::to_string(fd));
  }
  // The process's memory: `bytes` at `address` of a sparse file.
  void memory(pid_t pid, unsigned long address, const std::string& bytes) const {
    std::filesystem::create_directories(dir_of(pid));
    std::ofstream mem(dir_of(pid) + "/mem", std::ios::binary);
    mem.seekp(static_cast<std::streamoff>(address));
    mem << bytes;
  }
  void fdinfo(pid_t pid, int fd, std::string_view text) const {
    std::filesystem::create_directories(dir_of(pid) + "/fdinfo");
    std::ofstream(dir_of(pid) + "/fdinfo/" + std::to_string(fd)) << text;
  }

 private:
  std::string dir_of(pid_t pid) const { return root_ + "/" + std::to_string(pid); }
  std::string root_;
};

// One look's budget in files and bytes, with time enough for a loaded machine (a sanitized
// build): what these tests decide must not depend on the clock.
constexpr ReadBudget::Limits kPlentyOfTime{std::chrono::seconds(10), ReadBudget::kOneLook.files,
                                           ReadBudget::kOneLook.bytes};

std::string syscall_line(long number, unsigned long first) {
  char line[200];
  std::snprintf(line, sizeof line, "%ld 0x%lx 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f3c\n", number, first);
  return line;
}

TEST(SocketWaiters, AThreadInAcceptOnTheSocketWaits) {
  FakeProc proc;
  proc.thread(10, 10, "running\n");
  proc.thread(10, 11, syscall_line(SYS_accept4, 3));
  proc.fd(10, 3, "socket:[555]");
  const auto found = find_socket_waiter({10}, 555, proc.root(), kPlentyOfTime);
  EXPECT_EQ(found.kind, WaitFinding::Kind::waiting);
  EXPECT_EQ(found.tid, 11);
  EXPECT_EQ(found.describe(), "pid 10 waits in accept");
  EXPECT_EQ(find_socket_waiter({10}, 556, proc.root(), kPlentyOfTime).kind, WaitFinding::Kind::not_waiting)
      << "accept on another socket";
}

TEST(SocketWaiters, AWorkerInEpollWaitOnASetWithTheSocketWaits) {
  FakeProc proc;
  proc.thread(20, 20, syscall_line(SYS_wait4, 0));  // a master waiting for its workers
  proc.thread(21, 21, syscall_line(SYS_epoll_pwait, 5));
  proc.fdinfo(21, 5, kEpollInfo);
  const auto found = find_socket_waiter({20, 21}, 0x2f9a, proc.root(), kPlentyOfTime);
  EXPECT_EQ(found.kind, WaitFinding::Kind::waiting);
  EXPECT_EQ(found.pid, 21);
  EXPECT_EQ(found.call, WaitCall::epoll);
}

TEST(SocketWaiters, IoUringIsSaidToBeBeyondWhatProcShows) {
  FakeProc proc;
  proc.thread(30, 30, syscall_line(SYS_io_uring_enter, 4));
  const auto found = find_socket_waiter({30}, 555, proc.root(), kPlentyOfTime);
  EXPECT_EQ(found.kind, WaitFinding::Kind::unknown);
  EXPECT_EQ(found.why, "pid 30 waits in io_uring_enter");
}

TEST(SocketWaiters, AnEventLoopWaitingOnSomethingElseIsIdleElsewhereUnlessAThreadRuns) {
  FakeProc proc;
  proc.thread(50, 50, syscall_line(SYS_epoll_pwait, 6));  // a set without the socket
  proc.fdinfo(50, 6, kEpollInfo);
  const auto idle = find_socket_waiter({50}, 555, proc.root(), kPlentyOfTime);
  EXPECT_EQ(idle.kind, WaitFinding::Kind::not_waiting);
  EXPECT_TRUE(idle.idle_elsewhere) << "the gate may probe with connections after a while";
  proc.thread(50, 51, "running\n");  // still starting up
  EXPECT_FALSE(find_socket_waiter({50}, 555, proc.root(), kPlentyOfTime).idle_elsewhere);
}

TEST(SocketWaiters, AServerAsleepAtStartUpIsNotIdleElsewhere) {
  FakeProc proc;
  proc.thread(60, 60, syscall_line(SYS_clock_nanosleep, 0));
  EXPECT_FALSE(find_socket_waiter({60}, 555, proc.root(), kPlentyOfTime).idle_elsewhere);
}

TEST(SocketWaiters, AProcessThatExitsDuringALookIsNotTakenForOneWithoutAccess) {
  // Its thread was seen in ppoll, then the process was gone before its memory was opened (no
  // mem file here): ENOENT or ESRCH, not EACCES. Taken for "no access", it failed a datagram
  // generation that has no probe to fall back on (issue 25, finding 8).
  FakeProc proc;
  proc.thread(70, 70, std::to_string(SYS_ppoll) + " 0x7ffd1000 0x1 0x0 0x0 0x0 0x0 0x7ffd 0x7f3c\n");
  const auto found = find_socket_waiter({70}, 555, proc.root(), kPlentyOfTime);
  EXPECT_EQ(found.kind, WaitFinding::Kind::not_waiting) << found.why;
}

// Issue 25, finding 3: a child in select() over 65536 fds, every bit set, cost 65536 readlink()s
// per process per look; 64 of them held `ctl status` for 9 s. A look reads what its budget
// allows and says the rest is unknown (the TCP gate then probes, a datagram one fails).
TEST(SocketWaiters, ASelectOverMoreFdsThanTheBudgetAllowsIsUnknownNotRead) {
  FakeProc proc;
  proc.thread(80, 80, std::to_string(SYS_pselect6) + " 0x10000 0x1000 0x0 0x0 0x0 0x0 0x7ffd 0x7f3c\n");
  proc.memory(80, 0x1000, std::string(65536 / 8, '\xff'));
  proc.fd(80, 70000, "socket:[555]");  // beyond the set: never found
  const ReadBudget::Limits small{std::chrono::seconds(5), 1000, std::size_t{1} << 20};
  const auto found = find_socket_waiter({80}, 555, proc.root(), small);
  EXPECT_EQ(found.kind, WaitFinding::Kind::unknown);
  EXPECT_EQ(found.why.rfind("pid 80 has more to read in /proc than one look may", 0), 0U)
      << found.why;
  // Within the budget the same look reads every fd and finds the socket.
  proc.fd(80, 900, "socket:[555]");
  EXPECT_EQ(find_socket_waiter({80}, 555, proc.root(), small).kind, WaitFinding::Kind::waiting);
}

TEST(SocketWaiters, AnEpollSetLargerThanTheBudgetIsUnknownNotRead) {
  FakeProc proc;
  proc.thread(81, 81, syscall_line(SYS_epoll_pwait, 5));
  std::string huge(kEpollInfo.substr(0, kEpollInfo.find("tfd:")));
  for (int i = 0; i < 3000; ++i)
    huge += "tfd:        7 events:       19 data:                7  pos:0 ino:3000 sdev:8\n";
  huge += "tfd:        5 events:       19 data:                5  pos:0 ino:2f9a sdev:8\n";
  proc.fdinfo(81, 5, huge);
  const ReadBudget::Limits small{std::chrono::seconds(5), 1000, 64 * 1024};
  EXPECT_EQ(find_socket_waiter({81}, 0x2f9a, proc.root(), small).kind, WaitFinding::Kind::unknown);
  EXPECT_EQ(find_socket_waiter({81}, 0x2f9a, proc.root(), kPlentyOfTime).kind,
            WaitFinding::Kind::waiting)
      << "about 240 KB: within one look's budget";
}

TEST(SocketWaiters, ATreeOfMoreProcessesThanTheBudgetIsUnknown) {
  FakeProc proc;
  std::vector<pid_t> tree;
  for (pid_t pid = 100; pid < 160; ++pid) {
    proc.thread(pid, pid, syscall_line(SYS_clock_nanosleep, 0));
    tree.push_back(pid);
  }
  const ReadBudget::Limits small{std::chrono::seconds(5), 50, std::size_t{1} << 20};
  EXPECT_EQ(find_socket_waiter(tree, 555, proc.root(), small).kind, WaitFinding::Kind::unknown);
  EXPECT_EQ(find_socket_waiter(tree, 555, proc.root(), kPlentyOfTime).kind,
            WaitFinding::Kind::not_waiting);
}

TEST(SocketWaiters, AGoneProcessIsNotWaiting) {
  FakeProc proc;
  EXPECT_EQ(find_socket_waiter({40}, 555, proc.root(), kPlentyOfTime).kind, WaitFinding::Kind::not_waiting);
}

}  // namespace
}  // namespace reuserun

namespace reuserun {
namespace {

// Issue 27, finding 5: the line before a stuck process's SIGKILL says what it waits in.
TEST(DescribeStuck, AProcessBlockedInAcceptIsNamedWithTheWayOut) {
  WaitFinding blocked;
  blocked.kind = WaitFinding::Kind::waiting;
  blocked.pid = 42;
  blocked.call = WaitCall::accept;
  EXPECT_EQ(describe_stuck(blocked).rfind("pid 42 is blocked in accept on the shared socket", 0),
            0U);
  EXPECT_NE(describe_stuck(blocked).find("--nonblocking"), std::string::npos);
  blocked.call = WaitCall::epoll;
  EXPECT_EQ(describe_stuck(blocked).rfind("pid 42 still waits in epoll", 0), 0U);
  EXPECT_EQ(describe_stuck(WaitFinding{}), "") << "not waiting on the socket: nothing to say";
}

}  // namespace
}  // namespace reuserun
