// What the generations leave behind outside their process groups (issue 27, finding 1): a
// command that daemonizes, or a child that moved to a group of its own, is reparented to
// reuserun (PID 1 or a subreaper) when its parent exits. Each child carries REUSERUN_GENERATION
// and REUSERUN_WORKER, so a "stray" (a child of reuserun that is no worker, probe or helper) is
// traced to its worker (group_signal.hpp). The real Host's part of the loop (host.hpp).
#pragma once

#include <sys/types.h>

#include <functional>
#include <set>
#include <vector>

#include "group_signal.hpp"
#include "host.hpp"

namespace reuserun {

class Leftovers {
 public:
  explicit Leftovers(pid_t self) : self_(self) {}
  // `pid` is reaped after this: its number may name another process.
  void reaped(pid_t pid) { cache_.erase(pid); }
  pid_t holding(WorkerKey worker, const std::vector<pid_t>& known, const std::set<ino_t>& sockets);
  void end_of(WorkerKey worker, pid_t leader, const std::vector<pid_t>& known);
  void end_of_gone(const std::function<bool(WorkerKey)>& running,
                   const std::vector<pid_t>& known);
  void signal_all(int sig, const std::vector<pid_t>& known);
  Host::Sweep sweep(const std::vector<pid_t>& known, bool kill, bool give_up);

 private:
  // `known` and reuserun's own helpers (foreign_helper.hpp): the children that are no stray.
  static std::vector<pid_t> not_strays(const std::vector<pid_t>& known);
  bool signal_stray(pid_t pid, int sig) const;

  pid_t self_;
  StrayCache cache_;
  std::set<pid_t> killed_at_exit_;
};

}  // namespace reuserun
