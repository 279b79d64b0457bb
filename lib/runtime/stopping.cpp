// How the launcher ends, the event loop's part: a worker gone (what it left behind goes with it),
// the stop (the stop signal to what the generations left, systemd told how long it may take) and
// the exit (nothing of any generation outlives reuserun). The looks at /proc and the signals are
// the host's (leftovers.hpp).
#include <sys/stat.h>

#include <fmt/format.h>

#include <csignal>

#include "event_loop.hpp"
#include "exit_code.hpp"
#include "service_view.hpp"

namespace reuserun {

// A worker is gone. Its notify channel closes (later: this may run inside its own handler). What
// it left behind outside its process group was reparented to reuserun (as PID 1 or a subreaper)
// and goes with it; while reuserun stops, it had the stop signal and gets the stop timeout
// (sweep_before_exit).
void EventLoop::apply(const ForgetWorker& action) {
  const WorkerKey worker{action.generation, action.slot};
  channels_.notify.forget(worker);
  channels_.takeovers.forget(worker);
  if (!lifetime_.stopping) host_.end_leftovers_of(worker, action.pid, known_children());
  report_stop_progress();
}

// Every exit of a child comes here (the Reaper's default handler), while the child is a zombie.
// A worker's exit says what it left holding the shared socket; any other exit (an orphan's)
// may have reparented what that one started in turn, which goes the way of its worker: looked
// for once the exits of a burst are in (a storm of exits costs one look per interval).
void EventLoop::on_child_exit(pid_t pid, ExitStatus status) {
  host_.child_reaped(pid);
  if (lifetime_.exiting) return;
  const auto running = workers();
  if (const auto worker = running.find(pid); worker != running.end())
    return dispatch(ChildExited{
        pid, status, host_.left_holding(worker->second, known_children(), listener_inodes())});
  dispatch(ChildExited{pid, status});
  if (lifetime_.sweep_pending) return;
  lifetime_.sweep_pending = true;
  lifetime_.sweep_timer.expires_after(std::chrono::milliseconds(100));
  lifetime_.sweep_timer.async_wait([this](boost::system::error_code error) {
    lifetime_.sweep_pending = false;
    if (error || lifetime_.exiting) return;
    std::set<WorkerKey> running;
    for (const auto& [pid, worker] : workers()) running.insert(worker);
    host_.end_leftovers_of_gone([&](WorkerKey worker) { return running.contains(worker); },
                                known_children());
  });
}

// The loop's one look at which workers the supervisor has (spawned, not yet reaped).
std::map<pid_t, WorkerKey> EventLoop::workers() const {
  std::map<pid_t, WorkerKey> running;
  for (const auto& [key, child] : supervisor_.children()) running.emplace(child.pid, key);
  return running;
}

std::vector<pid_t> EventLoop::known_children() const {
  std::vector<pid_t> ours = host_.reaper().routed();  // probes, an upgrade's check run
  for (const auto& [pid, worker] : workers()) ours.push_back(pid);
  return ours;
}

std::set<ino_t> EventLoop::listener_inodes() const {
  std::set<ino_t> inodes;
  for (const Listener& listener : listeners_) {
    struct stat info {};
    if (::fstat(listener.fd(), &info) == 0) inodes.insert(info.st_ino);
  }
  return inodes;
}

// Nothing of any generation outlives reuserun (issue 27, finding 1): once every worker has
// exited, what is still below reuserun had the stop signal (Stopping) and gets until the stop
// deadline to exit (a second SIGTERM or SIGINT: not a moment longer); then all of it gets
// SIGKILL. The loop keeps turning meanwhile (`ctl`, signals). Bounded: 2 s after the deadline
// reuserun exits whatever is left.
void EventLoop::sweep_before_exit() {
  using namespace std::chrono_literals;
  host_.reaper().reap();
  const auto now = host_.now();
  const auto grace = lifetime_.hurry ? now : lifetime_.stop_deadline.value_or(now);
  const Host::Sweep sweep = host_.sweep_leftovers(known_children(), now >= grace, now >= grace + 2s);
  lifetime_.killed_leftovers = lifetime_.killed_leftovers || sweep.killed;
  if (sweep.done) {
    const int code = *lifetime_.exiting;
    lifetime_.exit_code = lifetime_.killed_leftovers && code == kExitOk ? kExitForcedStop : code;
    return;
  }
  lifetime_.sweep_timer.expires_after(20ms);
  lifetime_.sweep_timer.async_wait([this](boost::system::error_code error) {
    if (!error) sweep_before_exit();
  });
}

// While a stop waits for generations that drain, systemd hears which ones and gets its stop
// timeout extended to reuserun's own deadline (--stop-timeout, then SIGKILL) each time one exits.
void EventLoop::report_stop_progress() {
  if (!lifetime_.stop_deadline) return;
  const std::string waiting = describe_workers_left(supervisor_);
  if (waiting.empty()) return;
  const auto left = std::chrono::ceil<Duration>(*lifetime_.stop_deadline - host_.now());
  host_.systemd().stopping("stopping: waiting for " + waiting,
                           std::max(left, Duration::zero()) + std::chrono::seconds(1));
}

void EventLoop::apply(const Stopping&) {
  lifetime_.stopping = true;  // set already for the batch that holds it (dispatch)
  carry_out(upgrade_.machine.stopping());
  host_.signal_leftovers(config_.stop_signal, known_children());
  host_.drain_orphans(config_.stop_signal, config_.stop_timeout);
  lifetime_.stop_deadline = host_.now() + config_.stop_timeout;
  restarts_.refuse_all(stopped_result());
  host_.systemd().stopping("stopping", config_.stop_timeout + std::chrono::seconds(1));
}

void EventLoop::apply(const Exit& action) {
  restarts_.abandon("reuserun exited before the restart ended\n");
  if (lifetime_.exiting) return;
  lifetime_.exiting = action.code;
  lifetime_.sweep_timer.cancel();
  sweep_before_exit();
}

}  // namespace reuserun
