// The supervisor: every policy of docs/DESIGN.md §4 as a pure state machine. It takes events (a
// signal arrived, a child was spawned or exited, a gate passed or failed, a timer fired) and
// returns the actions the event loop must carry out. It holds no fd, calls no syscall and reads no
// clock, so each policy is a fast unit test (tests/unit/supervisor_test.cpp).
#pragma once

#include <sys/types.h>

#include <csignal>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "aggregate_fields.hpp"
#include "duration.hpp"
#include "events.hpp"
#include "exit_status.hpp"
#include "log_level.hpp"

namespace reuserun {

struct SupervisorConfig {
  Duration ready_timeout = std::chrono::seconds(30);
  Duration drain_timeout = std::chrono::seconds(30);
  Duration stop_timeout = std::chrono::seconds(10);
  int stop_signal = SIGTERM;
  int restart_signal = SIGHUP;  // --restart-signal: the others of its kind are forwarded
  // Respawn of a crashed generation: initial * 2^(n-1) after the n-th failure in a row, capped;
  // the count resets once a generation has served for stable_uptime.
  Duration backoff_initial = std::chrono::milliseconds(100);
  Duration backoff_max = std::chrono::seconds(30);
  Duration stable_uptime = std::chrono::seconds(10);
  // Old generations still draining at once (each holds its connections, memory and pids); a
  // restart that would exceed this SIGKILLs the oldest instead of waiting for its drain timeout.
  std::size_t max_draining = 4;  // per worker slot
  // Workers per generation, sharing the sockets. A restart replaces them one slot at a time: a
  // new worker passes its gate, then the old worker of its slot drains; at most max_surge new
  // workers are starting at once.
  Slot workers = 1;
  Slot max_surge = 1;
  // --watchdog: a serving worker that sends no WATCHDOG=1 for this long is treated as crashed
  // (SIGABRT, then SIGKILL after stop_timeout; replaced as one that exited). Zero: off.
  Duration watchdog{0};
  // --start-attempts: before any generation was ever ready, give up after this many failed
  // starts in a row and exit (kExitStartFailed) with the last cause. Zero: never give up.
  int start_attempts = 0;
};

// What --restart-signal may be: a signal reuserun listens for and that means nothing else to it
// (HUP, USR1, WINCH, TTIN, TTOU); the rest of them are forwarded to the serving generation.
bool is_restart_signal_choice(int sig);

enum class Phase { starting, serving, draining, failed, stopping };
std::string_view phase_name(Phase phase);

struct ChildState {
  Generation generation;
  pid_t pid;
  Phase phase;
  Slot slot = 0;
  std::int64_t spawned_at_ns = 0;  // ChildSpawned::at_ns
  std::string ready_by{};          // GatePassed::how, once it served (not carried by upgrades)
  bool operator==(const ChildState&) const = default;
};

// Everything a supervisor knows while it is settled (Supervisor::settled): what an in-place
// upgrade of reuserun hands to its new image (handover.hpp). The timers are only named: when
// each fires is the event loop's business.
struct SupervisorSnapshot {
  Generation next_generation = 1;
  std::optional<Generation> serving;
  bool ever_ready = false;
  int failures_in_a_row = 0;
  std::map<Slot, int> repairs_in_a_row;
  std::vector<ChildState> children;
  std::vector<TimerId> armed;

  // Each field once, named as the handover names it, in its order: Supervisor::snapshot() and
  // the restoring constructor copy along this list, encode_handover and decode_handover walk it.
  template <class Self>
  static auto describe(Self& self) {
    return std::tuple{Field{"next-generation", self.next_generation},
                      Field{"serving", self.serving},
                      Field{"ever-ready", self.ever_ready},
                      Field{"failures-in-a-row", self.failures_in_a_row},
                      Field{"repairs", self.repairs_in_a_row},
                      Field{"worker", self.children},
                      Field{"timer", self.armed}};
  }
  auto fields() { return describe(*this); }
  auto fields() const { return describe(*this); }
};
static_assert(std::tuple_size_v<decltype(SupervisorSnapshot{}.fields())> ==
                  kFieldCount<SupervisorSnapshot>,
              "SupervisorSnapshot::describe names every field of SupervisorSnapshot");

class Supervisor {
 public:
  explicit Supervisor(SupervisorConfig config) : config_(config) {}
  // A supervisor that carries on from `snapshot`, taken by another image of reuserun.
  Supervisor(SupervisorConfig config, const SupervisorSnapshot& snapshot);

  Actions handle(const Event& event);

  // Read-only views for status reporting and tests.
  std::optional<Generation> serving() const { return launcher_.serving; }
  std::optional<Generation> candidate() const {
    return launcher_.rollout ? std::optional(launcher_.rollout->generation) : std::nullopt;
  }
  bool restart_pending() const { return launcher_.rollout && launcher_.rollout->another_queued; }
  bool stopping() const { return launcher_.stage != Stage::running; }
  bool ever_ready() const { return launcher_.ever_ready; }
  const std::map<WorkerKey, ChildState>& children() const { return children_; }
  const SupervisorConfig& config() const { return config_; }

  // Nothing is being started, gated or stopped: no restart (or queued one), no worker starting,
  // not stopping. Only then does a snapshot tell the whole story: every child runs, serves or
  // drains, and waits for nothing but its timers.
  bool settled() const;
  SupervisorSnapshot snapshot() const;

 private:
  // A first start (or the respawn of a generation after a crash) starts every worker at once:
  // nothing serves yet. A restart starts at most max_surge at a time, each new worker replacing
  // the old one of its slot.
  enum class LaunchKind { first_start, restart };
  // The generation being started and gated, apart from the workers' lifecycle: which slots it
  // has not started yet, and whether one more restart was asked for meanwhile (SIGHUPs coalesce).
  struct Rollout {
    Generation generation = 0;
    LaunchKind kind = LaunchKind::first_start;
    std::deque<Slot> pending;
    bool another_queued = false;
    std::vector<pid_t> pids;  // its workers spawned so far: RestartFinished names them
  };
  // How far reuserun is from exiting: asked to stop; then, if a second signal or the stop
  // deadline sent SIGKILL to what was left, killing (its exit status says so); Exit sent.
  enum class Stage { running, stopping, killing, exited };
  // The launcher's own state, apart from its workers' (children_). change() is its only writer.
  struct Launcher {
    Stage stage = Stage::running;
    std::optional<int> exit_code;  // decided before the last child has gone
    Generation next_generation = 1;
    std::optional<Rollout> rollout;
    std::set<WorkerKey> spawning;  // SpawnChild sent, no answer yet
    std::optional<Generation> serving;
    bool ever_ready = false;
    int failures_in_a_row = 0;             // of whole generations: the respawn's backoff
    std::map<Slot, int> repairs_in_a_row;  // of each slot's worker: its repair's backoff
  };
  // Every way the launcher's state changes (change() applies each), and what one carries.
  enum class LauncherChange {
    launched,         // kind: a new generation's rollout begins
    spawn_asked,      // worker: SpawnChild sent (a slot of the rollout, or a repair)
    spawned,          // worker, pid: the answer, ChildSpawned
    spawn_failed,     // worker: the answer, SpawnFailed
    restart_queued,   // one more restart once the rollout ends (restarts coalesce)
    rollout_halted,   // a worker of the candidate failed: no more of its slots start
    rollout_ended,    // the candidate serves, failed, or was given up
    serves,           // worker.generation: every worker of it serves
    serving_lost,     // nothing serves any more
    respawn_counted,  // a whole generation failed
    repair_counted,   // worker: one worker failed
    stable,           // the serving generation served for --stable-uptime: the counts start over
    exit_decided,     // exit_code: what reuserun will exit with, whatever happens meanwhile
    stop_began,
    killing,
    exited
  };
  struct Change {
    WorkerKey worker{0};
    LaunchKind kind = LaunchKind::first_start;
    pid_t pid = 0;
    int exit_code = 0;
  };
  // What a worker's event carries, whichever it is.
  struct Happened {
    ExitStatus status = ExitStatus::exited(0);  // exited
    std::string reason;      // gate_failed; gate_passed: how
    bool timed_out = false;  // gate_failed: the ready deadline made the gate give up
    TimerKind timer = TimerKind::drain_deadline;  // stop_deadline: which one
    pid_t left_holding = 0;  // exited: ChildExited::left_holding
    std::string hint;        // gate_failed: GateFailed::hint
  };
  enum class WorkerEvent {
    exited,
    gate_passed,
    gate_failed,
    ready_deadline,
    stop_deadline,
    watchdog_missed
  };
  using Transition = void (Supervisor::*)(ChildState& child, const Happened& happened);
  // s6-supervise's actions[state][event]: what each event means to a worker in each phase.
  static const Transition kLifecycle[5][6];
  // Is the failed worker still running (its gate failed) or gone (it exited)?
  enum class Culprit { running, gone };
  // Who takes over the slot of a serving worker that died.
  enum class Replacement { new_generation, repair, rollout };

  void on(const StartRequested&);
  void on(const RestartRequested&);
  void on(const SignalReceived&);
  void on(const ChildSpawned&);
  void on(const SpawnFailed&);
  void on(const ChildExited&);
  void on(const GatePassed&);
  void on(const GateFailed&);
  void on(const TimerFired&);
  void on(const WatchdogPinged&);
  void on(const BindRefused&);
  void happen(ChildState& child, WorkerEvent event, const Happened& happened);

  // The lifecycle table's transitions (worker_lifecycle.cpp).
  void ignore(ChildState&, const Happened&) {}
  void exited_while_starting(ChildState& gone, const Happened& happened);
  void exited_while_serving(ChildState& gone, const Happened& happened);
  void exited_while_stopping(ChildState& gone, const Happened& happened);
  void gate_passed(ChildState& child, const Happened&);
  void gate_failed(ChildState& child, const Happened& happened);
  void ready_deadline_passed(ChildState& child, const Happened&);
  void stop_deadline_passed(ChildState& child, const Happened& happened);
  void watchdog_missed(ChildState& child, const Happened& happened);
  void enter(ChildState& child, Phase phase);
  Replacement replacement_for(const ChildState& gone) const;

  // The launcher's state, and its policies for stopping and for what failed (launcher.cpp).
  void change(LauncherChange what, const Change& carried);
  void change(LauncherChange what) { change(what, Change{}); }
  Duration backoff_delay(int failures) const;
  // Why nothing serves: how the last one ended, and what the user can do about it.
  void schedule_respawn(RestartOutcome why, const std::string& reason, const std::string& hint);
  void schedule_repair(WorkerKey gone);
  void give_up_first_start(const std::string& what);
  void begin_stop();
  void force_stop();
  void exit_if_stopped();
  void forward_to_serving(int sig);

  // The rollout of a generation (rollout.cpp).
  void request_restart();
  void launch_generation(LaunchKind kind);
  void start_pending_workers();
  std::size_t starting_workers(Generation generation) const;
  void promote_worker(ChildState& child);
  void drain(ChildState& child);
  void fail_candidate(RestartOutcome outcome, const std::string& reason, WorkerKey culprit,
                      Culprit state, const std::string& hint = {});
  void stop_worker(ChildState& child);
  void finish_candidate(RestartOutcome outcome, const std::string& reason,
                        const std::string& hint = {});
  void mark_serving(ChildState& child, std::string_view what);
  void limit_draining();

  std::string name_of(const ChildState& child) const;
  void kill_group(const ChildState& child, int sig);

  void arm(TimerKind kind, WorkerKey worker, Duration after);
  void cancel(TimerKind kind, WorkerKey worker);
  void cancel_timers_of(WorkerKey worker);
  void report(LogLevel level, std::string text);
  void report_worker(const ChildState& child, std::string_view event, LogLevel level,
                     std::string text);
  ChildState* find_by_pid(pid_t pid);
  // What a snapshot carries, where this supervisor keeps it, in SupervisorSnapshot::describe's
  // order (supervisor.cpp).
  template <class Self>
  static auto durable(Self& self);

  SupervisorConfig config_;
  Actions actions_;                           // collected while handling one event
  std::map<WorkerKey, ChildState> children_;  // spawned and not yet reaped
  std::set<TimerId> armed_;
  Launcher launcher_;
};

}  // namespace reuserun
