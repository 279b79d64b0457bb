#include "supervisor.hpp"

#include <sys/wait.h>

#include <algorithm>

#include "exit_code.hpp"
#include "signal_name.hpp"

namespace reuserun {
namespace {

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by {}", signal_name(WTERMSIG(status)));
  return fmt::format("ended with wait status {}", status);
}

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
  } else if (event.sig == SIGUSR2) {
    // Reserved for reuserun's own in-place upgrade (einhorn's and nginx's meaning), so it is not
    // passed on to the children; until then it must not kill reuserun either.
    report(LogLevel::warn,
           "SIGUSR2 ignored: reserved for an in-place upgrade of reuserun, which "
           "this version does not do");
  }
}

void Supervisor::on(const ChildSpawned& event) {
  children_[event.generation] = {event.generation, event.pid, Phase::starting};
  report(LogLevel::info, fmt::format("generation {} started: pid {}", event.generation, event.pid));
  actions_.push_back(StartGate{event.generation, event.pid});
  arm(TimerKind::ready_deadline, event.generation, config_.ready_timeout);
}

void Supervisor::on(const SpawnFailed& event) {
  report(LogLevel::error, fmt::format("generation {}: {}", event.generation, event.reason));
  if (candidate_ != event.generation) return;
  if (!ever_ready_ && !candidate_is_restart_ && failures_in_a_row_ == 0) {
    // The very first start: nothing to keep serving and nothing that will change by retrying.
    candidate_.reset();
    stopping_ = true;
    actions_.push_back(Exit{exit_code_for_exec_error(event.error)});
    return;
  }
  finish_candidate(RestartOutcome::spawn_failed, event.reason);
}

void Supervisor::on(const ChildExited& event) {
  ChildState* child = find_by_pid(event.pid);
  if (child == nullptr) return;  // an exec-gate probe or an orphan: not a generation
  const ChildState gone = *child;
  children_.erase(gone.generation);
  cancel_timers_of(gone.generation);
  // Whatever the leader left behind in its process group has lost its supervisor.
  kill_group(gone, SIGKILL);
  const std::string how = describe_wait_status(event.wait_status);
  switch (gone.phase) {
    case Phase::starting:
      actions_.push_back(CancelGate{gone.generation});
      fail_candidate(RestartOutcome::exited,
                     fmt::format("pid {} {} before it was ready", gone.pid, how), false);
      break;
    case Phase::serving:
      serving_.reset();
      report(LogLevel::warn, fmt::format("generation {} (pid {}) {} while serving", gone.generation,
                                         gone.pid, how));
      if (!candidate_) schedule_respawn();
      break;
    case Phase::draining:
    case Phase::failed:
    case Phase::stopping:
      report(LogLevel::info, fmt::format("generation {} (pid {}) {} ({})", gone.generation,
                                         gone.pid, how, phase_name(gone.phase)));
      break;
  }
  exit_if_stopped();
}

void Supervisor::on(const GatePassed& event) {
  if (candidate_ != event.generation) return;
  auto it = children_.find(event.generation);
  if (it == children_.end() || it->second.phase != Phase::starting) return;
  promote_candidate(it->second);
}

void Supervisor::on(const GateFailed& event) {
  if (candidate_ != event.generation || !children_.contains(event.generation)) return;
  fail_candidate(event.timed_out ? RestartOutcome::timed_out : RestartOutcome::gate_failed,
                 event.reason, true);
}

void Supervisor::on(const TimerFired& event) {
  if (armed_.erase(event.id) == 0) return;  // cancelled meanwhile
  const Generation generation = event.id.generation;
  const auto child = children_.find(generation);
  switch (event.id.kind) {
    case TimerKind::ready_deadline:
      // The gate gives up and answers GateFailed, naming what it saw.
      if (candidate_ == generation && child != children_.end())
        actions_.push_back(
            ExpireGate{generation, fmt::format("not ready within {} (--ready-timeout)",
                                               format_duration(config_.ready_timeout))});
      break;
    case TimerKind::drain_deadline:
    case TimerKind::kill_deadline:
      if (child == children_.end()) break;
      report(LogLevel::warn, fmt::format("generation {} (pid {}) still running after {}: SIGKILL",
                                         generation, child->second.pid,
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
      if (serving_ == generation) failures_in_a_row_ = 0;
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
  cancel(TimerKind::backoff, 0);
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
  actions_.push_back(SpawnChild{generation});
}

void Supervisor::promote_candidate(ChildState& child) {
  cancel(TimerKind::ready_deadline, child.generation);
  actions_.push_back(CancelGate{child.generation});
  const std::optional<Generation> old = serving_;
  child.phase = Phase::serving;
  serving_ = child.generation;
  report(LogLevel::info,
         fmt::format("generation {} (pid {}) is ready", child.generation, child.pid));
  arm(TimerKind::stable, child.generation, config_.stable_uptime);
  if (old) {
    ChildState& previous = children_.at(*old);
    previous.phase = Phase::draining;
    report(LogLevel::info,
           fmt::format("generation {} (pid {}): {}, draining for up to {}", *old, previous.pid,
                       signal_name(config_.stop_signal), format_duration(config_.drain_timeout)));
    kill_group(previous, config_.stop_signal);
    arm(TimerKind::drain_deadline, *old, config_.drain_timeout);
    limit_draining();
  }
  if (!ever_ready_) {
    ever_ready_ = true;
    actions_.push_back(ServiceReady{});
  }
  finish_candidate(RestartOutcome::succeeded, "");
}

void Supervisor::fail_candidate(RestartOutcome outcome, const std::string& reason,
                                bool still_running) {
  const Generation generation = *candidate_;
  cancel(TimerKind::ready_deadline, generation);
  if (still_running) {
    actions_.push_back(CancelGate{generation});
    ChildState& child = children_.at(generation);
    child.phase = Phase::failed;
    kill_group(child, config_.stop_signal);
    arm(TimerKind::kill_deadline, generation, config_.stop_timeout);
  }
  report(LogLevel::error, fmt::format("generation {} failed: {}", generation, reason));
  finish_candidate(outcome, reason);
}

// The candidate's attempt is over, either way: report it, then decide what runs next.
void Supervisor::finish_candidate(RestartOutcome outcome, const std::string& reason) {
  const Generation generation = *candidate_;
  const bool succeeded = outcome == RestartOutcome::succeeded;
  candidate_.reset();
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
  for (const auto& [generation, child] : children_)
    if (child.phase == Phase::draining) ++draining;
  for (auto& [generation, child] : children_) {  // oldest first
    if (draining <= config_.max_draining) break;
    if (child.phase != Phase::draining) continue;
    report(LogLevel::warn,
           fmt::format("generation {} (pid {}) still draining, and {} newer ones drain too: "
                       "SIGKILL (at most {} drain at once)",
                       generation, child.pid, draining - 1, config_.max_draining));
    kill_group(child, SIGKILL);
    child.phase = Phase::stopping;  // killed: no longer counted, its exit is only logged
    cancel(TimerKind::drain_deadline, generation);
    --draining;
  }
}

void Supervisor::schedule_respawn() {
  const int failures = ++failures_in_a_row_;
  Duration delay = config_.backoff_initial;
  for (int i = 1; i < failures && delay < config_.backoff_max; ++i) delay *= 2;
  delay = std::min(delay, config_.backoff_max);
  report(LogLevel::warn, fmt::format("no generation is serving: starting a new one in {} "
                                     "(failure {} in a row); connections wait in the backlog",
                                     format_duration(delay), failures));
  arm(TimerKind::backoff, 0, delay);
}

void Supervisor::begin_stop() {
  stopping_ = true;
  actions_.push_back(Stopping{});
  restart_pending_ = false;
  cancel(TimerKind::backoff, 0);
  if (candidate_) {
    actions_.push_back(CancelGate{*candidate_});
    finish_candidate(RestartOutcome::stopped, "reuserun is stopping");
  }
  for (auto& [generation, child] : children_) {
    cancel_timers_of(generation);
    // Draining and failed generations were already asked to stop; asking again can mean
    // "quit now" to some servers.
    if (child.phase == Phase::starting || child.phase == Phase::serving)
      kill_group(child, config_.stop_signal);
    child.phase = Phase::stopping;
  }
  serving_.reset();
  if (!children_.empty()) arm(TimerKind::stop_deadline, 0, config_.stop_timeout);
  exit_if_stopped();
}

void Supervisor::force_stop() {
  forced_ = forced_ || !children_.empty();
  for (auto& [generation, child] : children_) kill_group(child, SIGKILL);
}

void Supervisor::exit_if_stopped() {
  if (!stopping_ || !children_.empty()) return;
  cancel(TimerKind::stop_deadline, 0);
  report(LogLevel::info, "every generation has exited");
  actions_.push_back(Exit{forced_ ? kExitForcedStop : kExitOk});
}

void Supervisor::forward_to_serving(int sig) {
  if (!serving_) {
    report(LogLevel::warn,
           fmt::format("{} not forwarded: no generation is serving", signal_name(sig)));
    return;
  }
  const ChildState& child = children_.at(*serving_);
  report(LogLevel::info, fmt::format("forwarding {} to generation {} (pid {})", signal_name(sig),
                                     child.generation, child.pid));
  kill_group(child, sig);
}

void Supervisor::kill_group(const ChildState& child, int sig) {
  actions_.push_back(SignalGroup{child.pid, sig});
}

// ---- bookkeeping ----

void Supervisor::arm(TimerKind kind, Generation generation, Duration after) {
  armed_.insert({kind, generation});
  actions_.push_back(ArmTimer{{kind, generation}, after});
}

void Supervisor::cancel(TimerKind kind, Generation generation) {
  if (armed_.erase({kind, generation}) > 0) actions_.push_back(CancelTimer{{kind, generation}});
}

void Supervisor::cancel_timers_of(Generation generation) {
  for (TimerKind kind : {TimerKind::ready_deadline, TimerKind::drain_deadline,
                         TimerKind::kill_deadline, TimerKind::stable})
    cancel(kind, generation);
}

void Supervisor::report(LogLevel level, std::string text) {
  actions_.push_back(Report{level, std::move(text)});
}

ChildState* Supervisor::find_by_pid(pid_t pid) {
  for (auto& [generation, child] : children_)
    if (child.pid == pid) return &child;
  return nullptr;
}

}  // namespace reuserun
