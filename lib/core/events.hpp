// The supervisor's language (docs/DESIGN.md §4, "events in, actions out"): the events the event
// loop tells it (a signal, a child spawned or exited, a gate's verdict, a timer) and the actions it
// answers with, and the keys both name: a worker's generation and slot, a timer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "duration.hpp"
#include "exit_status.hpp"
#include "log_level.hpp"

namespace reuserun {

using Generation = std::uint64_t;
using Slot = unsigned;  // a worker's place in its generation: 0 .. workers-1

// One worker process: its generation and its slot (0 with one worker). Explicit: an implicit
// conversion from Generation turns set.insert({generation, slot}) into two keys.
struct WorkerKey {
  explicit WorkerKey(Generation generation_, Slot slot_ = 0)
      : generation(generation_), slot(slot_) {}
  Generation generation;
  Slot slot;
  auto operator<=>(const WorkerKey&) const = default;  // NOLINT(modernize-use-nullptr): clang 14
};

enum class TimerKind {
  ready_deadline,
  drain_deadline,
  kill_deadline,
  stop_deadline,
  backoff,
  stable,
  repair,   // respawn one crashed worker after its backoff
  watchdog  // a serving worker's WATCHDOG=1 is overdue (--watchdog)
};

struct TimerId {
  TimerKind kind;
  Generation generation = 0;  // 0 for the launcher-wide timers (stop_deadline, backoff)
  Slot slot = 0;
  auto operator<=>(const TimerId&) const = default;  // NOLINT(modernize-use-nullptr): clang 14 bug
};

// ---- events ----
struct StartRequested {};
// A restart asked for over the control socket (`reuserun ctl restart`); SIGHUP is the other way.
struct RestartRequested {};
struct SignalReceived {
  int sig;
};
struct ChildSpawned {
  Generation generation;
  pid_t pid;
  Slot slot = 0;
  std::int64_t at_ns = 0;  // when, on the loop's steady clock: the supervisor reads no clock
};
struct SpawnFailed {
  Generation generation;
  int error;  // errno of the failed exec
  std::string reason;
  Slot slot = 0;
};
struct ChildExited {
  pid_t pid;
  ExitStatus status;
  // A process the worker started that still holds a shared socket once the worker is gone
  // (reparented to reuserun, the subreaper): the command daemonized. 0: none.
  pid_t left_holding = 0;
};
struct GatePassed {
  Generation generation;
  Slot slot = 0;
  std::string how{};  // how the gate decided ("pid 12 waits in epoll_wait")
};
struct GateFailed {
  Generation generation;
  std::string reason;
  bool timed_out = false;  // the gate gave up because the ready deadline passed (ExpireGate)
  Slot slot = 0;
  // What the user can do about it, when the gate knows ("GET /health answered 404: ..."):
  // the hint of a first start that fails (Supervisor::schedule_respawn).
  std::string hint{};
};
struct TimerFired {
  TimerId id;
};
// A worker's process tree sent WATCHDOG=1 (or WATCHDOG=trigger: it asks to be treated as hung).
struct WatchdogPinged {
  Generation generation = 0;
  Slot slot = 0;
  bool trigger = false;
};
// A worker bound reuserun's port itself with a socket of the other family (bind_takeover.hpp):
// it cannot be given the shared socket, and retrying changes nothing.
struct BindRefused {
  Generation generation = 0;
  Slot slot = 0;
  std::string reason;
};
using Event = std::variant<StartRequested, RestartRequested, SignalReceived, ChildSpawned,
                           SpawnFailed, ChildExited, GatePassed, GateFailed, TimerFired,
                           WatchdogPinged, BindRefused>;

// ---- actions ----
struct SpawnChild {
  Generation generation;
  Slot slot = 0;
};
struct StartGate {
  Generation generation;
  pid_t pid;
  Slot slot = 0;
};
struct CancelGate {
  Generation generation;
  Slot slot = 0;
};
// The ready deadline passed: the gate must give up and report GateFailed with what it saw.
struct ExpireGate {
  Generation generation = 0;
  std::string reason;
  Slot slot = 0;
};
// A worker has exited and been handled: drop what is held for it (its notify channel), and end
// what it left behind where reuserun can see it (group_signal.hpp).
struct ForgetWorker {
  Generation generation = 0;
  Slot slot = 0;
  pid_t pid = 0;
};
// A worker did not exit in time and is about to get SIGKILL: the loop says what /proc shows it
// doing (blocked in accept on the shared socket, ...), which no stop signal can tell.
struct DescribeStuck {
  Generation generation = 0;
  Slot slot = 0;
  pid_t pid = 0;
};
// kill(-process_group, sig): every child leads its own process group.
struct SignalGroup {
  pid_t process_group;
  int sig;
  bool operator==(const SignalGroup&) const = default;
};
struct ArmTimer {
  TimerId id;
  Duration after;
};
struct CancelTimer {
  TimerId id;
};
struct Report {
  LogLevel level = LogLevel::info;
  std::string text;
  // About one worker (the JSON log's fields): what happened to it, and which it is.
  std::string event{};  // started, ready, draining, exited; "" when not about a worker
  Generation generation = 0;
  Slot slot = 0;
  pid_t pid = 0;
};
// The first generation passed its gate: the service is up.
struct ServiceReady {};
// A restart (SIGHUP) began: the new generation is being started.
struct RestartStarted {
  Generation generation = 0;
};
// reuserun is stopping: every generation has been asked to.
struct Stopping {};
// How a restart ended. Part of the interface: `reuserun ctl restart` maps each one to its own
// exit status (man/reuserun.1, CONTROL).
enum class RestartOutcome {
  succeeded,     // the new generation passed its gate and serves
  exited,        // it exited before it was ready
  gate_failed,   // its gate failed (exec: probe failed, http: error status, strict adoption)
  timed_out,     // not ready within --ready-timeout
  spawn_failed,  // it could not be started at all
  stopped        // reuserun began stopping before the restart ended
};
std::string_view outcome_name(RestartOutcome outcome);

// A restart (SIGHUP) ended: the new generation serves, or it was rolled back.
struct RestartFinished {
  Generation generation = 0;
  RestartOutcome outcome = RestartOutcome::succeeded;
  std::string reason;
  std::vector<pid_t> pids;  // of the generation's workers that were spawned, in spawn order
  // What serves once the event that ended it is handled (the new generation, the old one after a
  // rollback, none when reuserun stops).
  std::optional<Generation> serving{};
  std::optional<pid_t> serving_pid{};  // its first serving worker
  bool succeeded() const { return outcome == RestartOutcome::succeeded; }
};
struct Exit {
  int code;
};
using Action = std::variant<SpawnChild, StartGate, CancelGate, ExpireGate, SignalGroup,
                            DescribeStuck, ForgetWorker, ArmTimer, CancelTimer, Report, ServiceReady,
                            RestartStarted, RestartFinished, Stopping, Exit>;
using Actions = std::vector<Action>;

}  // namespace reuserun
