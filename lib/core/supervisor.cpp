// The supervisor's events, each routed to the worker lifecycle (worker_lifecycle.cpp) or to the
// launcher's policies (rollout.cpp), and its bookkeeping: snapshots, timers, reports.
#include "supervisor.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "exit_code.hpp"
#include "service_view.hpp"
#include "signal_name.hpp"

namespace reuserun {
namespace {

}  // namespace

bool is_restart_signal_choice(int sig) {
  return sig == SIGHUP || sig == SIGUSR1 || sig == SIGWINCH || sig == SIGTTIN || sig == SIGTTOU;
}

namespace {

// A snapshot's field from or to where a supervisor keeps it.
template <class T>
void carry(const T& from, T& to) {
  to = from;
}
void carry(const std::map<WorkerKey, ChildState>& from, std::vector<ChildState>& to) {
  for (const auto& [key, child] : from) to.push_back(child);
}
void carry(const std::vector<ChildState>& from, std::map<WorkerKey, ChildState>& to) {
  for (const ChildState& child : from) to.emplace(WorkerKey{child.generation, child.slot}, child);
}
void carry(const std::set<TimerId>& from, std::vector<TimerId>& to) {
  to.assign(from.begin(), from.end());
}
void carry(const std::vector<TimerId>& from, std::set<TimerId>& to) {
  to.insert(from.begin(), from.end());
}

}  // namespace

std::string_view outcome_name(RestartOutcome outcome) {
  switch (outcome) {
    case RestartOutcome::succeeded:
      return "succeeded";
    case RestartOutcome::exited:
      return "exited";
    case RestartOutcome::gate_failed:
      return "gate-failed";
    case RestartOutcome::timed_out:
      return "timed-out";
    case RestartOutcome::spawn_failed:
      return "spawn-failed";
    case RestartOutcome::stopped:
      return "stopped";
  }
  return "unknown";
}

template <class Self>
auto Supervisor::durable(Self& self) {
  auto fields = std::tie(self.launcher_.next_generation, self.launcher_.serving,
                         self.launcher_.ever_ready, self.launcher_.failures_in_a_row,
                         self.launcher_.repairs_in_a_row, self.children_, self.armed_);
  static_assert(std::tuple_size_v<decltype(fields)> == kFieldCount<SupervisorSnapshot>,
                "Supervisor::durable names where each field of SupervisorSnapshot is kept");
  return fields;
}

Supervisor::Supervisor(SupervisorConfig config, const SupervisorSnapshot& snapshot)
    : config_(config) {
  for_each_zipped([](auto field, auto& mine) { carry(field.value, mine); }, snapshot.fields(),
                  durable(*this));
}

bool Supervisor::settled() const {
  return !launcher_.rollout && !stopping() && launcher_.spawning.empty() &&
         std::none_of(children_.begin(), children_.end(),
                      [](const auto& entry) { return entry.second.phase == Phase::starting; });
}

SupervisorSnapshot Supervisor::snapshot() const {
  SupervisorSnapshot out;
  for_each_zipped([](const auto& mine, auto field) { carry(mine, field.value); }, durable(*this),
                  out.fields());
  return out;
}

Actions Supervisor::handle(const Event& event) {
  actions_.clear();
  std::visit([this](const auto& e) { on(e); }, event);
  // A restart's result names what serves once the whole event is handled: a stop that ends the
  // restart, or a rollout that goes on, comes after RestartFinished in the same event.
  const auto pids = serving_pids(*this);
  for (Action& action : actions_)
    if (auto* finished = std::get_if<RestartFinished>(&action)) {
      finished->serving = launcher_.serving;
      finished->serving_pid = pids.empty() ? std::nullopt : std::optional<pid_t>(pids.front());
    }
  return std::move(actions_);
}

// ---- events ----

void Supervisor::on(const StartRequested&) { launch_generation(LaunchKind::first_start); }

void Supervisor::on(const RestartRequested&) { request_restart(); }

void Supervisor::on(const SignalReceived& event) {
  if (event.sig == config_.restart_signal) {
    request_restart();
  } else if (event.sig == SIGTERM || event.sig == SIGINT) {
    if (stopping()) {
      report(LogLevel::warn,
             fmt::format("{} again: killing every generation now", signal_name(event.sig)));
      force_stop();
    } else {
      report(LogLevel::info, fmt::format("{}: stopping", signal_name(event.sig)));
      begin_stop();
    }
  } else if (event.sig == SIGHUP) {
    // --restart-signal names another: SIGHUP is taken (a terminal that closes, a process
    // manager's), and passing it on would end most servers.
    report(LogLevel::info, "SIGHUP ignored: the restart signal is " +
                               signal_name(config_.restart_signal) + " (--restart-signal)");
  } else if (is_restart_signal_choice(event.sig)) {  // passed on unchanged (man/reuserun.1)
    forward_to_serving(event.sig);
  }
  // SIGUSR2 is reuserun's own in-place upgrade (einhorn's and nginx's meaning): the event loop's
  // business, never forwarded.
}

void Supervisor::on(const ChildSpawned& event) {
  const WorkerKey key{event.generation, event.slot};
  change(LauncherChange::spawned, {.worker = key, .pid = event.pid});
  ChildState& child =
      children_[key] = {event.generation, event.pid, Phase::starting, event.slot, event.at_ns, {}};
  report_worker(child, "started", LogLevel::info,
                fmt::format("{} started: pid {}", name_of(child), event.pid));
  actions_.push_back(StartGate{event.generation, event.pid, event.slot});
  arm(TimerKind::ready_deadline, key, config_.ready_timeout);
}

void Supervisor::on(const SpawnFailed& event) {
  const WorkerKey key{event.generation, event.slot};
  change(LauncherChange::spawn_failed, {.worker = key});
  report(LogLevel::error, fmt::format("generation {}: {}", event.generation, event.reason));
  if (candidate() != event.generation) {  // a repair: try again later
    if (!stopping()) schedule_repair(key);
    return;
  }
  if (!launcher_.ever_ready && launcher_.rollout->kind == LaunchKind::first_start &&
      launcher_.failures_in_a_row == 0) {
    // The very first start: nothing to keep serving and nothing that will change by retrying.
    change(LauncherChange::exit_decided, {.exit_code = exit_code_for_exec_error(event.error)});
    change(LauncherChange::rollout_ended);
    begin_stop();
    return;
  }
  fail_candidate(RestartOutcome::spawn_failed, event.reason, key, Culprit::gone);
}

void Supervisor::on(const BindRefused& event) {
  const auto it = children_.find(WorkerKey{event.generation, event.slot});
  if (it == children_.end()) return;
  if (!launcher_.ever_ready && launcher_.rollout &&
      launcher_.rollout->kind == LaunchKind::first_start &&
      candidate() == event.generation) {
    // The very first start: the command and reuserun's socket disagree, and will again.
    report(LogLevel::error, fmt::format("generation {} (pid {}) {}", event.generation,
                                        it->second.pid, event.reason));
    change(LauncherChange::exit_decided, {.exit_code = kExitListen});
    change(LauncherChange::rollout_ended);
    begin_stop();
    return;
  }
  Happened happened;
  happened.reason = "it " + event.reason;
  happen(it->second, WorkerEvent::gate_failed, happened);
}

void Supervisor::on(const ChildExited& event) {
  ChildState* child = find_by_pid(event.pid);
  if (child == nullptr) return;  // an exec-gate probe or an orphan: not a worker
  ChildState gone = *child;
  const WorkerKey key{gone.generation, gone.slot};
  children_.erase(key);
  cancel_timers_of(key);
  // Whatever the leader left behind has lost its supervisor: its process group now, while the
  // leader is a zombie (reaper.hpp); what left the group once the loop forgets the worker.
  kill_group(gone, SIGKILL);
  actions_.push_back(ForgetWorker{gone.generation, gone.slot, gone.pid});
  Happened happened;
  happened.status = event.status;
  happened.left_holding = event.left_holding;
  happen(gone, WorkerEvent::exited, happened);
  exit_if_stopped();
}

void Supervisor::on(const GatePassed& event) {
  const auto it = children_.find(WorkerKey{event.generation, event.slot});
  if (it == children_.end()) return;
  Happened happened;
  happened.reason = event.how;
  happen(it->second, WorkerEvent::gate_passed, happened);
}

void Supervisor::on(const GateFailed& event) {
  const auto it = children_.find(WorkerKey{event.generation, event.slot});
  if (it == children_.end()) return;
  Happened happened;
  happened.reason = event.reason;
  happened.timed_out = event.timed_out;
  happened.hint = event.hint;
  happen(it->second, WorkerEvent::gate_failed, happened);
}

void Supervisor::on(const TimerFired& event) {
  if (armed_.erase(event.id) == 0) return;  // cancelled meanwhile
  const WorkerKey key{event.id.generation, event.id.slot};
  const auto child = children_.find(key);
  Happened happened;
  happened.timer = event.id.kind;
  switch (event.id.kind) {
    case TimerKind::ready_deadline:
      if (child != children_.end()) happen(child->second, WorkerEvent::ready_deadline, happened);
      break;
    case TimerKind::drain_deadline:
    case TimerKind::kill_deadline:
      if (child != children_.end()) happen(child->second, WorkerEvent::stop_deadline, happened);
      break;
    case TimerKind::stop_deadline:
      report(LogLevel::warn, fmt::format("children still running after {} (--stop-timeout)",
                                         format_duration(config_.stop_timeout)));
      force_stop();
      break;
    case TimerKind::backoff:
      launch_generation(LaunchKind::first_start);
      break;
    case TimerKind::stable:
      if (launcher_.serving == key.generation) change(LauncherChange::stable);
      break;
    case TimerKind::repair:
      if (stopping() || children_.contains(key)) break;
      change(LauncherChange::spawn_asked, {.worker = key});
      actions_.push_back(SpawnChild{key.generation, key.slot});
      break;
    case TimerKind::watchdog:
      if (child != children_.end()) happen(child->second, WorkerEvent::watchdog_missed, happened);
      break;
  }
}

// A ping counts while the worker's watchdog is armed: it serves and has not missed yet.
void Supervisor::on(const WatchdogPinged& event) {
  const WorkerKey key{event.generation, event.slot};
  const auto child = children_.find(key);
  if (child == children_.end() || !armed_.contains(TimerId{TimerKind::watchdog, key.generation,
                                                           key.slot}))
    return;
  if (event.trigger) {
    cancel(TimerKind::watchdog, key);
    Happened happened;
    happened.reason = "asked with WATCHDOG=trigger";
    return happen(child->second, WorkerEvent::watchdog_missed, happened);
  }
  arm(TimerKind::watchdog, key, config_.watchdog);  // re-armed: the earlier arming never fires
}

// ---- bookkeeping ----

void Supervisor::kill_group(const ChildState& child, int sig) {
  actions_.push_back(SignalGroup{child.pid, sig});
}

// "generation 3", or "generation 3 worker 1" when there are several.
std::string Supervisor::name_of(const ChildState& child) const {
  if (config_.workers <= 1) return fmt::format("generation {}", child.generation);
  return fmt::format("generation {} worker {}", child.generation, child.slot);
}

void Supervisor::arm(TimerKind kind, WorkerKey worker, Duration after) {
  const TimerId id{kind, worker.generation, worker.slot};
  armed_.insert(id);
  actions_.push_back(ArmTimer{id, after});
}

void Supervisor::cancel(TimerKind kind, WorkerKey worker) {
  const TimerId id{kind, worker.generation, worker.slot};
  if (armed_.erase(id) > 0) actions_.push_back(CancelTimer{id});
}

void Supervisor::cancel_timers_of(WorkerKey worker) {
  for (TimerKind kind : {TimerKind::ready_deadline, TimerKind::drain_deadline,
                         TimerKind::kill_deadline, TimerKind::stable, TimerKind::watchdog})
    cancel(kind, worker);
}

void Supervisor::report(LogLevel level, std::string text) {
  actions_.push_back(Report{level, std::move(text)});
}

void Supervisor::report_worker(const ChildState& child, std::string_view event, LogLevel level,
                               std::string text) {
  actions_.push_back(
      Report{level, std::move(text), std::string(event), child.generation, child.slot, child.pid});
}

ChildState* Supervisor::find_by_pid(pid_t pid) {
  for (auto& [key, child] : children_)
    if (child.pid == pid) return &child;
  return nullptr;
}

}  // namespace reuserun
