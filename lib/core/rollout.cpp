// The rollout of a new generation: its workers started (all at once, or max_surge at a time
// replacing the old worker of their slot), promoted, failed or finished, and the old ones drained.
// The launcher's own state and its policies for failures and stopping are in launcher.cpp.
#include <algorithm>
#include <utility>
#include <fmt/format.h>

#include "exit_code.hpp"
#include "signal_name.hpp"
#include "supervisor.hpp"

namespace reuserun {

// ---- policies ----

void Supervisor::request_restart() {
  if (stopping()) return;
  if (launcher_.rollout) {
    change(LauncherChange::restart_queued);
    report(LogLevel::info,
           fmt::format("restart requested while generation {} is starting: one more restart "
                       "queued",
                       launcher_.rollout->generation));
    return;
  }
  cancel(TimerKind::backoff, WorkerKey{0});
  launch_generation(LaunchKind::restart);
}

void Supervisor::launch_generation(LaunchKind kind) {
  change(LauncherChange::launched, {.kind = kind});
  const Generation generation = launcher_.rollout->generation;
  if (kind == LaunchKind::restart) {
    report(LogLevel::info, fmt::format("restart: starting generation {}", generation));
    actions_.push_back(RestartStarted{generation});
  }
  start_pending_workers();
}

// A first start (or a respawn after a crash) starts every worker at once: nothing serves yet. A
// restart starts at most max_surge at a time, each one replacing the old worker of its slot.
void Supervisor::start_pending_workers() {
  const Rollout& rollout = *launcher_.rollout;
  const std::size_t limit = rollout.kind == LaunchKind::restart
                                ? std::max<Slot>(1, config_.max_surge)
                                : config_.workers;
  const Generation generation = rollout.generation;
  while (!rollout.pending.empty() && starting_workers(generation) < limit) {
    const Slot slot = rollout.pending.front();
    change(LauncherChange::spawn_asked, {.worker = WorkerKey{generation, slot}});
    actions_.push_back(SpawnChild{generation, slot});
  }
}

std::size_t Supervisor::starting_workers(Generation generation) const {
  std::size_t count = 0;
  for (const auto& key : launcher_.spawning) count += key.generation == generation;
  for (const auto& [key, child] : children_)
    count += key.generation == generation && child.phase == Phase::starting;
  return count;
}

// Its gate passed: the gate and its deadline go, the worker serves.
void Supervisor::mark_serving(ChildState& child, std::string_view what) {
  cancel(TimerKind::ready_deadline, WorkerKey{child.generation, child.slot});
  actions_.push_back(CancelGate{child.generation, child.slot});
  enter(child, Phase::serving);
  report_worker(child, "ready", LogLevel::info,
                fmt::format("{} (pid {}) {}{}", name_of(child), child.pid, what,
                            child.ready_by.empty() ? "" : ": " + child.ready_by));
}

void Supervisor::promote_worker(ChildState& child) {
  mark_serving(child, "is ready");
  // Its slot's old worker drains now: capacity never drops below the number of workers.
  for (auto& [other_key, other] : children_)
    if (other.slot == child.slot && other.generation != child.generation &&
        other.phase == Phase::serving)
      drain(other);
  if (!launcher_.rollout->pending.empty() || starting_workers(child.generation) > 0)
    return start_pending_workers();
  // Every worker of the generation serves.
  arm(TimerKind::stable, WorkerKey{child.generation}, config_.stable_uptime);
  change(LauncherChange::serves, {.worker = WorkerKey{child.generation}});
  finish_candidate(RestartOutcome::succeeded, "");
}

void Supervisor::drain(ChildState& child) {
  enter(child, Phase::draining);
  report_worker(
      child, "draining", LogLevel::info,
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
                                WorkerKey culprit, Culprit state, const std::string& hint) {
  const Generation generation = launcher_.rollout->generation;
  const bool first_start = launcher_.rollout->kind == LaunchKind::first_start;
  cancel(TimerKind::ready_deadline, culprit);
  if (state == Culprit::running) {
    actions_.push_back(CancelGate{culprit.generation, culprit.slot});
    stop_worker(children_.at(culprit));
  }
  change(LauncherChange::rollout_halted);
  for (auto& [key, child] : children_) {
    if (key.generation != generation) continue;
    if (child.phase == Phase::starting || (first_start && child.phase == Phase::serving)) {
      cancel(TimerKind::ready_deadline, key);
      if (child.phase == Phase::starting) actions_.push_back(CancelGate{key.generation, key.slot});
      stop_worker(child);
    }
  }
  report(LogLevel::error, fmt::format("generation {} failed: {}", generation, reason));
  finish_candidate(outcome, reason, hint);
}

void Supervisor::stop_worker(ChildState& child) {
  enter(child, Phase::failed);
  kill_group(child, config_.stop_signal);
  arm(TimerKind::kill_deadline, WorkerKey{child.generation, child.slot}, config_.stop_timeout);
}

// The candidate's attempt is over, either way: report it, then decide what runs next.
void Supervisor::finish_candidate(RestartOutcome outcome, const std::string& reason,
                                  const std::string& hint) {
  const Rollout ended = *launcher_.rollout;
  change(LauncherChange::rollout_ended);
  const Generation generation = ended.generation;
  const bool succeeded = outcome == RestartOutcome::succeeded;
  if (ended.kind == LaunchKind::restart) {
    actions_.push_back(RestartFinished{generation, outcome, reason, ended.pids});
    if (!succeeded && launcher_.serving)
      report(LogLevel::warn, fmt::format("restart rolled back: generation {} keeps serving",
                                         *launcher_.serving));
  }
  if (stopping()) return;
  if (ended.another_queued) {
    launch_generation(LaunchKind::restart);
  } else if (!succeeded && !launcher_.serving) {
    schedule_respawn(outcome, reason, hint);
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
    enter(child, Phase::stopping);  // killed: no longer counted, its exit is only logged
    cancel(TimerKind::drain_deadline, key);
    --draining;
  }
}

}  // namespace reuserun
