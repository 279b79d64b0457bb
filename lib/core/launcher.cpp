// The launcher as a whole, beside its workers' lifecycle (worker_lifecycle.cpp): its own state,
// changed only by change() (systemd's service_set_state), and its policies for what failed
// (respawn and repair with backoff, giving up) and for stopping.
#include <algorithm>
#include <utility>
#include <fmt/format.h>

#include "exit_code.hpp"
#include "signal_name.hpp"
#include "supervisor.hpp"

namespace reuserun {
namespace {

// Supervisor::Stage, in its order.
constexpr std::string_view kStageNames[] = {"running", "stopping", "killing", "exited"};

std::string describe_serving(std::optional<Generation> serving) {
  return serving ? fmt::format("generation {}", *serving) : "none";
}

}  // namespace

// The only writer of the launcher's state. What a reader of the log follows, reuserun stopping
// and the generation that serves, is reported old -> new.
void Supervisor::change(LauncherChange what, const Change& carried) {
  const Stage stage = launcher_.stage;
  const std::optional<Generation> serving = launcher_.serving;
  switch (what) {
    case LauncherChange::launched:
      launcher_.rollout = Rollout{launcher_.next_generation++, carried.kind, {}, false, {}};
      for (Slot slot = 0; slot < config_.workers; ++slot) launcher_.rollout->pending.push_back(slot);
      break;
    case LauncherChange::spawn_asked:
      launcher_.spawning.insert(carried.worker);
      if (launcher_.rollout && launcher_.rollout->generation == carried.worker.generation)
        std::erase(launcher_.rollout->pending, carried.worker.slot);
      break;
    case LauncherChange::spawned:
      launcher_.spawning.erase(carried.worker);
      if (launcher_.rollout && launcher_.rollout->generation == carried.worker.generation)
        launcher_.rollout->pids.push_back(carried.pid);
      break;
    case LauncherChange::spawn_failed:
      launcher_.spawning.erase(carried.worker);
      break;
    case LauncherChange::restart_queued:
      launcher_.rollout->another_queued = true;
      break;
    case LauncherChange::rollout_halted:
      launcher_.rollout->pending.clear();
      break;
    case LauncherChange::rollout_ended:
      launcher_.rollout.reset();
      break;
    case LauncherChange::serves:
      launcher_.serving = carried.worker.generation;
      if (!std::exchange(launcher_.ever_ready, true)) actions_.push_back(ServiceReady{});
      break;
    case LauncherChange::serving_lost:
      launcher_.serving.reset();
      break;
    case LauncherChange::respawn_counted:
      ++launcher_.failures_in_a_row;
      break;
    case LauncherChange::repair_counted:
      ++launcher_.repairs_in_a_row[carried.worker.slot];
      break;
    case LauncherChange::stable:
      launcher_.failures_in_a_row = 0;
      launcher_.repairs_in_a_row.clear();
      break;
    case LauncherChange::exit_decided:
      launcher_.exit_code = carried.exit_code;
      break;
    case LauncherChange::stop_began:
      launcher_.stage = Stage::stopping;
      if (launcher_.rollout) launcher_.rollout->another_queued = false;
      break;
    case LauncherChange::killing:
      launcher_.stage = Stage::killing;
      break;
    case LauncherChange::exited:
      launcher_.stage = Stage::exited;
      break;
  }
  if (launcher_.stage != stage)
    report(LogLevel::debug, fmt::format("reuserun: {} -> {}", kStageNames[static_cast<int>(stage)],
                                        kStageNames[static_cast<int>(launcher_.stage)]));
  if (launcher_.serving != serving)
    report(LogLevel::debug, fmt::format("serving: {} -> {}", describe_serving(serving),
                                        describe_serving(launcher_.serving)));
}

// initial * 2^(failures-1), capped at backoff_max.
Duration Supervisor::backoff_delay(int failures) const {
  Duration delay = config_.backoff_initial;
  for (int i = 1; i < failures && delay < config_.backoff_max; ++i) delay *= 2;
  return std::min(delay, config_.backoff_max);
}

void Supervisor::schedule_respawn(RestartOutcome why, const std::string& reason,
                                  const std::string& hint) {
  change(LauncherChange::respawn_counted);
  const int failures = launcher_.failures_in_a_row;
  // Before anything was ever ready a retry rarely fixes what failed: from a terminal reuserun
  // gives up (--start-attempts) and says why, instead of looping (issue 27, finding 3).
  if (!launcher_.ever_ready && config_.start_attempts > 0 && failures >= config_.start_attempts) {
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
  if (!launcher_.ever_ready && failures == 1 && why != RestartOutcome::spawn_failed) {
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
  change(LauncherChange::exit_decided, {.exit_code = kExitStartFailed});
  begin_stop();
}

// One worker of a serving generation is gone: the others serve on, and its slot gets a new
// worker of the same generation after a backoff of its own.
void Supervisor::schedule_repair(WorkerKey gone) {
  change(LauncherChange::repair_counted, {.worker = gone});
  const int failures = launcher_.repairs_in_a_row.at(gone.slot);
  const Duration delay = backoff_delay(failures);
  report(LogLevel::warn, fmt::format("worker {} of generation {}: a new one in {} (failure {} in "
                                     "a row); the other workers serve",
                                     gone.slot, gone.generation, format_duration(delay), failures));
  arm(TimerKind::repair, gone, delay);
}

void Supervisor::begin_stop() {
  change(LauncherChange::stop_began);
  actions_.push_back(Stopping{});
  cancel(TimerKind::backoff, WorkerKey{0});
  if (launcher_.rollout) {
    for (const auto& [key, child] : children_)
      if (key.generation == launcher_.rollout->generation && child.phase == Phase::starting)
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
  change(LauncherChange::serving_lost);
  if (!children_.empty()) arm(TimerKind::stop_deadline, WorkerKey{0}, config_.stop_timeout);
  exit_if_stopped();
}

void Supervisor::force_stop() {
  if (!children_.empty()) change(LauncherChange::killing);
  for (auto& [key, child] : children_) {
    actions_.push_back(DescribeStuck{child.generation, child.slot, child.pid});
    kill_group(child, SIGKILL);
  }
}

void Supervisor::exit_if_stopped() {
  const Stage stage = launcher_.stage;
  if (stage == Stage::running || stage == Stage::exited || !children_.empty() ||
      !launcher_.spawning.empty())
    return;
  change(LauncherChange::exited);  // once, however many events find everything gone
  cancel(TimerKind::stop_deadline, WorkerKey{0});
  report(LogLevel::info, "every generation has exited");
  actions_.push_back(
      Exit{launcher_.exit_code.value_or(stage == Stage::killing ? kExitForcedStop : kExitOk)});
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
