// What the loop must not do itself, because a child can make it wait in the kernel for as long
// as it likes (issue 25, finding 2), done by a helper process instead:
//
//  * Reading a child's memory (a poll() array, a select() set). A read of /proc/PID/mem faults
//    the page in: a child whose array sits in a FUSE file it serves itself, and which stops
//    answering, kept root reuserun in the kernel (no `ctl`, no SIGTERM, no ready-timeout) until
//    the FUSE connection died. No flag makes such a read interruptible.
//  * Reading a process's environ or cmdline, which wait for its mmap lock: a child can keep
//    that lock taken for as long as it likes (attack review of issue 25).
//  * Closing an fd a child passed on its notify socket (kernels without SO_PASSRIGHTS, such as
//    Debian 12's 6.1): close() flushes a FUSE file (the server may never answer) and waits out a
//    socket's SO_LINGER. The loop never receives such fds: it peeks (which installs none), and
//    the helper receives the datagram and closes them.
//
// The helper is forked on first use, named reuserun-helper (its comm), and holds no fd but its
// channel. The loop waits for each
// answer at most kDeadline; past it the helper is SIGKILLed and forgotten (it dies once its
// wait ends; the Reaper collects it as a child that is no worker), and a process whose memory
// did not answer is not read again.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "unique_fd.hpp"

namespace reuserun {

// The options of a listening socket that its accepted connections or its queue follow: what the
// bind takeover compares between a child's own socket and the shared one (bind_takeover.hpp).
struct SocketOption {
  const char* name;
  int level;
  int option;
  bool inet_only;
  bool stream_only;
};
inline constexpr SocketOption kSocketOptions[] = {
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, false, false},
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, false, false},
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, true, true},
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, true, true},
    {"TCP_DEFER_ACCEPT", IPPROTO_TCP, TCP_DEFER_ACCEPT, true, true},
    {"TCP_FASTOPEN", IPPROTO_TCP, TCP_FASTOPEN, true, true},
};
inline constexpr std::size_t kSocketOptionCount = std::size(kSocketOptions);

// An int-valued socket option, -1 when it cannot be read. getsockopt of such a value takes no
// socket lock: the loop may ask the shared socket itself.
int socket_int_option(int fd, int level, int option);

// What the helper learned of a child's socket (a plain value: it crosses the helper's channel).
struct SocketFacts {
  std::int32_t domain = -1;  // SO_DOMAIN
  std::int32_t type = -1;    // SO_TYPE
  std::uint8_t nonblocking = 0;
  std::uint8_t cloexec = 0;  // the child's fd's FD_CLOEXEC
  std::uint8_t v6only = 0;
  std::uint8_t named = 0;  // getsockname answered: `name` is its address
  std::int32_t options[kSocketOptionCount] = {};  // kSocketOptions' values, -1 when unknown
  std::uint64_t inode = 0;
  sockaddr_storage name{};
};

class MemoryReader {
 public:
  enum class Read { done, no_access, failed, timed_out };
  virtual ~MemoryReader() = default;
  // `length` bytes at `address` through `mem`, an fd of /proc/`pid`/mem. Only EACCES and EPERM
  // are no_access; anything else that is not all the bytes is failed (issue 25, finding 8).
  virtual Read read(pid_t pid, int mem, unsigned long address, void* out, std::size_t length) = 0;
};

// pread on the calling thread: for files that cannot block (tests' fake /proc).
MemoryReader& direct_memory_reader();

class ForeignHelper final : public MemoryReader {
 public:
  static constexpr std::chrono::milliseconds kDeadline{100};
  static constexpr std::size_t kMaxLength = std::size_t{64} * 1024;
  ForeignHelper() = default;
  ForeignHelper(const ForeignHelper&) = delete;
  ForeignHelper& operator=(const ForeignHelper&) = delete;
  ~ForeignHelper() override = default;  // the helper reads EOF and exits

  Read read(pid_t pid, int mem, unsigned long address, void* out, std::size_t length) override;

  enum class Done { yes, timed_out, failed };
  // Receives the next datagram of `socket` in the helper, which closes any fd it carries.
  Done consume_datagram(int socket);
  // Takes `socket` from the caller: closed here once it is on its way to the helper, so that the
  // helper's close is the last, and what is still queued there (with its fds) is freed there.
  Done take_over(int socket);
  // At most `limit` bytes of file `name` (under 16 bytes) under the directory fd `dir`, such as
  // a /proc/PID: environ and cmdline wait for the process's mmap lock, which a child can keep
  // taken (a reader stuck in its FUSE page, a writer queued behind it). nullopt when it cannot be
  // read or did not answer within kDeadline.
  std::optional<std::string> read_text(int dir, const char* name, std::size_t limit);
  // Fd `number` of the process of `pidfd` (pidfd_getfd), looked at in the helper and closed
  // there: the loop never holds a child's file, whose every close() flushes (a FUSE file's
  // flush waits for its server: attack review of issue 26). `tid`'s fdinfo says FD_CLOEXEC.
  // nullopt when it is no socket, cannot be taken, or the helper did not answer in time.
  std::optional<SocketFacts> inspect_socket(int pidfd, pid_t tid, int number);
  // setsockopt on `socket` in the helper: a child holding the socket's lock (a socket filter
  // copied from its own FUSE page) would hold the loop in D state (attack review of issue 26).
  Done set_option(int socket, int level, int option, int value);
  // Takes `socket` and shuts it down and closes it in the helper, for the same reason.
  Done shut_down(int socket);

  pid_t helper() const { return helper_; }  // 0 when none runs

 private:
  struct Answer {
    Done done = Done::failed;
    std::int32_t status = 0;  // what the helper says: bytes read, fds received, or -errno
    std::size_t bytes = 0;    // of the reply after the status
  };
  // Sends a request with `fd`, which is closed once in flight when `give` is set.
  Answer ask(std::uint32_t kind, int fd, std::uint64_t address, std::uint64_t length,
             bool give = false, const char* name = nullptr);
  bool start();
  void abandon();  // the helper did not answer in time

  static constexpr std::size_t kMaxStuck = 4;
  UniqueFd channel_;
  UniqueFd pidfd_;  // the helper, signalled through this and never by pid
  std::vector<UniqueFd> stuck_;  // pidfds of helpers let go of, until they exit
  pid_t helper_ = 0;
  std::set<pid_t> hung_;  // processes whose memory did not answer: not read again
};

// The loop's helpers: one reads memory; one receives and closes what children pass on their
// notify sockets; one looks at and acts on sockets for the bind takeover. A helper stuck on one
// of these never delays the others.
ForeignHelper& memory_helper();
ForeignHelper& notify_helper();
ForeignHelper& socket_helper();

}  // namespace reuserun
