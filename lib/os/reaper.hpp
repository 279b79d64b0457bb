// The one owner of exit statuses. Nothing else in reuserun calls wait*(): two reapers (say, a
// pidfd wait and a waitpid(-1) loop) steal each other's statuses (docs/DESIGN.md §5). On SIGCHLD
// the event loop calls reap(); every exited child is collected with waitpid(-1, WNOHANG) and handed
// to whoever asked for that pid (an exec-gate probe), or else to the default handler (the
// supervisor, which ignores pids that are not a generation: a spawn that failed after fork, an
// orphan when reuserun is PID 1 or a subreaper).
//
// The exit is handled while the child is still a zombie (waitid WNOWAIT), and reaped only after:
// until then its pid, which is also its process group's id, cannot name another process or
// group, so whatever the handler signals (the leftovers of the exited leader's group) is ours.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <vector>

#include "exit_status.hpp"

namespace reuserun {

class Reaper {
 public:
  using ExitHandler = std::function<void(pid_t pid, ExitStatus status)>;
  // Returns an exited child's pid, left unreaped, and fills *status (as waitpid would); 0 when no
  // child has exited, -1 when there is none.
  using WaitAny = std::function<pid_t(int* status)>;
  // Reaps the child WaitAny returned.
  using Release = std::function<void(pid_t pid)>;

  explicit Reaper(ExitHandler default_handler, WaitAny wait_any = peek_any_nohang,
                  Release release = release_child);

  // Every exit that is not routed goes to `handler` from now on.
  void set_default_handler(ExitHandler handler) { default_handler_ = std::move(handler); }
  // The exit of `pid` goes to `handler` instead of the default handler (once).
  void route(pid_t pid, ExitHandler handler);
  // Back to the default handler.
  void unroute(pid_t pid);
  // The children whose exit goes elsewhere (exec-gate probes, an upgrade's check run).
  std::vector<pid_t> routed() const;

  // Collects every child that has exited so far.
  void reap();

  static pid_t peek_any_nohang(int* status);
  static void release_child(pid_t pid);

 private:
  void deliver(pid_t pid, int wait_status);

  ExitHandler default_handler_;
  WaitAny wait_any_;
  Release release_;
  std::map<pid_t, ExitHandler> routes_;
};

}  // namespace reuserun
