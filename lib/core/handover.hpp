// The handover of an in-place upgrade: everything a running reuserun knows that its new image
// (the same PID after execve) needs to carry on — the sockets, the children and their timers, the
// counters `ctl status` shows, the `ctl upgrade` clients still waiting — as text in an inherited
// file. The first line names the format's version; a reuserun refuses any version but its own,
// before it touches anything (man/reuserun.1, UPGRADE).
//
// File descriptors are named by number: the new image inherits them at the same numbers.
// Times are CLOCK_MONOTONIC (std::chrono::steady_clock) nanoseconds, which execve does not reset.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "status.hpp"
#include "supervisor.hpp"

namespace reuserun {

inline constexpr int kHandoverVersion = 1;

struct HandedListener {
  int fd = -1;
  bool owns_path = false;  // a unix socket file reuserun created, removed when it exits
  std::string name;        // its LISTEN_FDNAMES entry
};

// What the event loop knows of a child beside the supervisor's state of it.
struct HandedWorker {
  std::int64_t spawned_at_ns = 0;
  int notify_fd = -1;  // its NOTIFY_SOCKET, -1 when it has none
  std::string notify_address;
  int takeover_fd = -1;  // its bind takeover's notification fd, -1 when it has none
  std::string bound_itself;  // what it bound itself and was given the shared socket for
};

// A `reuserun ctl upgrade` connection, answered by the new image.
struct HandedWaiter {
  int fd = -1;
  bool json = false;
};

struct Handover {
  std::int64_t started_at_ns = 0;  // when reuserun (its first image) started
  std::int64_t upgrade_began_ns = 0;
  std::string previous_executable;
  unsigned long upgrades = 0;  // completed before this one
  std::vector<HandedListener> listeners;
  int control_fd = -1;  // -1: no control socket
  std::string control_path;
  SupervisorSnapshot supervisor;
  // Beside it, the event loop's part: one entry for each child of `supervisor`, and the expiry
  // of each of its armed timers. encode_handover writes them with the child or timer they go
  // with, so a decoded handover always has both.
  std::map<WorkerKey, HandedWorker> workers;
  std::map<TimerId, std::int64_t> timer_expiries_ns;
  unsigned long restarts = 0;
  std::optional<RestartResult> last_restart;
  std::int64_t last_restart_at_ns = 0;
  std::vector<HandedWaiter> waiters;
};

std::string encode_handover(const Handover& handover);
// An error names the line that is wrong; a version other than kHandoverVersion is refused.
Result<Handover> decode_handover(std::string_view text);

}  // namespace reuserun
