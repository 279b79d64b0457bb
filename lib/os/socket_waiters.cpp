#include "socket_waiters.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>

#include "foreign_helper.hpp"
#include "procfs.hpp"
#include "read_budget.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

// Bounds on what a poll()/select() call may ask us to read from another process's memory.
constexpr unsigned long kMaxPollFds = 4096;
constexpr unsigned long kMaxSelectFds = 65536;

std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const std::size_t end = std::min(rest.find(' '), rest.size());
  const std::string_view word = rest.substr(0, end);
  rest.remove_prefix(end);
  return word;
}

// What one pass over a generation's threads learns about one process. Everything is read
// relative to one fd of /proc/PID, opened once: should the pid be reused during the look, the
// reads fail rather than describe another process (issue 25, finding 12).
class ProcessReader {
 public:
  ProcessReader(const std::string& proc_root, pid_t pid, ino_t inode, ReadBudget& budget,
                MemoryReader& memory)
      : dir_(proc_root + "/" + std::to_string(pid)),
        dir_fd_(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
        pid_(pid),
        inode_(inode),
        budget_(budget),
        memory_(memory) {}

  bool gone() const { return !dir_fd_; }
  // `name` under /proc/PID, opened relative to the process's own directory.
  UniqueFd open(const std::string& name, int flags = O_RDONLY) const {
    return UniqueFd(::openat(dir_fd_.get(), name.c_str(), flags | O_CLOEXEC));
  }

  // The socket inode behind fd `fd`, cached for this pass. False once the budget is spent.
  bool fd_is_socket(long fd) {
    if (fd < 0) return false;
    const auto known = fds_.find(fd);
    if (known != fds_.end()) return known->second;
    if (!budget_.spend(1)) return false;
    char target[64];
    const std::string link = "fd/" + std::to_string(fd);
    const ssize_t length = ::readlinkat(dir_fd_.get(), link.c_str(), target, sizeof target - 1);
    const bool match = length > 0 && socket_inode_of_link(std::string_view(
                                         target, static_cast<std::size_t>(length))) == inode_;
    fds_[fd] = match;
    return match;
  }

  // Reads no more of the fdinfo than the budget has left (a set may have a million targets).
  bool epoll_watches(long epfd) {
    if (epfd < 0 || !budget_.spend(1)) return false;
    const std::size_t allowed = budget_.bytes_left();
    const std::string info =
        read_file_prefix_at(dir_fd_.get(), "fdinfo/" + std::to_string(epfd), allowed + 1);
    return budget_.spend(0, info.size()) && epoll_watches_for_input(info, inode_);
  }

  using Read = MemoryReader::Read;
  // Reads `length` bytes at `address` of the process, through `memory` (foreign_helper.hpp:
  // never a fault on the loop thread). Only EACCES and EPERM mean no ptrace access; anything
  // else (the process exited during the look, the address is no longer mapped) is a failed
  // read that says nothing about access (issue 25, finding 8).
  Read read_memory(unsigned long address, void* out, std::size_t length) {
    if (!budget_.spend(mem_ ? 0 : 1, length)) return Read::failed;
    if (!mem_) {  // opening faults nothing in
      mem_ = open("mem");
      if (!mem_) return denied(errno) ? Read::no_access : Read::failed;
    }
    return memory_.read(pid_, mem_.get(), address, out, length);
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  UniqueFd dir_fd_;
  pid_t pid_;
  ino_t inode_;
  ReadBudget& budget_;
  MemoryReader& memory_;
  static bool denied(int error) { return error == EACCES || error == EPERM; }

  std::map<long, bool> fds_;
  UniqueFd mem_;
};

enum class ThreadWait { waits, other, unreadable, hung };

// A read of the wait's arguments that failed: for want of access, or because the memory did
// not answer in time, /proc cannot tell; otherwise (the process exited, the memory is gone)
// the thread is not waiting on the socket.
ThreadWait after_failed_read(ProcessReader::Read read) {
  switch (read) {
    case ProcessReader::Read::no_access:
      return ThreadWait::unreadable;
    case ProcessReader::Read::timed_out:
      return ThreadWait::hung;
    default:
      return ThreadWait::other;
  }
}

ThreadWait poll_waits(ProcessReader& process, const SyscallSnapshot& call) {
  const unsigned long count = call.args[1];
  if (call.args[0] == 0 || count == 0 || count > kMaxPollFds) return ThreadWait::other;
  std::vector<pollfd> fds(count);
  if (const auto read = process.read_memory(call.args[0], fds.data(), count * sizeof(pollfd));
      read != ProcessReader::Read::done)
    return after_failed_read(read);
  for (const pollfd& fd : fds)
    if ((fd.events & (POLLIN | POLLRDNORM)) != 0 && process.fd_is_socket(fd.fd))
      return ThreadWait::waits;
  return ThreadWait::other;
}

ThreadWait select_waits(ProcessReader& process, const SyscallSnapshot& call) {
  const unsigned long count = call.args[0];
  if (call.args[1] == 0 || count == 0 || count > kMaxSelectFds) return ThreadWait::other;
  constexpr unsigned long kBits = 8 * sizeof(unsigned long);
  std::vector<unsigned long> bits((count + kBits - 1) / kBits);
  if (const auto read =
          process.read_memory(call.args[1], bits.data(), bits.size() * sizeof(unsigned long));
      read != ProcessReader::Read::done)
    return after_failed_read(read);
  for (unsigned long fd = 0; fd < count; ++fd)
    if (((bits[fd / kBits] >> (fd % kBits)) & 1UL) != 0 &&
        process.fd_is_socket(static_cast<long>(fd)))
      return ThreadWait::waits;
  return ThreadWait::other;
}

}  // namespace

std::optional<SyscallSnapshot> parse_syscall_line(std::string_view line) {
  std::string_view rest = line;
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  SyscallSnapshot snapshot;
  if (!parse_number(next_word(rest), snapshot.number) || snapshot.number < 0) return std::nullopt;
  for (unsigned long& arg : snapshot.args) {
    std::string_view word = next_word(rest);
    if (!word.starts_with("0x")) return std::nullopt;
    word.remove_prefix(2);
    if (!parse_number(word, arg, 16)) return std::nullopt;
  }
  return snapshot;
}

WaitCall wait_call_of(long number) {
  switch (number) {
#ifdef SYS_accept
    case SYS_accept:
#endif
    case SYS_accept4:
      return WaitCall::accept;
    // A datagram server blocked reading its socket (udp:, unix-dgram:).
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_read:
      return WaitCall::receive;
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_epoll_pwait:
      return WaitCall::epoll;
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_ppoll:
      return WaitCall::poll;
#ifdef SYS_select
    case SYS_select:
#endif
    case SYS_pselect6:
      return WaitCall::select;
    case SYS_io_uring_enter:
      return WaitCall::io_uring;
    default:
      return WaitCall::none;
  }
}

std::string_view wait_call_name(WaitCall call) {
  switch (call) {
    case WaitCall::accept:
      return "accept";
    case WaitCall::receive:
      return "recv";
    case WaitCall::epoll:
      return "epoll_wait";
    case WaitCall::poll:
      return "poll";
    case WaitCall::select:
      return "select";
    case WaitCall::io_uring:
      return "io_uring_enter";
    case WaitCall::none:
      break;
  }
  return "none";
}

bool epoll_watches_for_input(std::string_view fdinfo, ino_t inode) {
  while (!fdinfo.empty()) {
    const std::size_t end = std::min(fdinfo.find('\n'), fdinfo.size());
    std::string_view line = fdinfo.substr(0, end);
    fdinfo.remove_prefix(std::min(end + 1, fdinfo.size()));
    if (!line.starts_with("tfd:")) continue;
    unsigned long events = 0;
    ino_t target = 0;
    bool have_events = false;
    bool have_inode = false;
    while (!line.empty()) {
      const std::string_view word = next_word(line);
      if (word == "events:") {
        have_events = parse_number(next_word(line), events, 16);
      } else if (word.starts_with("ino:")) {
        have_inode = parse_number(word.substr(4), target, 16);
      }
    }
    // EPOLLIN is 0x1 (EPOLLRDNORM 0x40): a target registered with no input events is parked.
    if (have_events && have_inode && target == inode && (events & 0x41UL) != 0) return true;
  }
  return false;
}

ino_t socket_inode_of_link(std::string_view target) {
  ino_t inode = 0;
  if (target.starts_with("socket:[") && target.ends_with("]") &&
      parse_number(target.substr(8, target.size() - 9), inode))
    return inode;
  return 0;
}

std::string WaitFinding::describe() const {
  switch (kind) {
    case Kind::waiting:
      return "pid " + std::to_string(pid) + " waits in " + std::string(wait_call_name(call));
    case Kind::not_waiting:
      return "nothing waits on the socket yet";
    case Kind::unknown:
      return "/proc cannot tell: " + why;
  }
  return "";
}

std::string describe_stuck(const WaitFinding& finding) {
  if (finding.kind != WaitFinding::Kind::waiting) return "";
  const std::string pid = "pid " + std::to_string(finding.pid);
  switch (finding.call) {
    case WaitCall::accept:
      // Woken with the other generation for a connection one of them took, on a blocking
      // socket: the accept() of the one that lost the race waits for the next connection.
      return pid + " is blocked in accept on the shared socket: a server that waits in "
                   "select or poll and then accepts needs the socket non-blocking "
                   "(--nonblocking)";
    case WaitCall::receive:
      return pid + " is blocked in a receive on the shared socket: a server that waits "
                   "in select or poll and then receives needs the socket non-blocking "
                   "(--nonblocking)";
    default:
      return pid + " still waits in " + std::string(wait_call_name(finding.call)) +
             " on the shared socket: it did not stop serving when asked to";
  }
}

WaitFinding find_socket_waiter(const std::vector<pid_t>& pids, ino_t inode,
                               const std::string& proc_root, ReadBudget::Limits limits,
                               MemoryReader& memory) {
  WaitFinding finding;
  bool running = false;
  bool waits_elsewhere = false;
  ReadBudget budget(limits);
  // What was not read is not known: the gate probes instead, or fails a datagram generation.
  const auto out_of_budget = [&](pid_t pid) {
    return WaitFinding{WaitFinding::Kind::unknown, 0, 0, WaitCall::none,
                       "pid " + std::to_string(pid) + " has more to read in /proc than one look "
                       "may (threads, fds, an epoll set or a select() that large)",
                       false};
  };
  for (pid_t pid : pids) {
    if (!budget.spend(1)) return out_of_budget(pid);
    ProcessReader process(proc_root, pid, inode, budget, memory);
    if (process.gone()) continue;
    UniqueFd task_dir = process.open("task", O_RDONLY | O_DIRECTORY);
    std::unique_ptr<DIR, int (*)(DIR*)> tasks(task_dir ? ::fdopendir(task_dir.get()) : nullptr,
                                              ::closedir);
    if (!tasks) continue;  // gone
    (void)task_dir.release();  // the DIR owns it now
    while (const dirent* entry = ::readdir(tasks.get())) {
      pid_t tid = 0;
      if (!parse_number(std::string_view(entry->d_name), tid)) continue;
      if (!budget.spend(1)) return out_of_budget(pid);
      const std::string name = std::string("task/") + entry->d_name + "/syscall";
      const std::string file = process.dir() + "/" + name;
      const UniqueFd fd = process.open(name);
      char line[256];
      const ssize_t length = fd ? ::read(fd.get(), line, sizeof line - 1) : -1;
      if (length < 0) {
        if (errno == EACCES || errno == EPERM) {
          finding.kind = WaitFinding::Kind::unknown;
          finding.why = "no access to " + file;
        }
        continue;  // or the thread is gone
      }
      const std::string_view text(line, static_cast<std::size_t>(length));
      const auto call = parse_syscall_line(text);
      if (!call) {
        running = running || text.starts_with("running");
        continue;
      }
      const WaitCall style = wait_call_of(call->number);
      ThreadWait wait = ThreadWait::other;
      switch (style) {
        case WaitCall::accept:
        case WaitCall::receive:  // on the socket itself: its first argument is the fd
          if (process.fd_is_socket(static_cast<long>(call->args[0]))) wait = ThreadWait::waits;
          break;
        case WaitCall::epoll:
          if (process.epoll_watches(static_cast<long>(call->args[0]))) wait = ThreadWait::waits;
          break;
        case WaitCall::poll:
          wait = poll_waits(process, *call);
          break;
        case WaitCall::select:
          wait = select_waits(process, *call);
          break;
        case WaitCall::io_uring:
          finding.kind = WaitFinding::Kind::unknown;
          finding.why = "pid " + std::to_string(pid) + " waits in io_uring_enter";
          break;
        case WaitCall::none:
          break;
      }
      if (wait == ThreadWait::waits)
        return {WaitFinding::Kind::waiting, pid, tid, style, "", false};
      if (wait == ThreadWait::hung)  // said as it is, not as the budget it used up
        return {WaitFinding::Kind::unknown, 0, 0, WaitCall::none,
                "pid " + std::to_string(pid) + "'s memory did not answer a read within " +
                    std::to_string(ForeignHelper::kDeadline.count()) +
                    " ms (a mapping that blocks, such as a FUSE file)",
                false};
      if (budget.spent()) return out_of_budget(pid);
      if (style == WaitCall::epoll || style == WaitCall::poll || style == WaitCall::select)
        waits_elsewhere = true;
      if (wait == ThreadWait::unreadable) {
        finding.kind = WaitFinding::Kind::unknown;
        finding.why = "no access to " + process.dir() + "/mem";
      }
    }
  }
  finding.idle_elsewhere =
      finding.kind == WaitFinding::Kind::not_waiting && waits_elsewhere && !running;
  return finding;
}

}  // namespace reuserun
