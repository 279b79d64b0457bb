// Who is waiting for connections on a listening socket, as the kernel shows it in /proc: a thread
// blocked in accept()/accept4() on the socket's fd, in epoll_wait() on an epoll set that watches
// the socket for input, or in poll()/select() with the socket in its read set (the fd array is
// read from /proc/PID/mem). This is how the default readiness gate learns that a new generation
// is ready without sending a connection the old generation could take (docs/DESIGN.md §3).
//
// Reading another process's syscall and memory needs ptrace access (PTRACE_MODE_ATTACH_FSCREDS):
// reuserun's own children, same uid or root, unless Yama or a non-dumpable server forbids it.
// What /proc cannot tell is said (WaitFinding::unknown), and the gate falls back to probing.
#pragma once

#include <sys/types.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "foreign_helper.hpp"
#include "read_budget.hpp"

namespace reuserun {

// A line of /proc/PID/task/TID/syscall: the number and arguments of the syscall a blocked thread
// is in. nullopt for "running" or a thread blocked outside any syscall ("-1 ...").
struct SyscallSnapshot {
  long number = -1;
  std::array<unsigned long, 6> args{};
};
std::optional<SyscallSnapshot> parse_syscall_line(std::string_view line);

// How a thread waits, for the syscalls that can wait for connections.
enum class WaitCall { none, accept, receive, epoll, poll, select, io_uring };
WaitCall wait_call_of(long number);
std::string_view wait_call_name(WaitCall call);

// True when /proc/PID/fdinfo/EPFD of an epoll fd lists the socket `inode` as a target watched for
// input ("tfd: 3 events: 19 data: ... ino:2f9a ...": events and ino are hexadecimal).
bool epoll_watches_for_input(std::string_view fdinfo, ino_t inode);

// The inode of the socket an fd link names ("socket:[12345]"), or 0.
ino_t socket_inode_of_link(std::string_view target);

struct WaitFinding {
  enum class Kind {
    waiting,      // a thread waits for connections on the socket: `pid`, `tid`, `call`
    not_waiting,  // every thread could be read, none waits on the socket (yet)
    unknown,      // /proc cannot tell: `why` (unreadable, or a wait it cannot see into)
  };
  Kind kind = Kind::not_waiting;
  pid_t pid = 0;
  pid_t tid = 0;
  WaitCall call = WaitCall::none;
  std::string why;
  // not_waiting, and no thread was running while one waited in epoll/poll/select on something
  // else: an event loop /proc cannot attribute (say, a nested epoll set), or one not on the
  // socket yet (a server waiting for its database).
  bool idle_elsewhere = false;

  // "pid 123 waits in epoll_wait", for the log and `ctl status`.
  std::string describe() const;
};

// What a process that did not exit when asked to is doing, when /proc shows it still waiting on
// the shared socket, in the words of the log line before its SIGKILL ("pid 12 is blocked in
// accept on the shared socket: ..."); "" when the finding says nothing about being stuck
// (issue 27, finding 5).
std::string describe_stuck(const WaitFinding& finding);

// Looks at every thread of every process in `pids` (a generation's process tree), within
// `limits`: a look that would read more says `unknown` (read_budget.hpp). Memory (poll and
// select arrays) is read through `memory`; the loop passes memory_helper().
WaitFinding find_socket_waiter(const std::vector<pid_t>& pids, ino_t inode,
                               const std::string& proc_root = "/proc",
                               ReadBudget::Limits limits = ReadBudget::kOneLook,
                               MemoryReader& memory = direct_memory_reader());

}  // namespace reuserun
