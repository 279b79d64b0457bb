// The helper that reads other processes' memory for the loop (foreign_helper.hpp): it answers
// what a pread would, holds no fd but its channel, and a helper that died is replaced.
#include "foreign_helper.hpp"
#include "scm_rights.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace reuserun {
namespace {

// Polls `condition` for up to 2 s.
template <typename Condition>
bool wait_for(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ::usleep(5000);
  }
  return true;
}

class Helper : public ::testing::Test {
 protected:
  Helper() {
    char pattern[] = "/tmp/reuserun-mem-XXXXXX";
    const int fd = ::mkstemp(pattern);
    path_ = pattern;
    ::close(fd);
    std::ofstream(path_, std::ios::binary) << std::string(100, 'x') << "poll array";
    file_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  }
  ~Helper() override {
    std::filesystem::remove(path_);
    if (const pid_t helper = reader_.helper(); helper > 0) {
      ::kill(helper, SIGKILL);
      ::waitpid(helper, nullptr, 0);
    }
  }
  std::string path_;
  UniqueFd file_;
  ForeignHelper reader_;
};

TEST_F(Helper, ReadsWhatPreadWouldThroughAnotherProcess) {
  char bytes[10];
  ASSERT_EQ(reader_.read(::getpid(), file_.get(), 100, bytes, sizeof bytes),
            MemoryReader::Read::done);
  EXPECT_EQ(std::string(bytes, sizeof bytes), "poll array");
  EXPECT_GT(reader_.helper(), 0);
  EXPECT_NE(reader_.helper(), ::getpid());
  EXPECT_EQ(reader_.read(::getpid(), file_.get(), 105, bytes, sizeof bytes),
            MemoryReader::Read::failed)
      << "short of the bytes asked";
}

TEST_F(Helper, TheHelperHoldsNoFdButItsChannel) {
  char byte = 0;
  ASSERT_EQ(reader_.read(::getpid(), file_.get(), 0, &byte, 1), MemoryReader::Read::done);
  // The fd of the request is closed just after the answer: within a bounded wait.
  std::vector<std::string> fds;
  for (int i = 0; i < 100; ++i) {
    fds.clear();
    for (const auto& entry : std::filesystem::directory_iterator(
             "/proc/" + std::to_string(reader_.helper()) + "/fd"))
      fds.push_back(entry.path().filename());
    if (fds.size() == 1) break;
    ::usleep(10000);
  }
  EXPECT_EQ(fds, std::vector<std::string>{"0"}) << "a helper stuck in a fault holds nothing";
}

TEST_F(Helper, AHelperThatDiedIsReplaced) {
  char byte = 0;
  ASSERT_EQ(reader_.read(::getpid(), file_.get(), 0, &byte, 1), MemoryReader::Read::done);
  const pid_t first = reader_.helper();
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  EXPECT_EQ(reader_.read(::getpid(), file_.get(), 0, &byte, 1), MemoryReader::Read::done);
  EXPECT_NE(reader_.helper(), first);
}

// A datagram that carries an fd (FDSTORE=1, or an attack on a kernel without SO_PASSRIGHTS) is
// received and its fds closed in the helper: the loop never holds them, so never waits in their
// close() (a FUSE file's flush, a socket's SO_LINGER).
// Attack review of issue 25: a helper that died was collected by the Reaper; its pid, reused by
// another user's process, got the SIGKILL meant for the helper when the next request failed.
TEST_F(Helper, AHelperThatDiedIsNeverSignalledByItsPidAgain) {
  if (::geteuid() != 0) GTEST_SKIP() << "places a process on a chosen pid (ns_last_pid)";
  char byte = 0;
  ASSERT_EQ(reader_.read(::getpid(), file_.get(), 0, &byte, 1), MemoryReader::Read::done);
  const pid_t first = reader_.helper();
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);  // collected: the pid is free for anyone
  // A bystander on the very pid the helper had. Other tests fork meanwhile (ctest -j2) and may
  // take the pid first: try again, and never leave a bystander behind (it would hold ctest's
  // output pipe open, and ctest would wait for it until its timeout).
  pid_t bystander = -1;
  for (int attempt = 0; attempt < 500 && bystander != first; ++attempt) {
    if (bystander > 0) {
      ::kill(bystander, SIGKILL);
      ::waitpid(bystander, nullptr, 0);
    }
    std::ofstream("/proc/sys/kernel/ns_last_pid") << first - 1;
    bystander = ::fork();
    if (bystander == 0) {
      const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::pause();
      ::_exit(0);
    }
  }
  if (bystander != first) {
    ::kill(bystander, SIGKILL);
    ::waitpid(bystander, nullptr, 0);
    GTEST_SKIP() << "other processes took pid " << first << " 500 times in a row";
  }
  EXPECT_EQ(reader_.read(::getpid(), file_.get(), 0, &byte, 1), MemoryReader::Read::done);
  int status = 0;
  EXPECT_EQ(::waitpid(bystander, &status, WNOHANG), 0) << "the bystander on the old pid lives";
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, nullptr, 0);
}

// environ and cmdline wait for the process's mmap lock, which a child can keep taken: read by
// the helper, whose wait costs the caller kDeadline at most. A FIFO with no writer stands in for
// the lock that is never released: its open() never returns.
TEST_F(Helper, ATextReadThatNeverReturnsCostsTheCallerTheDeadlineOnly) {
  char pattern[] = "/tmp/reuserun-text-XXXXXX";
  const std::string dir = ::mkdtemp(pattern);
  std::ofstream(dir + "/environ") << std::string("A=1\0B=2\0", 8);
  ASSERT_EQ(::mkfifo((dir + "/cmdline").c_str(), 0600), 0);
  const UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_EQ(reader_.read_text(dir_fd.get(), "environ", 4096), std::string("A=1\0B=2\0", 8));
  EXPECT_EQ(reader_.read_text(dir_fd.get(), "environ", 3), "A=1") << "no more than the limit";
  const auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(reader_.read_text(dir_fd.get(), "cmdline", 4096).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
  // The stuck helper was let go; the next read has a new one.
  EXPECT_EQ(reader_.read_text(dir_fd.get(), "environ", 3), "A=1");
  std::filesystem::remove_all(dir);
}

TEST_F(Helper, ADatagramCarryingAnFdIsReceivedAndItsFdClosedInTheHelper) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  const UniqueFd sender(pair[0]), receiver(pair[1]);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  const std::string text = "FDSTORE=1";
  ASSERT_EQ(send_with_fd(sender.get(), text.data(), text.size(), pipe_fds[0]),
            static_cast<ssize_t>(text.size()));
  const_cast<UniqueFd&>(read_end) = UniqueFd();  // only the datagram holds the read end now

  EXPECT_EQ(reader_.consume_datagram(receiver.get()), ForeignHelper::Done::yes);
  char byte = 0;
  EXPECT_EQ(::recv(receiver.get(), &byte, 1, MSG_DONTWAIT), -1) << "consumed";
  // The helper closed the read end it received: the pipe has no reader left.
  pollfd writable{write_end.get(), POLLOUT, 0};
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {  // the helper closes it just after answering
    closed = ::poll(&writable, 1, 0) == 1 && (writable.revents & POLLERR) != 0;
    if (!closed) ::usleep(10000);
  }
  EXPECT_TRUE(closed);
}

TEST_F(Helper, ASocketTakenOverIsClosedByTheHelperAfterTheCaller) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  const UniqueFd peer(pair[1]);
  EXPECT_EQ(reader_.take_over(pair[0]), ForeignHelper::Done::yes);
  EXPECT_EQ(::fcntl(pair[0], F_GETFD), -1) << "the caller's fd is closed";
  char byte = 0;
  pollfd readable{peer.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 2000), 1);
  EXPECT_EQ(::recv(peer.get(), &byte, 1, MSG_DONTWAIT), 0) << "and the helper's copy too: EOF";
}

// The bind takeover looks at a child's socket through the helper (pidfd_getfd there): the loop
// never holds a child's file. Here the "child" is this process.
TEST_F(Helper, ASocketIsLookedAtInTheHelperAndAnythingElseIsNoSocket) {
  const UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  const int on = 1;
  ASSERT_EQ(::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), 0);
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  ASSERT_TRUE(pidfd);
  const auto facts = reader_.inspect_socket(pidfd.get(), ::gettid(), socket.get());
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->domain, AF_INET);
  EXPECT_EQ(facts->type, SOCK_STREAM);
  EXPECT_EQ(facts->nonblocking, 1);
  EXPECT_EQ(facts->cloexec, 0) << "no SOCK_CLOEXEC was asked for";
  EXPECT_EQ(facts->options[3], 1) << kSocketOptions[3].name;
  struct stat info {};
  ASSERT_EQ(::fstat(socket.get(), &info), 0);
  EXPECT_EQ(facts->inode, info.st_ino);
  EXPECT_EQ(::fcntl(socket.get(), F_GETFD), 0) << "the caller's socket is left as it was";

  EXPECT_FALSE(reader_.inspect_socket(pidfd.get(), ::gettid(), file_.get())) << "a file";
  EXPECT_FALSE(reader_.inspect_socket(pidfd.get(), ::gettid(), 999)) << "no such fd";
}

TEST_F(Helper, AnOptionIsSetAndASocketShutDownInTheHelper) {
  const UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  EXPECT_EQ(reader_.set_option(listener.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, 5),
            ForeignHelper::Done::yes);
  int defer = 0;
  socklen_t length = sizeof defer;
  ASSERT_EQ(::getsockopt(listener.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, &length), 0);
  EXPECT_GT(defer, 0);
  const int copy = ::fcntl(listener.get(), F_DUPFD_CLOEXEC, 0);
  EXPECT_EQ(reader_.shut_down(copy), ForeignHelper::Done::yes);
  EXPECT_EQ(::fcntl(copy, F_GETFD), -1) << "the caller's copy is closed";
  int accepting = 1;
  length = sizeof accepting;
  EXPECT_TRUE(wait_for([&] {
    return ::getsockopt(listener.get(), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 &&
           accepting == 0;
  })) << "the socket stopped listening for every holder";
}

}  // namespace
}  // namespace reuserun
