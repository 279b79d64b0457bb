#include "supervisor.hpp"

#include <sys/wait.h>

#include <algorithm>

#include "exit_code.hpp"
#include "signal_name.hpp"

namespace reuserun {
namespace {

// Signals passed on to the serving generation unchanged (documented in man/reuserun.1).
bool is_forwarded_signal(int sig) {
  return sig == SIGUSR1 || sig == SIGWINCH || sig == SIGTTIN || sig == SIGTTOU;
}

}  // namespace

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::starting:
      return "starting";
    case Phase::serving:
      return "serving";
    case Phase::draining:
      return "draining";
    case Phase::failed:
      return "failed";
    case Phase::stopping:
      return "stopping";
  }
  return "unknown";
}

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

Supervisor::Supervisor(SupervisorConfig config, const SupervisorSnapshot& snapshot)
    : config_(config),
      repairs_in_a_row_(snapshot.repairs_in_a_row),
      armed_(snapshot.armed.begin(), snapshot.armed.end()),
      next_generation_(snapshot.next_generation),
      serving_(snapshot.serving),
      ever_ready_(snapshot.ever_ready),
      failures_in_a_row_(snapshot.failures_in_a_row) {
  for (const ChildState& child : snapshot.children)
    children_.emplace(WorkerKey{child.generation, child.slot}, child);
}

bool Supervisor::settled() const {
  return !candidate_ && !restart_pending_ && !stopping_ && spawning_.empty() && pending_.empty() &&
         std::none_of(children_.begin(), children_.end(),
                      [](const auto& entry) { return entry.second.phase == Phase::starting; });
}

SupervisorSnapshot Supervisor::snapshot() const {
  SupervisorSnapshot out;
  out.next_generation = next_generation_;
  out.serving = serving_;
  out.ever_ready = ever_ready_;
  out.failures_in_a_row = failures_in_a_row_;
  out.repairs_in_a_row = repairs_in_a_row_;
  for (const auto& [key, child] : children_) out.children.push_back(child);
  out.armed.assign(armed_.begin(), armed_.end());
  return out;
}

Actions Supervisor::handle(const Event& event) {
  actions_.clear();
  std::visit([this](const auto& e) { on(e); }, event);
  return std::move(actions_);
}

// ---- events ----

void Supervisor::on(const StartRequested&) { launch_generation(false); }

void Supervisor::on(const RestartRequested&) { request_restart(); }

void Supervisor::on(const SignalReceived& event) {
  if (event.sig == SIGHUP) {
    request_restart();
  } else if (event.sig == SIGTERM || event.sig == SIGINT) {
    if (stopping_) {
      report(LogLevel::warn,
             fmt::format("{} again: killing every generation now", signal_name(event.sig)));
      force_stop();
    } else {
      report(LogLevel::info, fmt::format("{}: stopping", signal_name(event.sig)));
      begin_stop();
    }
  } else if (is_forwarded_signal(event.sig)) {
    forward_to_serving(event.sig);
  }
  // SIGUSR2 is reuserun's own in-place upgrade (einhorn's and nginx's meaning): the event loop's
  // business, never forwarded.
}

void Supervisor::on(const ChildSpawned& event) {
  const WorkerKey key{event.generation, event.slot};
  spawning_.erase(key);
  ChildState& child = children_[key] = {event.generation, event.pid, Phase::starting, event.slot};
  report(LogLevel::info, fmt::format("{} started: pid {}", name_of(child), event.pid));
  actions_.push_back(StartGate{event.generation, event.pid, event.slot});
  arm(TimerKind::ready_deadline, key, config_.ready_timeout);
}

void Supervisor::on(const SpawnFailed& event) {
  const WorkerKey key{event.generation, event.slot};
  spawning_.erase(key);
  report(LogLevel::error, fmt::format("generation {}: {}", event.generation, event.reason));
  if (candidate_ != event.generation) {  // a repair: try again later
    if (!stopping_) schedule_repair(key);
    return;
  }
  if (!ever_ready_ && !candidate_is_restart_ && failures_in_a_row_ == 0) {
    // The very first start: nothing to keep serving and nothing that will change by retrying.
    exit_code_ = exit_code_for_exec_error(event.error);
    candidate_.reset();
    pending_.clear();
    begin_stop();
    return;
  }
  fail_candidate(RestartOutcome::spawn_failed, event.reason, key, false);
}

void Supervisor::on(const ChildExited& event) {
  ChildState* child = find_by_pid(event.pid);
  if (child == nullptr) return;  // an exec-gate probe or an orphan: not a worker
  const ChildState gone = *child;
  const WorkerKey key{gone.generation, gone.slot};
  children_.erase(key);
  cancel_timers_of(key);
  // Whatever the leader left behind in its process group has lost its supervisor.
  kill_group(gone, SIGKILL);
  const std::string how = describe_wait_status(event.wait_status);
  switch (gone.phase) {
    case Phase::starting:
      actions_.push_back(CancelGate{gone.generation, gone.slot});
      if (candidate_ == gone.generation)
        fail_candidate(RestartOutcome::exited,
                       fmt::format("pid {} {} before it was ready", gone.pid, how), key, false);
      else if (!stopping_)
        schedule_repair(key);
      break;
    case Phase::serving: {
      report(LogLevel::warn,
             fmt::format("{} (pid {}) {} while serving", name_of(gone), gone.pid, how));
      const bool others_serve =
          std::any_of(children_.begin(), children_.end(),
                      [](const auto& entry) { return entry.second.phase == Phase::serving; });
      if (!others_serve) {
        // Nothing serves any more: a whole new generation, after the backoff.
        if (serving_ == gone.generation) serving_.reset();
        if (!candidate_) schedule_respawn();
      } else if (!(candidate_ &&
                   std::find(pending_.begin(), pending_.end(), gone.slot) != pending_.end())) {
        schedule_repair(key);  // one worker down: respawned alone
      }
      break;
    }
    case Phase::draining:
    case Phase::failed:
    case Phase::stopping:
      report(LogLevel::info, fmt::format("{} (pid {}) {} ({})", name_of(gone), gone.pid, how,
                                         phase_name(gone.phase)));
      break;
  }
  exit_if_stopped();
}

void Supervisor::on(const GatePassed& event) {
  auto it = children_.find(WorkerKey{event.generation, event.slot});
  if (it == children_.end() || it->second.phase != Phase::starting) return;
  ChildState& child = it->second;
  if (candidate_ == event.generation) return promote_worker(child);
  mark_serving(child, "is ready again");  // a repaired worker takes its slot back
}

void Supervisor::on(const GateFailed& event) {
  const WorkerKey key{event.generation, event.slot};
  auto it = children_.find(key);
  if (it == children_.end() || it->second.phase != Phase::starting) return;
  if (candidate_ == event.generation)
    return fail_candidate(event.timed_out ? RestartOutcome::timed_out : RestartOutcome::gate_failed,
                          event.reason, key, true);
  report(LogLevel::error, fmt::format("{} failed: {}", name_of(it->second), event.reason));
  stop_worker(it->second);
  schedule_repair(key);
}

void Supervisor::on(const TimerFired& event) {
  if (armed_.erase(event.id) == 0) return;  // cancelled meanwhile
  const WorkerKey key{event.id.generation, event.id.slot};
  const auto child = children_.find(key);
  switch (event.id.kind) {
    case TimerKind::ready_deadline:
      // The gate gives up and answers GateFailed, naming what it saw.
      if (child != children_.end() && child->second.phase == Phase::starting)
        actions_.push_back(ExpireGate{key.generation,
                                      fmt::format("not ready within {} (--ready-timeout)",
                                                  format_duration(config_.ready_timeout)),
                                      key.slot});
      break;
    case TimerKind::drain_deadline:
    case TimerKind::kill_deadline:
      if (child == children_.end()) break;
      report(LogLevel::warn, fmt::format("{} (pid {}) still running after {}: SIGKILL",
                                         name_of(child->second), child->second.pid,
                                         format_duration(event.id.kind == TimerKind::drain_deadline
                                                             ? config_.drain_timeout
                                                             : config_.stop_timeout)));
      kill_group(child->second, SIGKILL);
      break;
    case TimerKind::stop_deadline:
      report(LogLevel::warn, fmt::format("children still running after {} (--stop-timeout)",
                                         format_duration(config_.stop_timeout)));
      force_stop();
      break;
    case TimerKind::backoff:
      launch_generation(false);
      break;
    case TimerKind::stable:
      if (serving_ == key.generation) {
        failures_in_a_row_ = 0;
        repairs_in_a_row_.clear();
      }
      break;
    case TimerKind::repair:
      if (stopping_ || children_.contains(key)) break;
      spawning_.insert(key);
      actions_.push_back(SpawnChild{key.generation, key.slot});
      break;
  }
}

// ---- policies ----

void Supervisor::request_restart() {
  if (stopping_) return;
  if (candidate_) {
    restart_pending_ = true;
    report(LogLevel::info,
           fmt::format("restart requested while generation {} is starting: one more restart "
                       "queued",
                       *candidate_));
    return;
  }
  cancel(TimerKind::backoff, WorkerKey{0});
  launch_generation(true);
}

void Supervisor::launch_generation(bool restart) {
  const Generation generation = next_generation_++;
  candidate_ = generation;
  candidate_is_restart_ = restart;
  if (restart) {
    report(LogLevel::info, fmt::format("restart: starting generation {}", generation));
    actions_.push_back(RestartStarted{generation});
  }
  pending_.clear();
  for (Slot slot = 0; slot < config_.workers; ++slot) pending_.push_back(slot);
  start_pending_workers();
}

// A first start (or a respawn after a crash) starts every worker at once: nothing serves yet. A
// restart starts at most max_surge at a time, each one replacing the old worker of its slot.
void Supervisor::start_pending_workers() {
  const std::size_t limit =
      candidate_is_restart_ ? std::max<Slot>(1, config_.max_surge) : config_.workers;
  while (!pending_.empty() && starting_workers(*candidate_) < limit) {
    const Slot slot = pending_.front();
    pending_.pop_front();
    spawning_.insert(WorkerKey{*candidate_, slot});  // not {a, b}: that is an initializer list
    actions_.push_back(SpawnChild{*candidate_, slot});
  }
}

std::size_t Supervisor::starting_workers(Generation generation) const {
  std::size_t count = 0;
  for (const auto& key : spawning_) count += key.generation == generation;
  for (const auto& [key, child] : children_)
    count += key.generation == generation && child.phase == Phase::starting;
  return count;
}

// Its gate passed: the gate and its deadline go, the worker serves.
void Supervisor::mark_serving(ChildState& child, std::string_view how) {
  cancel(TimerKind::ready_deadline, WorkerKey{child.generation, child.slot});
  actions_.push_back(CancelGate{child.generation, child.slot});
  child.phase = Phase::serving;
  report(LogLevel::info, fmt::format("{} (pid {}) {}", name_of(child), child.pid, how));
}

void Supervisor::promote_worker(ChildState& child) {
  mark_serving(child, "is ready");
  // Its slot's old worker drains now: capacity never drops below the number of workers.
  for (auto& [other_key, other] : children_)
    if (other.slot == child.slot && other.generation != child.generation &&
        other.phase == Phase::serving)
      drain(other);
  if (!pending_.empty() || starting_workers(child.generation) > 0) return start_pending_workers();
  // Every worker of the generation serves.
  serving_ = child.generation;
  arm(TimerKind::stable, WorkerKey{child.generation}, config_.stable_uptime);
  if (!ever_ready_) {
    ever_ready_ = true;
    actions_.push_back(ServiceReady{});
  }
  finish_candidate(RestartOutcome::succeeded, "");
}

void Supervisor::drain(ChildState& child) {
  child.phase = Phase::draining;
  report(LogLevel::info,
         fmt::format("{} (pid {}): {}, draining for up to {}", name_of(child), child.pid,
                     signal_name(config_.stop_signal), format_duration(config_.drain_timeout)));
  kill_group(child, config_.stop_signal);
  arm(TimerKind::drain_deadline, WorkerKey{child.generation, child.slot}, config_.drain_timeout);
  limit_draining();
}

// A worker of the candidate failed: the rollout stops. Its workers still starting are stopped;
// those already serving keep their slots (their old workers are draining already); the old
// workers of the other slots keep serving. A first start has nothing old: it starts over.
void Supervisor::fail_candidate(RestartOutcome outcome, const std::string& reason,
                                WorkerKey culprit, bool still_running) {
  const Generation generation = *candidate_;
  cancel(TimerKind::ready_deadline, culprit);
  if (still_running) {
    actions_.push_back(CancelGate{culprit.generation, culprit.slot});
    stop_worker(children_.at(culprit));
  }
  pending_.clear();
  for (auto& [key, child] : children_) {
    if (key.generation != generation) continue;
    if (child.phase == Phase::starting ||
        (!candidate_is_restart_ && child.phase == Phase::serving)) {
      cancel(TimerKind::ready_deadline, key);
      if (child.phase == Phase::starting) actions_.push_back(CancelGate{key.generation, key.slot});
      stop_worker(child);
    }
  }
  report(LogLevel::error, fmt::format("generation {} failed: {}", generation, reason));
  finish_candidate(outcome, reason);
}

void Supervisor::stop_worker(ChildState& child) {
  child.phase = Phase::failed;
  kill_group(child, config_.stop_signal);
  arm(TimerKind::kill_deadline, WorkerKey{child.generation, child.slot}, config_.stop_timeout);
}

// The candidate's attempt is over, either way: report it, then decide what runs next.
void Supervisor::finish_candidate(RestartOutcome outcome, const std::string& reason) {
  const Generation generation = *candidate_;
  const bool succeeded = outcome == RestartOutcome::succeeded;
  candidate_.reset();
  pending_.clear();
  if (candidate_is_restart_) {
    actions_.push_back(RestartFinished{generation, outcome, reason});
    if (!succeeded && serving_)
      report(LogLevel::warn,
             fmt::format("restart rolled back: generation {} keeps serving", *serving_));
  }
  if (stopping_) return;
  if (restart_pending_) {
    restart_pending_ = false;
    launch_generation(true);
  } else if (!succeeded && !serving_) {
    schedule_respawn();
  }
}

void Supervisor::limit_draining() {
  std::size_t draining = 0;
  for (const auto& [key, child] : children_)
    if (child.phase == Phase::draining) ++draining;
  const std::size_t cap = config_.max_draining * config_.workers;
  for (auto& [key, child] : children_) {  // oldest first
    if (draining <= cap) break;
    if (child.phase != Phase::draining) continue;
    report(LogLevel::warn, fmt::format("{} (pid {}) still draining, and {} newer ones drain too: "
                                       "SIGKILL (at most {} drain at once)",
                                       name_of(child), child.pid, draining - 1, cap));
    kill_group(child, SIGKILL);
    child.phase = Phase::stopping;  // killed: no longer counted, its exit is only logged
    cancel(TimerKind::drain_deadline, key);
    --draining;
  }
}

// initial * 2^(failures-1), capped at backoff_max.
Duration Supervisor::backoff_delay(int failures) const {
  Duration delay = config_.backoff_initial;
  for (int i = 1; i < failures && delay < config_.backoff_max; ++i) delay *= 2;
  return std::min(delay, config_.backoff_max);
}

void Supervisor::schedule_respawn() {
  const int failures = ++failures_in_a_row_;
  const Duration delay = backoff_delay(failures);
  report(LogLevel::warn, fmt::format("no generation is serving: starting a new one in {} "
                                     "(failure {} in a row); connections wait in the backlog",
                                     format_duration(delay), failures));
  arm(TimerKind::backoff, WorkerKey{0}, delay);
}

// One worker of a serving generation is gone: the others serve on, and its slot gets a new
// worker of the same generation after a backoff of its own.
void Supervisor::schedule_repair(WorkerKey gone) {
  const int failures = ++repairs_in_a_row_[gone.slot];
  const Duration delay = backoff_delay(failures);
  report(LogLevel::warn, fmt::format("worker {} of generation {}: a new one in {} (failure {} in "
                                     "a row); the other workers serve",
                                     gone.slot, gone.generation, format_duration(delay), failures));
  arm(TimerKind::repair, gone, delay);
}

void Supervisor::begin_stop() {
  stopping_ = true;
  actions_.push_back(Stopping{});
  restart_pending_ = false;
  cancel(TimerKind::backoff, WorkerKey{0});
  if (candidate_) {
    for (const auto& [key, child] : children_)
      if (key.generation == *candidate_ && child.phase == Phase::starting)
        actions_.push_back(CancelGate{key.generation, key.slot});
    finish_candidate(RestartOutcome::stopped, "reuserun is stopping");
  }
  for (auto& [key, child] : children_) {
    cancel_timers_of(key);
    // Draining and failed generations were already asked to stop; asking again can mean
    // "quit now" to some servers.
    if (child.phase == Phase::starting || child.phase == Phase::serving)
      kill_group(child, config_.stop_signal);
    child.phase = Phase::stopping;
  }
  for (auto it = armed_.begin(); it != armed_.end();) {  // repairs: nothing starts any more
    if (it->kind == TimerKind::repair) {
      actions_.push_back(CancelTimer{*it});
      it = armed_.erase(it);
    } else {
      ++it;
    }
  }
  serving_.reset();
  if (!children_.empty()) arm(TimerKind::stop_deadline, WorkerKey{0}, config_.stop_timeout);
  exit_if_stopped();
}

void Supervisor::force_stop() {
  forced_ = forced_ || !children_.empty();
  for (auto& [key, child] : children_) kill_group(child, SIGKILL);
}

void Supervisor::exit_if_stopped() {
  if (!stopping_ || !children_.empty() || !spawning_.empty()) return;
  cancel(TimerKind::stop_deadline, WorkerKey{0});
  report(LogLevel::info, "every generation has exited");
  actions_.push_back(Exit{exit_code_.value_or(forced_ ? kExitForcedStop : kExitOk)});
}

void Supervisor::forward_to_serving(int sig) {
  bool forwarded = false;
  for (const auto& [key, child] : children_) {
    if (child.phase != Phase::serving) continue;
    report(LogLevel::info, fmt::format("forwarding {} to {} (pid {})", signal_name(sig),
                                       name_of(child), child.pid));
    kill_group(child, sig);
    forwarded = true;
  }
  if (!forwarded)
    report(LogLevel::warn,
           fmt::format("{} not forwarded: no generation is serving", signal_name(sig)));
}

void Supervisor::kill_group(const ChildState& child, int sig) {
  actions_.push_back(SignalGroup{child.pid, sig});
}

// "generation 3", or "generation 3 worker 1" when there are several.
std::string Supervisor::name_of(const ChildState& child) const {
  if (config_.workers <= 1) return fmt::format("generation {}", child.generation);
  return fmt::format("generation {} worker {}", child.generation, child.slot);
}

// ---- bookkeeping ----

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
                         TimerKind::kill_deadline, TimerKind::stable})
    cancel(kind, worker);
}

void Supervisor::report(LogLevel level, std::string text) {
  actions_.push_back(Report{level, std::move(text)});
}

ChildState* Supervisor::find_by_pid(pid_t pid) {
  for (auto& [key, child] : children_)
    if (child.pid == pid) return &child;
  return nullptr;
}

}  // namespace reuserun
