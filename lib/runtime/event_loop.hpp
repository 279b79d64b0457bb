// The one thread around the supervisor: turns signals, child exits, gate results, notify messages
// and timers into supervisor events, and the supervisor's actions into syscalls (docs/DESIGN.md
// §4).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
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
#include "listener.hpp"
#include "listener_watch.hpp"
#include "notify_channels.hpp"
#include "readiness.hpp"
#include "reaper.hpp"
#include "restart_ledger.hpp"
#include "sd_notify.hpp"
#include "spawn.hpp"
#include "status.hpp"
#include "supervisor.hpp"
#include "timer_table.hpp"
#include "upgrade.hpp"
#include "upgrade_machine.hpp"

namespace reuserun {

// The steady clock now, in nanoseconds since its epoch (ChildSpawned::at_ns, the handover).
std::int64_t nanoseconds_now();

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

class EventLoop final : private GateServices {
 public:
  // control: the bound control socket, served from run() on (none: `ctl` cannot reach us).
  // listeners: at least one; handed to every generation at fds 3.. in this order. The readiness
  // gates probe the first.
  EventLoop(const Config& config, std::vector<Listener> listeners,
            std::optional<ControlSocket> control);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop() override;

  // Starts the first generation and runs until the supervisor says Exit; returns its code.
  // resumed: carry on from an earlier image's handover instead (an upgrade); its listeners and
  // control socket are the ones given to the constructor.
  int run(const Handover* resumed = nullptr);

 private:
  using Clock = std::chrono::steady_clock;

  void on_control(const ControlRequest& request, ControlServer::Reply reply);
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
  void resume(const Handover& handover);
  static RestartResult stopped_result();
  Status status() const;

  void wait_for_signal();
  void start_watchdog();
  void ping_watchdog();
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
  // Strays (group_signal.hpp): what a worker left behind, reparented to reuserun.
  void on_child_exit(pid_t pid, ExitStatus status);
  std::vector<pid_t> known_children() const;  // workers, probes and helpers
  std::set<ino_t> listener_inodes() const;
  pid_t left_holding_socket(const ChildState& worker);
  void end_strays_of_gone_workers();
  void signal_strays(int sig);
  void sweep_before_exit();
  std::string describe_serving() const;
  std::vector<pid_t> serving_pids() const;
  ListenerWatch::Hooks watch_hooks();
  TakeoverChannels::Hooks takeover_hooks();
  bool rebind_listener(std::size_t index, const BindAddress& address, bool ipv6_only);
  // The child's end of a takeover report, and the loop's (none: no takeover for this child).
  std::optional<std::pair<UniqueFd, UniqueFd>> takeover_report();
  void attach_takeover(WorkerKey worker, pid_t pid, int report);
  void report_stop_progress();

  // GateServices
  boost::asio::io_context& io() override { return io_; }
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
  const SystemView& system() const override { return real_system(); }
  std::string listens_elsewhere(WorkerKey worker) const override;
  // GateFailed for a worker's gate, with the hint of what the gate or the takeover saw.
  GateFailed gate_failed(WorkerKey worker, const std::string& reason, bool timed_out,
                         const Gate* gate) const;

  const Config& config_;
  std::vector<Listener> listeners_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  Reaper reaper_;
  Supervisor supervisor_;
  SystemdNotifier systemd_ = SystemdNotifier::from_environment();
  TimerTable timers_{io_, [this](TimerId id) { dispatch(TimerFired{id}); }};
  std::map<WorkerKey, std::unique_ptr<Gate>> gates_;
  NotifyChannels notify_{io_, [this](WorkerKey worker, bool trigger) {
                           dispatch(WatchdogPinged{worker.generation, worker.slot, trigger});
                         }};
  std::deque<Event> pending_;
  Clock::time_point started_at_ = Clock::now();
  Upgrade upgrade_{io_};
  std::set<pid_t> probes_;                          // exec-gate probes running
  std::optional<Clock::time_point> stop_deadline_;  // systemd is told how long a stop may take
  RestartLedger restarts_;
  ListenerWatch watch_;
  // The bind takeover (bind_takeover.hpp): the filter, built once; nullopt when turned off or
  // refused (said once).
  std::optional<TakeoverFilter> takeover_filter_;
  bool takeover_refusal_said_ = false;
  bool rebound_ = false;  // the first generation's own bind moved a socket (once only)
  std::set<Generation> takeover_said_;  // generations whose own bind was logged
  TakeoverChannels takeovers_;
  std::unique_ptr<ControlServer> control_;
  bool dispatching_ = false;
  // Strays (group_signal.hpp): what is known of each child; a sweep of gone workers' strays
  // waiting (one per interval, however many children exit); once Exit came, the code to exit
  // with when no descendant is left, and the timer of that wait.
  StrayCache stray_cache_;
  bool sweep_pending_ = false;
  boost::asio::steady_timer sweep_timer_{io_};
  std::optional<int> exiting_;
  bool hurry_ = false;  // a second stop signal while exiting: SIGKILL what is left now
  bool killed_strays_ = false;
  std::set<pid_t> killed_at_exit_;
  std::optional<int> exit_code_;
  // systemd's watchdog for reuserun itself (WATCHDOG_USEC): pinged at half the interval.
  struct WatchdogPing {
    boost::asio::steady_timer timer;
    Duration every;
  };
  std::optional<WatchdogPing> watchdog_;
};

}  // namespace reuserun
