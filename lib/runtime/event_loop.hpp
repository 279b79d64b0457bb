// The one thread around the supervisor: turns signals, child exits, gate results, notify messages
// and timers into supervisor events, and the supervisor's actions into syscalls (docs/DESIGN.md
// §4).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "bind_takeover.hpp"
#include "config.hpp"
#include "control.hpp"
#include "group_signal.hpp"
#include "handover.hpp"
#include "host.hpp"
#include "listener.hpp"
#include "listener_watch.hpp"
#include "notify_channels.hpp"
#include "readiness.hpp"
#include "restart_ledger.hpp"
#include "spawn.hpp"
#include "status.hpp"
#include "supervisor.hpp"
#include "timer_table.hpp"
#include "upgrade.hpp"
#include "upgrade_machine.hpp"

namespace reuserun {

// The supervisor's part of the configuration.
SupervisorConfig supervisor_config(const Config& config);

// A steady-clock time in nanoseconds since its epoch (ChildSpawned::at_ns, the handover).
std::int64_t nanoseconds(std::chrono::steady_clock::time_point at);

// The sockets as a generation sees them: fds 3.. in order, with their names.
std::vector<HandedSocket> handed_sockets(const std::vector<Listener>& listeners);

// A `ctl upgrade` client.
struct UpgradeWaiter {
  bool json = false;
  ControlServer::Reply reply;
};

// In-place upgrades (event_loop_upgrade.cpp): the machine that decides (upgrade_machine.hpp), and
// what the loop acts on for it.
struct Upgrade {
  explicit Upgrade(boost::asio::io_context& io) : timer(io), commit_timer(io) {}
  UpgradeMachine machine;
  std::string running = running_executable();  // the binary this image runs
  unsigned long count = 0;                     // upgrades of this process so far
  // The upgrade under way:
  std::chrono::steady_clock::time_point began;
  std::string executable;  // the new binary
  pid_t check_pid = 0;     // its check run, while it runs
  std::vector<UpgradeWaiter> waiters;
  boost::asio::steady_timer timer;  // the check's deadline, then the settling deadline
  boost::asio::steady_timer commit_timer;
};

// What the loop holds for each worker besides the supervisor's view of it: its readiness gate,
// its sd_notify channel and its bind-takeover channel (bind_takeover.hpp).
struct WorkerChannels {
  WorkerChannels(boost::asio::io_context& io, NotifyChannels::Pinged pinged,
                 TakeoverChannels::Hooks hooks)
      : notify(io, std::move(pinged)), takeovers(io, std::move(hooks)) {}
  std::map<WorkerKey, std::unique_ptr<Gate>> gates;
  NotifyChannels notify;
  // The takeover's filter, built once; nullopt when turned off or refused (said once).
  std::optional<TakeoverFilter> takeover_filter;
  bool takeover_refusal_said = false;
  bool rebound = false;                // the first generation's own bind moved a socket (once)
  std::set<Generation> takeover_said;  // generations whose own bind was logged
  TakeoverChannels takeovers;
};

// The launcher's own life: since when it serves, and how it ends. Once Exit came, the code to
// exit with when no descendant is left (leftovers.hpp), and how the wait for that goes.
struct Lifetime {
  explicit Lifetime(boost::asio::io_context& io, std::chrono::steady_clock::time_point now)
      : started_at(now), sweep_timer(io) {}
  std::chrono::steady_clock::time_point started_at;
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;  // told to systemd
  std::optional<int> exiting;
  // What the supervisor said (ServiceReady, Stopping; a new image: the handover).
  bool served = false;
  bool stopping = false;
  bool hurry = false;  // a second stop signal while exiting: SIGKILL what is left now
  bool killed_leftovers = false;
  std::optional<int> exit_code;  // run() returns it
  // One look for gone workers' leftovers per interval, however many children exit; then the
  // looks of the exit.
  bool sweep_pending = false;
  boost::asio::steady_timer sweep_timer;
  Recovery recovery;  // how it came to serve, after a crash or a kill (ctl status)
  std::string restart_trigger;  // what asked for the last restart (ctl status)
  std::vector<std::string> watching;  // --watch, once watched
  CrashHistory crashes;
};

// Routes events to the supervisor and carries out its actions through the Host. Its inputs are
// plain entry points (a signal, a control request, a timer; child exits through the host's
// reaper; gate results and notify messages through the channels), which run() wires to the
// real host and tests/unit/event_loop_test.cpp calls on a fake one.
class EventLoop final : private GateServices {
 public:
  // control: the bound control socket, served from start() on (none: `ctl` cannot reach us).
  // listeners: at least one; handed to every generation at fds 3.. in this order. The readiness
  // gates probe the first.
  EventLoop(Host& host, const Config& config, std::vector<Listener> listeners,
            std::optional<ControlSocket> control);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop() override;

  // start(), then turns the host's io_context until the supervisor says Exit; returns its code.
  // `resumed`: the state of an earlier image of this process, after an in-place upgrade, or
  // after a crash (`after_crash`: its children are replaced by a fresh generation).
  int run(const Handover* resumed = nullptr, bool after_crash = false);
  // Said before run(): this reuserun carries on after a crash or a kill (ctl status, the log);
  // `crashes`: the recoveries in place so far (crash_policy.hpp).
  void recovered(Recovery recovery, CrashHistory crashes = {});

  // Starts the first generation, or carries on from an earlier image's handover (an upgrade);
  // its listeners and control socket are the ones given to the constructor.
  void start(const Handover* resumed = nullptr, bool after_crash = false);
  void signal(int sig);
  void control(const ControlRequest& request, ControlServer::Reply reply);
  void timer_fired(TimerId id);
  // Set once the supervisor's Exit has been carried out (leftovers swept).
  std::optional<int> exit_code() const { return lifetime_.exit_code; }
  const Supervisor& supervisor() const { return supervisor_; }
  // When `id` fires; nullopt when it is not armed.
  std::optional<std::chrono::steady_clock::time_point> timer_expiry(TimerId id) const {
    return timers_.expiry(id);
  }

 private:
  using Clock = std::chrono::steady_clock;

  void request_upgrade(std::optional<UpgradeWaiter> waiter);
  void start_upgrade_check();
  void carry_out(const UpgradeMachine::Decision& decision);
  void commit_upgrade_when_settled();
  void commit_upgrade();
  // Answers the waiting clients, and those already released for the new image (`released`:
  // their connection and whether they asked for JSON) when execve failed.
  void fail_upgrade(const std::string& reason, int ctl_code,
                    std::vector<std::pair<UniqueFd, bool>>&& released = {});
  UpgradeResult upgrade_failure(const std::string& reason, const std::string& executable) const;
  Handover handover() const;
  Handover handover_of_sockets() const;  // what of handover() the kernel cannot tell
  void resume(const Handover& handover);
  void restore(const Handover& handover);
  void resume_after_crash(const Handover& handover);
  void prepare_for_crash();
  void file_changed(const std::string& path);
  void restart_requested_by(std::string trigger);
  static RestartResult stopped_result();
  Status status() const;

  void dispatch(Event event);
  void apply(const Action& action);
  void apply(const SpawnChild& action);
  SpawnRequest children_request(std::string executable, std::vector<std::string> argv,
                                ChildEnv& env, std::vector<int> fds) const;
  std::vector<std::uint16_t> inet_ports() const;
  NotifyOwner notify_owner() const;
  void apply(const StartGate& action);
  void apply(const CancelGate& action);
  void apply(const ExpireGate& action);
  void apply(const SignalGroup& action);
  void apply(const DescribeStuck& action);
  void apply(const ForgetWorker& action);
  void apply(const ArmTimer& action);
  void apply(const CancelTimer& action);
  void apply(const Report& action);
  void apply(const ServiceReady& action);
  void apply(const RestartStarted& action);
  void apply(const RestartFinished& action);
  void apply(const Stopping& action);
  void apply(const Exit& action);
  // Leftovers (leftovers.hpp): what a worker left behind, reparented to reuserun.
  void on_child_exit(pid_t pid, ExitStatus status);
  std::map<pid_t, WorkerKey> workers() const;
  std::vector<pid_t> known_children() const;  // workers, probes, an upgrade's check run
  std::set<ino_t> listener_inodes() const;
  void sweep_before_exit();
  std::string describe_serving() const;
  ListenerWatch::Hooks watch_hooks();
  TakeoverChannels::Hooks takeover_hooks();
  bool rebind_listener(std::size_t index, const BindAddress& address, bool ipv6_only);
  // The child's end of a takeover report, and the loop's (none: no takeover for this child).
  std::optional<std::pair<UniqueFd, UniqueFd>> takeover_report() const;
  void attach_takeover(WorkerKey worker, pid_t pid, int report);
  void report_stop_progress();

  // GateServices
  boost::asio::io_context& io() override { return host_.io(); }
  Result<pid_t> start_probe(const std::string& command, const GateSubject& subject,
                            ExitHandler on_exit) override;
  void abandon_probe(pid_t pid) override;
  const SocketAddress& listener_address() const override { return probed_listener().address(); }
  // The listener the gates probe: the first TCP one (the CLI refuses probing gates without one).
  const Listener& probed_listener() const {
    for (const Listener& listener : listeners_)
      if (listener.is_tcp()) return listener;
    return listeners_.front();
  }
  ino_t listener_inode() const override;
  bool listener_is_tcp() const override { return probed_listener().is_tcp(); }
  bool watch_notify(WorkerKey worker, NotifyHandler handler) override;
  const SystemView& system() const override { return host_.system(); }
  std::string listens_elsewhere(WorkerKey worker) const override;
  // GateFailed for a worker's gate, with the hint of what the gate or the takeover saw.
  GateFailed gate_failed(WorkerKey worker, const std::string& reason, bool timed_out,
                         const Gate* gate) const;

  Host& host_;
  const Config& config_;
  std::vector<Listener> listeners_;
  Supervisor supervisor_;
  // Events raised while actions are being applied wait here (dispatch).
  struct Queue {
    std::deque<Event> pending;
    bool dispatching = false;
  } queue_;
  TimerTable timers_{host_.io(), [this](TimerId id) { timer_fired(id); }};
  WorkerChannels channels_;
  Lifetime lifetime_;
  Upgrade upgrade_{host_.io()};
  RestartLedger restarts_;
  ListenerWatch watch_;
  std::unique_ptr<ControlServer> control_;
};

}  // namespace reuserun
