// The one owner of exit statuses. Nothing else in reuserun calls wait*(): two reapers (say, a
// pidfd wait and a waitpid(-1) loop) steal each other's statuses (DESIGN.md §5). On SIGCHLD the
// event loop calls reap(); every exited child is collected with waitpid(-1, WNOHANG) and handed
// to whoever asked for that pid (an exec-gate probe), or else to the default handler (the
// supervisor, which ignores pids that are not a generation: a spawn that failed after fork, an
// orphan when reuserun is PID 1 or a subreaper).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>

namespace reuserun {

class Reaper {
 public:
  using ExitHandler = std::function<void(pid_t pid, int wait_status)>;
  // Returns a reaped pid and fills *status, 0 when no child has exited, -1 when there is none.
  using WaitAny = std::function<pid_t(int* status)>;

  explicit Reaper(ExitHandler default_handler, WaitAny wait_any = wait_any_nohang);

  // The exit of `pid` goes to `handler` instead of the default handler (once).
  void route(pid_t pid, ExitHandler handler);
  // Back to the default handler.
  void unroute(pid_t pid);

  // Collects every child that has exited so far.
  void reap();

  static pid_t wait_any_nohang(int* status);

 private:
  ExitHandler default_handler_;
  WaitAny wait_any_;
  std::map<pid_t, ExitHandler> routes_;
};

}  // namespace reuserun
