// What the event loop asks of the system (issue 28): ninja's CommandRunner and DiskInterface
// for reuserun. The loop routes events and decides nothing about the OS; through a Host it
// spawns, signals, reaps, opens notify channels, tells systemd, reads the clock and ends what the
// generations left behind. RealHost (real_host.hpp) does it; tests/unit/event_loop_test.cpp
// gives the loop a fake that records, and drives it without fork.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crash_recovery.hpp"
#include "notify_socket.hpp"
#include "reaper.hpp"
#include "result.hpp"
#include "sd_notify.hpp"
#include "spawn.hpp"
#include "supervisor.hpp"
#include "system_view.hpp"

namespace boost::asio {
class io_context;
}

namespace reuserun {

class Host {
 public:
  using Clock = std::chrono::steady_clock;
  using SignalHandler = std::function<void(int sig)>;
  virtual ~Host() = default;

  // The loop's one thread: every wait of the loop (control clients, gates, notify messages,
  // timers) runs on it.
  virtual boost::asio::io_context& io() = 0;
  virtual Clock::time_point now() const = 0;
  virtual pid_t self() const = 0;
  // From now on, each of SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN and
  // SIGTTOU that reuserun receives, on the loop's thread.
  virtual void watch_signals(SignalHandler handler) = 0;
  // systemd's watchdog for reuserun itself (WATCHDOG_USEC): pinged while the loop turns.
  virtual void start_watchdog() = 0;

  // Children: started here, reaped by the one Reaper (reaper.hpp), whose default handler the
  // loop sets.
  virtual Result<pid_t> spawn(const SpawnRequest& request) = 0;
  virtual Reaper& reaper() = 0;
  // A worker's process group and what left it (group_signal.hpp); the leader is unreaped.
  virtual void signal_worker(pid_t leader, int sig) = 0;
  // A probe's group, at once.
  virtual void kill_group(pid_t leader) = 0;

  virtual Result<std::unique_ptr<NotifySocket>> open_notify(NotifyOwner owner) = 0;
  virtual const SystemdNotifier& systemd() const = 0;
  virtual const SystemView& system() const = 0;

  // What the generations left behind outside their groups, reparented to reuserun (as PID 1 or
  // a subreaper): leftovers.hpp. `known`: the children that are no leftover (workers, probes).
  virtual void child_reaped(pid_t pid) = 0;
  // A process of `worker`'s (or of no telling whose) that holds one of `sockets`; 0 if none.
  virtual pid_t left_holding(WorkerKey worker, const std::vector<pid_t>& known,
                             const std::set<ino_t>& sockets) = 0;
  // SIGKILL to what `worker` (whose leader was `leader`) left behind.
  virtual void end_leftovers_of(WorkerKey worker, pid_t leader,
                                const std::vector<pid_t>& known) = 0;
  // SIGKILL to the leftovers of every worker that `running` says is gone.
  virtual void end_leftovers_of_gone(const std::function<bool(WorkerKey)>& running,
                                     const std::vector<pid_t>& known) = 0;
  // `sig` to every leftover whose worker is known.
  virtual void signal_leftovers(int sig, const std::vector<pid_t>& known) = 0;
  // One look at what is still below reuserun once every worker has exited: SIGKILL to all of it
  // when `kill`. Done when nothing is left below reuserun, or when `give_up`.
  struct Sweep {
    bool done = false;
    bool killed = false;  // this look sent SIGKILL to something
  };
  virtual Sweep sweep_leftovers(const std::vector<pid_t>& known, bool kill, bool give_up) = 0;

  // The recovery from a fatal signal of reuserun's own (crash_recovery.hpp): prepared again
  // whenever what it keeps changes, ended when a stop begins.
  virtual void prepare_crash_recovery(const CrashRecoveryPlan& plan) = 0;
  virtual void end_crash_recovery() = 0;
  virtual void note_next_generation(Generation next) = 0;

  // --watch: `changed` with the first path that changed, once the changes have settled. False
  // (logged) when nothing can be watched (no inotify).
  virtual bool watch_files(const std::vector<std::string>& paths, Duration settle,
                           std::function<void(const std::string&)> changed) = 0;

  // The generation a killed reuserun left, if this one adopted it (orphans.hpp): `sig` to each
  // of its processes, SIGKILL after `timeout`. Once, when this reuserun's first generation
  // serves, or when it stops first.
  virtual void drain_orphans(int sig, Duration timeout) = 0;

  // The in-place upgrade's last step (upgrade.hpp): returns only when execve failed.
  virtual Error exec_new_image(const std::string& executable, const std::vector<std::string>& argv,
                               int handover_fd, const std::vector<int>& inherited) = 0;
};

}  // namespace reuserun
