// The worker lifecycle (docs/DESIGN.md §4): s6-supervise's actions[state][event] as a table,
// kLifecycle, a row per phase and a column per worker event, and its named transitions. enter() is
// the only writer of a worker's phase.
#include <algorithm>
#include <fmt/format.h>

#include "supervisor.hpp"

namespace reuserun {
namespace {

// What a first start that exited before it was ready most likely means (issue 27, finding 3:
// one hint for every cause was often wrong).
std::string exit_hint(const ExitStatus& status) {
  if (status.succeeded())
    return "it exited with status 0 before it was ready: a server must stay in the foreground "
           "under reuserun; one that goes to the background exits at once (nginx: daemon off;, "
           "gunicorn: no --daemon)";
  return fmt::format("it {}: the server's own error, which its output above explains; "
                     "\"Address already in use\" there means it binds a port reuserun could not "
                     "give it (SERVERS THAT BIND THE PORT in reuserun(1))",
                     status.describe());
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

// ---- the worker lifecycle ----

// Rows: the worker's phase (Phase order). Columns: what happened to it (WorkerEvent order).
// A late gate result or deadline for a worker already on its way out means nothing.
const Supervisor::Transition Supervisor::kLifecycle[5][6] = {
    //             exited                            gate_passed            gate_failed
    //             ready_deadline                    stop_deadline          watchdog_missed
    /* starting */ {&Supervisor::exited_while_starting, &Supervisor::gate_passed,
                    &Supervisor::gate_failed, &Supervisor::ready_deadline_passed,
                    &Supervisor::ignore, &Supervisor::ignore},
    // A serving worker's kill deadline is armed only by its missed watchdog.
    /* serving  */
    {&Supervisor::exited_while_serving, &Supervisor::ignore, &Supervisor::ignore,
     &Supervisor::ignore, &Supervisor::stop_deadline_passed, &Supervisor::watchdog_missed},
    /* draining */
    {&Supervisor::exited_while_stopping, &Supervisor::ignore, &Supervisor::ignore,
     &Supervisor::ignore, &Supervisor::stop_deadline_passed, &Supervisor::ignore},
    /* failed   */
    {&Supervisor::exited_while_stopping, &Supervisor::ignore, &Supervisor::ignore,
     &Supervisor::ignore, &Supervisor::stop_deadline_passed, &Supervisor::ignore},
    /* stopping */
    {&Supervisor::exited_while_stopping, &Supervisor::ignore, &Supervisor::ignore,
     &Supervisor::ignore, &Supervisor::stop_deadline_passed, &Supervisor::ignore},
};

void Supervisor::happen(ChildState& child, WorkerEvent event, const Happened& happened) {
  (this->*kLifecycle[static_cast<int>(child.phase)][static_cast<int>(event)])(child, happened);
}

// The only writer of a worker's phase once it exists: every transition is reported. The
// watchdog (--watchdog) watches a worker exactly while it serves.
void Supervisor::enter(ChildState& child, Phase phase) {
  if (child.phase == phase) return;
  report(LogLevel::debug, fmt::format("{} (pid {}): {} -> {}", name_of(child), child.pid,
                                      phase_name(child.phase), phase_name(phase)));
  const WorkerKey key{child.generation, child.slot};
  if (child.phase == Phase::serving) cancel(TimerKind::watchdog, key);
  child.phase = phase;
  if (phase == Phase::serving && config_.watchdog > Duration::zero())
    arm(TimerKind::watchdog, key, config_.watchdog);
}

void Supervisor::exited_while_starting(ChildState& gone, const Happened& happened) {
  const WorkerKey key{gone.generation, gone.slot};
  actions_.push_back(CancelGate{gone.generation, gone.slot});
  if (candidate() != gone.generation) {
    if (!stopping()) schedule_repair(key);
    return;
  }
  std::string reason = fmt::format("pid {} {} before it was ready", gone.pid,
                                   happened.status.describe());
  // fork, setsid, fork, exit 0: what it left holding the socket serves unsupervised, and each
  // retry would leave one more (issue 27, finding 1). The loop stops what it left behind. A
  // leader that failed (exit 1, a helper of its still holding fd 3) did not daemonize: its
  // failure is retried as any other (attack review).
  const bool exited_0 = happened.status.succeeded();
  if (happened.left_holding != 0 && !exited_0)
    reason += fmt::format(", and pid {} it started still held the socket (stopped)",
                          happened.left_holding);
  if (happened.left_holding != 0 && exited_0) {
    reason += fmt::format(", and pid {} it started holds the socket: the command daemonized; run "
                          "it in the foreground (nginx: daemon off;)",
                          happened.left_holding);
    if (!launcher_.ever_ready && launcher_.rollout->kind == LaunchKind::first_start) {
      report(LogLevel::error, fmt::format("generation {} failed: {}", gone.generation, reason));
      return give_up_first_start("the command daemonized: it will again on every retry");
    }
  }
  fail_candidate(RestartOutcome::exited, reason, key, Culprit::gone,
                 exit_hint(happened.status));
}

void Supervisor::exited_while_serving(ChildState& gone, const Happened& happened) {
  report_worker(gone, "exited", LogLevel::warn,
                fmt::format("{} (pid {}) {} while serving", name_of(gone), gone.pid,
                            happened.status.describe()));
  switch (replacement_for(gone)) {
    case Replacement::new_generation:
      if (launcher_.serving == gone.generation) change(LauncherChange::serving_lost);
      if (!launcher_.rollout)  // a rollout under way brings one already
        schedule_respawn(RestartOutcome::exited, "", "");
      break;
    case Replacement::repair:
      schedule_repair(WorkerKey{gone.generation, gone.slot});
      break;
    case Replacement::rollout:
      break;
  }
}

// Nothing serves any more: a whole new generation. Other workers serve: the slot gets a new
// worker of its own generation, unless the rollout under way has yet to replace that slot.
Supervisor::Replacement Supervisor::replacement_for(const ChildState& gone) const {
  const bool others_serve = std::any_of(children_.begin(), children_.end(), [](const auto& entry) {
    return entry.second.phase == Phase::serving;
  });
  if (!others_serve) return Replacement::new_generation;
  const bool slot_pending =
      launcher_.rollout && std::find(launcher_.rollout->pending.begin(),
                                     launcher_.rollout->pending.end(),
                                     gone.slot) != launcher_.rollout->pending.end();
  return slot_pending ? Replacement::rollout : Replacement::repair;
}

void Supervisor::exited_while_stopping(ChildState& gone, const Happened& happened) {
  report_worker(gone, "exited", LogLevel::info,
                fmt::format("{} (pid {}) {} ({})", name_of(gone), gone.pid,
                            happened.status.describe(), phase_name(gone.phase)));
}

void Supervisor::gate_passed(ChildState& child, const Happened& happened) {
  child.ready_by = happened.reason;
  if (candidate() == child.generation) return promote_worker(child);
  mark_serving(child, "is ready again");  // a repaired worker takes its slot back
}

void Supervisor::gate_failed(ChildState& child, const Happened& happened) {
  const WorkerKey key{child.generation, child.slot};
  if (candidate() == child.generation)
    return fail_candidate(
        happened.timed_out ? RestartOutcome::timed_out : RestartOutcome::gate_failed,
        happened.reason, key, Culprit::running, happened.hint);
  report(LogLevel::error, fmt::format("{} failed: {}", name_of(child), happened.reason));
  stop_worker(child);
  schedule_repair(key);
}

// The gate gives up and answers GateFailed, naming what it saw.
void Supervisor::ready_deadline_passed(ChildState& child, const Happened&) {
  actions_.push_back(ExpireGate{
      child.generation,
      fmt::format("not ready within {} (--ready-timeout)", format_duration(config_.ready_timeout)),
      child.slot});
}

void Supervisor::stop_deadline_passed(ChildState& child, const Happened& happened) {
  report(LogLevel::warn,
         fmt::format(
             "{} (pid {}) still running after {}: SIGKILL", name_of(child), child.pid,
             format_duration(happened.timer == TimerKind::drain_deadline ? config_.drain_timeout
                                                                         : config_.stop_timeout)));
  actions_.push_back(DescribeStuck{child.generation, child.slot, child.pid});
  kill_group(child, SIGKILL);
}

// A serving worker that stopped pinging is hung: SIGABRT (systemd's WatchdogSignal= default,
// so it leaves a core to look at), SIGKILL after --stop-timeout. It is replaced when it exits,
// as any worker that dies while serving is.
void Supervisor::watchdog_missed(ChildState& child, const Happened& happened) {
  report_worker(child, "watchdog-missed", LogLevel::error,
                fmt::format("{} (pid {}) {}: treating it as crashed, SIGABRT", name_of(child),
                            child.pid,
                            happened.reason.empty()
                                ? fmt::format("sent no WATCHDOG=1 for {} (--watchdog)",
                                              format_duration(config_.watchdog))
                                : happened.reason));
  kill_group(child, SIGABRT);
  arm(TimerKind::kill_deadline, WorkerKey{child.generation, child.slot}, config_.stop_timeout);
}

}  // namespace reuserun
