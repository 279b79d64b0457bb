#include "foreign_helper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "scm_rights.hpp"

namespace reuserun {
namespace {

constexpr char kHelperName[] = "reuserun-helper";  // 15 bytes: comm's limit

enum Kind : std::uint32_t {
  kReadMemory = 1,
  kConsumeDatagram = 2,
  kTakeOver = 3,
  kReadText = 4,
  kInspectSocket = 5,  // fd: a pidfd; address: the fd number; length: the tid
  kSetOption = 6,      // fd: the socket; address: level << 32 | option; length: the value
  kShutDown = 7        // fd: the socket, shut down and closed after the answer
};

struct Request {
  std::uint32_t kind;
  std::uint32_t unused;
  std::uint64_t address;
  std::uint64_t length;
  char name[16];  // kReadText: the file under the directory fd passed
};

// The reply: an int32 status, then (for a memory read) the bytes.
constexpr std::size_t kHeader = sizeof(std::int32_t);
char g_reply[kHeader + ForeignHelper::kMaxLength];

class DirectReader final : public MemoryReader {
 public:
  Read read(pid_t, int mem, unsigned long address, void* out, std::size_t length) override {
    const ssize_t got = ::pread(mem, out, length, static_cast<off_t>(address));
    if (got == static_cast<ssize_t>(length)) return Read::done;
    return got < 0 && (errno == EACCES || errno == EPERM) ? Read::no_access : Read::failed;
  }
};

// Receives one datagram of `socket` into `closing` (its fds, closed after the answer is sent):
// how many fds it carried, or -errno.
std::int32_t receive_one(int socket, int* closing, std::size_t capacity, std::size_t* count) {
  char data[1];
  if (receive_with_fds(socket, data, sizeof data, MSG_DONTWAIT, closing, capacity, count) < 0)
    return -errno;
  return static_cast<std::int32_t>(*count);
}

// A socket among them is reset rather than left lingering.
void close_quickly(int fd) {
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode)) {
    const linger abort_on_close{1, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  }
  ::close(fd);  // may wait (a FUSE flush): only this helper does
}

// Fills `facts` from `socket` (a child's, taken with pidfd_getfd): -ENOTSOCK when it is none.
std::int32_t inspect(int socket, pid_t tid, std::uint64_t number, SocketFacts* facts) {
  facts->domain = socket_int_option(socket, SOL_SOCKET, SO_DOMAIN);
  if (facts->domain < 0) return -ENOTSOCK;
  facts->type = socket_int_option(socket, SOL_SOCKET, SO_TYPE);
  const int flags = ::fcntl(socket, F_GETFL);
  facts->nonblocking = flags >= 0 && (flags & O_NONBLOCK) != 0 ? 1 : 0;
  const bool v6only = facts->domain == AF_INET6 &&
                     socket_int_option(socket, IPPROTO_IPV6, IPV6_V6ONLY) == 1;
  facts->v6only = v6only ? 1 : 0;
  for (std::size_t i = 0; i < kSocketOptionCount; ++i) {
    const SocketOption& option = kSocketOptions[i];
    facts->options[i] = socket_int_option(socket, option.level, option.option);
  }
  struct stat info {};
  if (::fstat(socket, &info) == 0) facts->inode = info.st_ino;
  socklen_t length = sizeof facts->name;
  facts->named = ::getsockname(socket, reinterpret_cast<sockaddr*>(&facts->name), &length) == 0;
  // FD_CLOEXEC is the child's fd's own, not the socket's: its fdinfo says (no allocation here).
  char path[64];
  (void)std::snprintf(path, sizeof path, "/proc/%d/fdinfo/%llu", static_cast<int>(tid),
                static_cast<unsigned long long>(number));
  const int info_fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (info_fd >= 0) {
    char text[512];
    const ssize_t got = ::read(info_fd, text, sizeof text - 1);
    ::close(info_fd);
    if (got > 0) {
      text[got] = '\0';
      if (const char* at = std::strstr(text, "flags:"); at != nullptr)
        facts->cloexec = (std::strtoul(at + 6, nullptr, 8) & O_CLOEXEC) != 0 ? 1 : 0;
    }
  }
  return static_cast<std::int32_t>(sizeof *facts);
}

// The helper's whole life: answer requests on fd 0 until the loop closes it. Nothing here
// allocates; the process was forked from a single thread.
[[noreturn]] void serve(int channel, pid_t parent) {
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);
  (void)::prctl(PR_SET_NAME, kHelperName);  // told apart from the workers in ps and /proc
  for (int sig = 1; sig < NSIG; ++sig) (void)::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  // No fd but the channel: a helper stuck in the kernel must hold no socket, pipe or log open.
  if (channel != 0 && ::dup2(channel, 0) == -1) ::_exit(1);
  (void)::close_range(1, ~0U, 0);

  for (;;) {
    Request request{};
    int fd = -1;
    std::size_t fds = 0;
    const ssize_t got = receive_with_fds(0, &request, sizeof request, 0, &fd, 1, &fds);
    if (got == 0 || (got < 0 && errno != EINTR)) ::_exit(0);
    std::int32_t status = -EINVAL;
    std::size_t bytes = 0;
    int closing[253];
    std::size_t to_close = 0;
    int shut = -1;  // kShutDown: after the answer
    if (got == sizeof request && fd >= 0) {
      switch (request.kind) {
        case kReadMemory:
          if (request.length <= ForeignHelper::kMaxLength) {
            const ssize_t read = ::pread(fd, g_reply + kHeader, request.length,
                                         static_cast<off_t>(request.address));
            status = read < 0 ? -errno : static_cast<std::int32_t>(read);
            bytes = read > 0 ? static_cast<std::size_t>(read) : 0;
          }
          break;
        case kConsumeDatagram:
          status = receive_one(fd, closing, sizeof closing / sizeof closing[0], &to_close);
          break;
        case kTakeOver:
          status = 0;
          break;
        case kInspectSocket: {
          SocketFacts facts;
          const int theirs = static_cast<int>(::syscall(SYS_pidfd_getfd, fd, request.address, 0));
          status = theirs < 0 ? -errno
                              : inspect(theirs, static_cast<pid_t>(request.length),
                                        request.address, &facts);
          if (status > 0) {
            std::memcpy(g_reply + kHeader, &facts, sizeof facts);
            bytes = sizeof facts;
          }
          if (theirs >= 0) closing[to_close++] = theirs;  // a plain close, after the answer
          break;
        }
        case kSetOption: {
          const int value = static_cast<int>(request.length);
          status = ::setsockopt(fd, static_cast<int>(request.address >> 32),
                                static_cast<int>(request.address & 0xffffffffU), &value,
                                sizeof value) == 0
                       ? 0
                       : -errno;
          break;
        }
        case kShutDown:
          status = 0;
          shut = fd;
          break;
        case kReadText:
          if (request.length <= ForeignHelper::kMaxLength &&
              std::memchr(request.name, '\0', sizeof request.name) != nullptr) {
            const int file = ::openat(fd, request.name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            std::size_t got = 0;
            ssize_t read = file < 0 ? -1 : 0;
            while (file >= 0 && got < request.length &&
                   (read = ::read(file, g_reply + kHeader + got, request.length - got)) > 0)
              got += static_cast<std::size_t>(read);
            status = read < 0 ? -errno : static_cast<std::int32_t>(got);
            bytes = read < 0 ? 0 : got;
            if (file >= 0) ::close(file);
          }
          break;
        default:
          break;
      }
    }
    std::memcpy(g_reply, &status, kHeader);
    if (::send(0, g_reply, kHeader + bytes, MSG_NOSIGNAL) == -1) ::_exit(0);
    // Answered: what may wait now delays only this helper.
    if (request.kind == kInspectSocket) {
      for (std::size_t i = 0; i < to_close; ++i) ::close(closing[i]);  // the child's own: as is
    } else {
      for (std::size_t i = 0; i < to_close; ++i) close_quickly(closing[i]);
    }
    if (shut >= 0) (void)::shutdown(shut, SHUT_RDWR);
    if (fd >= 0) ::close(fd);  // /proc/PID/mem, or a socket whose last reference may be this
  }
}

}  // namespace

int socket_int_option(int fd, int level, int option) {
  int value = 0;
  socklen_t length = sizeof value;
  return ::getsockopt(fd, level, option, &value, &length) == 0 ? value : -1;
}

MemoryReader& direct_memory_reader() {
  static DirectReader reader;
  return reader;
}

ForeignHelper& memory_helper() {
  static ForeignHelper helper;
  return helper;
}

ForeignHelper& notify_helper() {
  static ForeignHelper helper;
  return helper;
}

ForeignHelper& socket_helper() {
  static ForeignHelper helper;
  return helper;
}

bool ForeignHelper::start() {
  // Helpers let go of and still stuck (each cost the child a process that keeps its page from
  // faulting in): past kMaxStuck no new one is started, and what needs one is not read.
  std::erase_if(stuck_, [](const UniqueFd& pidfd) {
    pollfd exited{pidfd.get(), POLLIN, 0};
    return ::poll(&exited, 1, 0) != 0;
  });
  if (stuck_.size() >= kMaxStuck) return false;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == -1) return false;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) serve(pair[1], parent);
  ::close(pair[1]);
  if (pid == -1) {
    ::close(pair[0]);
    return false;
  }
  channel_ = UniqueFd(pair[0]);
  helper_ = pid;
  // Signalled through this only: the Reaper may have collected a helper that died (a signal to
  // reuserun's process group) and its pid may be another user's process by now.
  pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd_) {  // without a pidfd it could never be signalled safely: no helper
    channel_ = UniqueFd();  // EOF: it exits
    helper_ = 0;
    return false;
  }
  return true;
}

void ForeignHelper::abandon() {
  if (pidfd_) (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  helper_ = 0;
  if (pidfd_) stuck_.push_back(std::move(pidfd_));
  channel_ = UniqueFd();
}

ForeignHelper::Answer ForeignHelper::ask(std::uint32_t kind, int fd, std::uint64_t address,
                                         std::uint64_t length, bool give, const char* name) {
  Request request{kind, 0, address, length, {}};
  if (name != nullptr) std::strncpy(request.name, name, sizeof request.name - 1);
  // A helper that died (a signal to reuserun's process group) is replaced once.
  bool sent = false;
  for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
    if (!channel_ && !start()) break;  // no helper: a given fd is still closed below
    sent = send_with_fd(channel_.get(), &request, sizeof request, fd) == sizeof request;
    if (!sent) abandon();
  }
  if (give) ::close(fd);  // in flight, or not sent at all: either way not ours to keep
  if (!sent) return {};

  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  pollfd ready{channel_.get(), POLLIN, 0};
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int polled = ::poll(&ready, 1, static_cast<int>(std::max<long>(left.count(), 0)));
    if (polled > 0) break;
    if (polled == 0 || errno != EINTR) {
      abandon();
      return {Done::timed_out, 0, 0};
    }
  }
  const ssize_t got = ::recv(channel_.get(), g_reply, kHeader + kMaxLength, MSG_DONTWAIT);
  if (got < static_cast<ssize_t>(kHeader)) {
    abandon();
    return {};
  }
  Answer answer{Done::yes, 0, static_cast<std::size_t>(got) - kHeader};
  std::memcpy(&answer.status, g_reply, kHeader);
  return answer;
}

MemoryReader::Read ForeignHelper::read(pid_t pid, int mem, unsigned long address, void* out,
                                       std::size_t length) {
  if (length > kMaxLength) return Read::failed;
  if (hung_.contains(pid)) return Read::timed_out;
  const Answer answer = ask(kReadMemory, mem, address, length);
  if (answer.done == Done::timed_out) {
    constexpr std::size_t kRemembered = 1024;
    if (hung_.size() >= kRemembered) hung_.erase(hung_.begin());
    hung_.insert(pid);
    return Read::timed_out;
  }
  if (answer.done == Done::failed) return Read::failed;
  if (answer.status < 0)
    return answer.status == -EACCES || answer.status == -EPERM ? Read::no_access : Read::failed;
  if (static_cast<std::size_t>(answer.status) != length || answer.bytes != length)
    return Read::failed;
  std::memcpy(out, g_reply + kHeader, length);
  return Read::done;
}

ForeignHelper::Done ForeignHelper::consume_datagram(int socket) {
  const Answer answer = ask(kConsumeDatagram, socket, 0, 0);
  return answer.done == Done::yes && answer.status < 0 ? Done::failed : answer.done;
}

std::optional<std::string> ForeignHelper::read_text(int dir, const char* name, std::size_t limit) {
  limit = std::min(limit, kMaxLength);
  const Answer answer = ask(kReadText, dir, 0, limit, false, name);
  if (answer.done != Done::yes || answer.status < 0) return std::nullopt;
  return std::string(g_reply + kHeader, std::min(answer.bytes, limit));
}

ForeignHelper::Done ForeignHelper::take_over(int socket) {
  return ask(kTakeOver, socket, 0, 0, true).done;
}

std::optional<SocketFacts> ForeignHelper::inspect_socket(int pidfd, pid_t tid, int number) {
  if (number < 0 || tid <= 0) return std::nullopt;
  const Answer answer = ask(kInspectSocket, pidfd, static_cast<std::uint64_t>(number),
                            static_cast<std::uint64_t>(tid));
  if (answer.done != Done::yes || answer.status != static_cast<std::int32_t>(sizeof(SocketFacts)) ||
      answer.bytes != sizeof(SocketFacts))
    return std::nullopt;
  SocketFacts facts;
  std::memcpy(&facts, g_reply + kHeader, sizeof facts);
  return facts;
}

ForeignHelper::Done ForeignHelper::set_option(int socket, int level, int option, int value) {
  const Answer answer =
      ask(kSetOption, socket,
          (static_cast<std::uint64_t>(static_cast<std::uint32_t>(level)) << 32) |
              static_cast<std::uint32_t>(option),
          static_cast<std::uint32_t>(value));
  return answer.done == Done::yes && answer.status < 0 ? Done::failed : answer.done;
}

ForeignHelper::Done ForeignHelper::shut_down(int socket) {
  return ask(kShutDown, socket, 0, 0, true).done;
}

}  // namespace reuserun
