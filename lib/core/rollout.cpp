// The supervisor's policies for a generation as a whole: the rollout of a new generation (start,
// promote, fail, finish), draining, repairs and respawns with backoff, and stopping. The worker
// lifecycle table is in worker_lifecycle.cpp, the events in supervisor.cpp.
#include <algorithm>
#include <utility>
#include <fmt/format.h>

#include "exit_code.hpp"
#include "signal_name.hpp"
#include "supervisor.hpp"

namespace reuserun {

// ---- policies ----

void Supervisor::request_restart() {
  if (stopping_) return;
  if (rollout_) {
    rollout_->another_queued = true;
    report(LogLevel::info,
           fmt::format("restart requested while generation {} is starting: one more restart "
                       "queued",
                       rollout_->generation));
    return;
  }
  cancel(TimerKind::backoff, WorkerKey{0});
  launch_generation(LaunchKind::restart);
}

void Supervisor::launch_generation(LaunchKind kind) {
  const Generation generation = next_generation_++;
  rollout_ = Rollout{generation, kind, {}, false, {}};
  if (kind == LaunchKind::restart) {
    report(LogLevel::info, fmt::format("restart: starting generation {}", generation));
    actions_.push_back(RestartStarted{generation});
  }
  for (Slot slot = 0; slot < config_.workers; ++slot) rollout_->pending.push_back(slot);
  start_pending_workers();
}

// A first start (or a respawn after a crash) starts every worker at once: nothing serves yet. A
// restart starts at most max_surge at a time, each one replacing the old worker of its slot.
void Supervisor::start_pending_workers() {
  const std::size_t limit = rollout_->kind == LaunchKind::restart
                                ? std::max<Slot>(1, config_.max_surge)
                                : config_.workers;
  const Generation generation = rollout_->generation;
  while (!rollout_->pending.empty() && starting_workers(generation) < limit) {
    const Slot slot = rollout_->pending.front();
    rollout_->pending.pop_front();
    spawning_.insert(WorkerKey{generation, slot});  // not {a, b}: that is an initializer list
    actions_.push_back(SpawnChild{generation, slot});
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
  if (!rollout_->pending.empty() || starting_workers(child.generation) > 0)
    return start_pending_workers();
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
  const Generation generation = rollout_->generation;
  const bool first_start = rollout_->kind == LaunchKind::first_start;
  cancel(TimerKind::ready_deadline, culprit);
  if (state == Culprit::running) {
    actions_.push_back(CancelGate{culprit.generation, culprit.slot});
    stop_worker(children_.at(culprit));
  }
  rollout_->pending.clear();
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
  const Rollout ended = *std::exchange(rollout_, std::nullopt);
  const Generation generation = ended.generation;
  const bool succeeded = outcome == RestartOutcome::succeeded;
  if (ended.kind == LaunchKind::restart) {
    actions_.push_back(RestartFinished{generation, outcome, reason, ended.pids});
    if (!succeeded && serving_)
      report(LogLevel::warn,
             fmt::format("restart rolled back: generation {} keeps serving", *serving_));
  }
  if (stopping_) return;
  if (ended.another_queued) {
    launch_generation(LaunchKind::restart);
  } else if (!succeeded && !serving_) {
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

// initial * 2^(failures-1), capped at backoff_max.
Duration Supervisor::backoff_delay(int failures) const {
  Duration delay = config_.backoff_initial;
  for (int i = 1; i < failures && delay < config_.backoff_max; ++i) delay *= 2;
  return std::min(delay, config_.backoff_max);
}

void Supervisor::schedule_respawn(RestartOutcome why, const std::string& reason,
                                  const std::string& hint) {
  const int failures = ++failures_in_a_row_;
  // Before anything was ever ready a retry rarely fixes what failed: from a terminal reuserun
  // gives up (--start-attempts) and says why, instead of looping (issue 27, finding 3).
  if (!ever_ready_ && config_.start_attempts > 0 && failures >= config_.start_attempts) {
    return give_up_first_start(fmt::format(
        "the first start failed {} time{} in a row (--start-attempts {}){}{}", failures,
        failures == 1 ? "" : "s", config_.start_attempts, reason.empty() ? "" : "; the last: ",
        reason.empty() ? "" : reason + (hint.empty() ? "" : "; hint: " + hint)));
  }
  const Duration delay = backoff_delay(failures);
  report(LogLevel::warn, fmt::format("no generation is serving: starting a new one in {} "
                                     "(failure {} in a row); connections wait in the backlog",
                                     format_duration(delay), failures));
  // Said once, matched to the cause: the exit status, or what the gate saw (the answer of an
  // http gate, a socket of the server's own on another port).
  if (!ever_ready_ && failures == 1 && why != RestartOutcome::spawn_failed) {
    if (!hint.empty())
      report(LogLevel::warn, "hint: " + hint);
    else if (why == RestartOutcome::timed_out || why == RestartOutcome::gate_failed)
      report(LogLevel::warn,
             "hint: it ran but was never ready; the line above names what the gate waited for. "
             "A server must take the socket reuserun hands it (fd 3 with LISTEN_FDS, "
             "--protocol, or {fd} in its arguments) or bind reuserun's port itself");
  }
  arm(TimerKind::backoff, WorkerKey{0}, delay);
}

void Supervisor::give_up_first_start(const std::string& what) {
  report(LogLevel::error, "giving up: " + what);
  exit_code_ = kExitStartFailed;
  begin_stop();
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
  cancel(TimerKind::backoff, WorkerKey{0});
  if (rollout_) {
    rollout_->another_queued = false;
    for (const auto& [key, child] : children_)
      if (key.generation == rollout_->generation && child.phase == Phase::starting)
        actions_.push_back(CancelGate{key.generation, key.slot});
    finish_candidate(RestartOutcome::stopped, "reuserun is stopping");
  }
  for (auto& [key, child] : children_) {
    cancel_timers_of(key);
    // Draining and failed generations were already asked to stop; asking again can mean
    // "quit now" to some servers.
    if (child.phase == Phase::starting || child.phase == Phase::serving)
      kill_group(child, config_.stop_signal);
    enter(child, Phase::stopping);
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
  for (auto& [key, child] : children_) {
    actions_.push_back(DescribeStuck{child.generation, child.slot, child.pid});
    kill_group(child, SIGKILL);
  }
}

void Supervisor::exit_if_stopped() {
  if (!stopping_ || !children_.empty() || !spawning_.empty() || exited_) return;
  exited_ = true;  // once, however many events find everything gone
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

}  // namespace reuserun
