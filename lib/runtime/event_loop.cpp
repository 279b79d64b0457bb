#include "event_loop.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "child_env.hpp"
#include "command.hpp"
#include "exit_code.hpp"
#include "foreign_helper.hpp"
#include "group_signal.hpp"
#include "launch_plan.hpp"
#include "log.hpp"
#include "procfs.hpp"
#include "signal_name.hpp"
#include "sock_diag.hpp"
#include "socket_waiters.hpp"
#include "spawn.hpp"
#include "text.hpp"
#include "upgrade.hpp"

namespace reuserun {
namespace {

SupervisorConfig supervisor_config(const Config& config) {
  SupervisorConfig result;
  result.ready_timeout = config.ready_timeout;
  result.drain_timeout = config.drain_timeout;
  result.stop_timeout = config.stop_timeout;
  result.stop_signal = config.stop_signal;
  result.workers = config.workers;
  result.max_surge = config.max_surge;
  result.watchdog = config.watchdog;
  result.start_attempts = config.start_attempts;
  return result;
}

}  // namespace

std::int64_t nanoseconds_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<HandedSocket> handed_sockets(const std::vector<Listener>& listeners) {
  std::vector<HandedSocket> handed;
  for (const Listener& listener : listeners) {
    // Server::Starter's --port spelling: a port alone for every address, "u" before UDP's.
    std::string starter = listener.path();
    if (listener.is_inet())
      starter = std::string(listener.is_datagram() ? "u" : "") +
                (listener.address().is_wildcard() ? std::to_string(listener.address().port())
                                                  : format_address(listener.address()));
    handed.push_back({kListenFdsStart + static_cast<int>(handed.size()), listener.name(), starter});
  }
  return handed;
}

EventLoop::EventLoop(const Config& config, std::vector<Listener> listeners,
                     std::optional<ControlSocket> control)
    : config_(config),
      listeners_(std::move(listeners)),
      signals_(io_, SIGHUP, SIGTERM, SIGINT),
      reaper_([this](pid_t pid, ExitStatus status) { on_child_exit(pid, status); }),
      supervisor_(supervisor_config(config)),
      watch_(io_, listeners_, config.backlog, config.ipv6_only, watch_hooks()),
      takeovers_(io_, takeover_hooks()),
      control_(control ? std::make_unique<ControlServer>(
                             io_, std::move(*control),
                             [this](const ControlRequest& request, ControlServer::Reply reply) {
                               on_control(request, std::move(reply));
                             })
                       : nullptr) {
  for (int sig : {SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU}) signals_.add(sig);
  if (config_.bind_takeover) {
    auto filter = TakeoverFilter::build();
    if (filter) {
      takeover_filter_.emplace(std::move(filter.value()));
    } else {
      log_warn("a child that binds the port itself will not get the shared socket: {}",
               filter.error().message);
      takeover_refusal_said_ = true;
    }
  }
}

EventLoop::~EventLoop() = default;

int EventLoop::run(const Handover* resumed) {
  wait_for_signal();
  start_watchdog();
  watch_.start();
  if (resumed)
    resume(*resumed);
  else
    dispatch(StartRequested{});
  while (!exit_code_ && io_.run_one() > 0) {
  }
  return exit_code_.value_or(kExitFailure);
}

// WATCHDOG=1 from the loop itself, so a loop that stops turning stops pinging and systemd acts.
void EventLoop::start_watchdog() {
  const auto interval =
      watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
  if (!interval || !systemd_.enabled()) return;
  watchdog_.emplace(WatchdogPing{boost::asio::steady_timer(io_),
                                 std::max<Duration>(*interval / 2, std::chrono::milliseconds(1))});
  log_info("systemd watchdog: WATCHDOG=1 every {}", format_duration(watchdog_->every));
  ping_watchdog();
}

void EventLoop::ping_watchdog() {
  systemd_.send("WATCHDOG=1");
  watchdog_->timer.expires_after(watchdog_->every);
  watchdog_->timer.async_wait([this](boost::system::error_code error) {
    if (!error) ping_watchdog();
  });
}

void EventLoop::on_control(const ControlRequest& request, ControlServer::Reply reply) {
  if (request.verb == ControlRequest::Verb::status) {
    const Status now = status();
    return reply(kExitOk, request.json ? render_status_json(now) : render_status_text(now));
  }
  if (request.verb == ControlRequest::Verb::upgrade) {
    log_info("upgrade requested over the control socket");
    return request_upgrade(UpgradeWaiter{request.json, std::move(reply)});
  }
  log_info("restart requested over the control socket");
  restarts_.wait(request.json, std::move(reply));
  if (supervisor_.stopping()) return restarts_.refuse_all(stopped_result());
  dispatch(RestartRequested{});
}

RestartResult EventLoop::stopped_result() {
  RestartResult stopped;
  stopped.outcome = RestartOutcome::stopped;
  stopped.reason = "reuserun is stopping";
  return stopped;
}

Status EventLoop::status() const {
  const auto seconds_since = [now = Clock::now()](Clock::time_point then) {
    return std::chrono::duration<double>(now - then).count();
  };
  Status out;
  out.pid = ::getpid();
  out.uptime_seconds = seconds_since(started_at_);
  const auto serving = supervisor_.serving();
  if (supervisor_.stopping())
    out.state = "stopping";
  else if (serving && supervisor_.candidate())
    out.state = "restarting";
  else if (serving)
    out.state = "serving";
  else if (supervisor_.candidate() && restarts_.count() == 0 && !restarts_.last())
    out.state = "starting";
  else
    out.state = "down";
  for (const Listener& listener : listeners_)
    out.listeners.push_back({listener.describe(), listener.name()});
  for (const auto& [key, child] : supervisor_.children()) {
    const Clock::time_point began{std::chrono::nanoseconds(child.spawned_at_ns)};
    out.generations.push_back({key.generation, child.pid, key.slot, child.phase,
                               child.spawned_at_ns == 0 ? 0.0 : seconds_since(began),
                               child.ready_by, takeovers_.bound_itself(key)});
  }
  out.serving = serving;
  out.workers = supervisor_.config().workers;
  out.restarts = restarts_.count();
  out.last_restart = restarts_.last();
  if (restarts_.last()) out.last_restart_seconds_ago = seconds_since(restarts_.last_at());
  out.upgrades = upgrade_.count;
  out.executable = upgrade_.running;
  return out;
}

ListenerWatch::Hooks EventLoop::watch_hooks() {
  ListenerWatch::Hooks hooks;
  hooks.paused = [this] { return supervisor_.stopping(); };
  hooks.in_a_generation = [this](pid_t pid) {
    return std::any_of(supervisor_.children().begin(), supervisor_.children().end(),
                       [&](const auto& entry) { return is_descendant(pid, entry.second.pid); });
  };
  hooks.describe_serving = [this] { return describe_serving(); };
  hooks.replaced = [this](const std::string& where) {
    systemd_.status("the socket on " + where + " was broken and has been replaced");
    dispatch(RestartRequested{});
  };
  hooks.replace_failed = [this](const std::string& where) {
    systemd_.status("the socket on " + where + " is broken and could not be replaced");
  };
  return hooks;
}

// Asked for every probe: the listener may have been replaced (ListenerWatch).
ino_t EventLoop::listener_inode() const {
  struct stat info {};
  return ::fstat(probed_listener().fd(), &info) == 0 ? info.st_ino : 0;
}

void EventLoop::wait_for_signal() {
  signals_.async_wait([this](boost::system::error_code error, int sig) {
    if (error) return;
    if (sig == SIGCHLD)
      reaper_.reap();
    else if (exiting_ && (sig == SIGTERM || sig == SIGINT))
      hurry_ = true;  // what is left of the generations goes now
    else if (sig == SIGUSR2)
      request_upgrade(std::nullopt);
    else
      dispatch(SignalReceived{sig});
    wait_for_signal();
  });
}

// Events raised while actions are being applied (a spawn reports at once) are queued, so the
// supervisor always sees one event at a time, in order.
void EventLoop::dispatch(Event event) {
  pending_.push_back(std::move(event));
  if (dispatching_) return;
  dispatching_ = true;
  while (!pending_.empty()) {
    Event next = std::move(pending_.front());
    pending_.pop_front();
    for (const Action& action : supervisor_.handle(next)) apply(action);
  }
  dispatching_ = false;
  commit_upgrade_when_settled();
}

void EventLoop::apply(const Action& action) {
  std::visit([this](const auto& a) { apply(a); }, action);
}

bool EventLoop::watch_notify(WorkerKey worker, NotifyHandler handler) {
  return notify_.watch(worker, std::move(handler));
}

void EventLoop::apply(const StartGate& action) {
  auto gate = make_gate(config_.readiness, *this);
  Gate& started = *gate;
  gates_[WorkerKey{action.generation, action.slot}] = std::move(gate);
  started.start({action.generation, action.pid, action.slot},
                [this, &started, generation = action.generation, slot = action.slot](
                    bool passed, const std::string& detail) {
                  if (passed)
                    dispatch(GatePassed{generation, slot, detail});
                  else
                    dispatch(gate_failed(WorkerKey{generation, slot}, detail, false, &started));
                });
}

void EventLoop::apply(const CancelGate& action) {
  const auto it = gates_.find(WorkerKey{action.generation, action.slot});
  if (it == gates_.end()) return;
  log_debug("generation {}: readiness gate closed ({})", action.generation, it->second->progress());
  it->second->cancel();
  // Destroyed later: this may run inside the gate's own callback.
  std::shared_ptr<Gate> closing(std::move(it->second));
  gates_.erase(it);
  boost::asio::post(io_, [closing] {});
}

void EventLoop::apply(const ExpireGate& action) {
  const auto it = gates_.find(WorkerKey{action.generation, action.slot});
  const std::string seen = it == gates_.end() ? "" : ": " + it->second->progress();
  dispatch(gate_failed(WorkerKey{action.generation, action.slot}, action.reason + seen, true,
                       it == gates_.end() ? nullptr : it->second.get()));
}

std::string EventLoop::listens_elsewhere(WorkerKey worker) const {
  std::string own = takeovers_.elsewhere(worker);
  if (own.starts_with("; ")) own.erase(0, 2);
  return own;
}

GateFailed EventLoop::gate_failed(WorkerKey worker, const std::string& reason, bool timed_out,
                                  const Gate* gate) const {
  GateFailed failed{worker.generation, reason + takeovers_.elsewhere(worker), timed_out,
                    worker.slot};
  failed.hint = listens_elsewhere(worker);
  if (failed.hint.empty() && gate != nullptr) failed.hint = gate->hint();
  return failed;
}

// The leader is unreaped here (alive, or the zombie whose exit is being handled: reaper.hpp), so
// its group id is still ours.
void EventLoop::apply(const SignalGroup& action) {
  signal_worker(action.process_group, action.sig);
}

void EventLoop::apply(const DescribeStuck& action) {
  const ino_t shared = listener_inode();
  const std::string stuck =
      describe_stuck(system().socket_waiter(process_tree(action.pid), shared));
  if (!stuck.empty())
    log_message(LogLevel::warn, fmt::format("generation {}: {}", action.generation, stuck),
                LogFields{"stuck", action.generation, action.slot, true, action.pid});
}

// A worker is gone. Its notify channel closes (later: this may run inside its own handler). What
// it left behind outside its process group was reparented to reuserun (as PID 1 or a subreaper)
// and goes with it; while reuserun stops, it had the stop signal and gets the stop timeout
// (sweep_before_exit).
void EventLoop::apply(const ForgetWorker& action) {
  const WorkerKey worker{action.generation, action.slot};
  notify_.forget(worker);
  takeovers_.forget(worker);
  if (supervisor_.stopping()) return report_stop_progress();
  for (const pid_t orphan :
       orphans_of_worker(action.generation, action.slot, known_children(), stray_cache_)) {
    const bool sent =
        signal_pinned(orphan, SIGKILL, [&] { return parent_pid(orphan) == ::getpid(); });
    if (sent)
      log_info("sent SIGKILL to pid {}, left behind by generation {} (pid {})", orphan,
               action.generation, action.pid);
  }
  report_stop_progress();
}

// Every exit of a child comes here (the Reaper's default handler), while the child is a zombie.
// A worker's exit says what it left holding the shared socket; any other exit (an orphan's)
// may have reparented what that one started in turn, which goes the way of its worker: looked
// for once the exits of a burst are in (a storm of exits costs one look per interval).
void EventLoop::on_child_exit(pid_t pid, ExitStatus status) {
  stray_cache_.erase(pid);  // reaped after this: the pid may name another process
  if (exiting_) return;
  for (const auto& [key, child] : supervisor_.children())
    if (child.pid == pid) return dispatch(ChildExited{pid, status, left_holding_socket(child)});
  dispatch(ChildExited{pid, status});
  if (sweep_pending_) return;
  sweep_pending_ = true;
  sweep_timer_.expires_after(std::chrono::milliseconds(100));
  sweep_timer_.async_wait([this](boost::system::error_code error) {
    sweep_pending_ = false;
    if (!error && !exiting_) end_strays_of_gone_workers();
  });
}

std::vector<pid_t> EventLoop::known_children() const {
  std::vector<pid_t> ours = reaper_.routed();  // probes, an upgrade's check run
  for (const auto& [key, child] : supervisor_.children()) ours.push_back(child.pid);
  for (ForeignHelper* helper : {&memory_helper(), &notify_helper(), &socket_helper()})
    if (helper->helper() != 0) ours.push_back(helper->helper());
  return ours;
}

std::set<ino_t> EventLoop::listener_inodes() const {
  std::set<ino_t> inodes;
  for (const Listener& listener : listeners_) {
    struct stat info {};
    if (::fstat(listener.fd(), &info) == 0) inodes.insert(info.st_ino);
  }
  return inodes;
}

// A command that daemonizes (fork, setsid, fork, exit 0) leaves a process holding the shared
// socket once its leader is gone: reparented to reuserun, the subreaper, with the worker's
// REUSERUN_GENERATION and REUSERUN_WORKER (issue 27, finding 1). 0 when nothing holds it.
// A stray whose environment does not say (a daemon started through `env -i` or sudo) counts
// too: the attack review's daemon left seven copies serving otherwise.
pid_t EventLoop::left_holding_socket(const ChildState& worker) {
  std::vector<pid_t> tree;
  for (const Stray& stray : strays(known_children(), stray_cache_))
    if (!stray.worker || *stray.worker == std::pair<unsigned long, unsigned>(worker.generation,
                                                                              worker.slot))
      for (const pid_t pid : process_tree(stray.pid)) tree.push_back(pid);
  if (tree.empty()) return 0;
  const auto holders = holders_of_sockets(listener_inodes(), tree);
  return holders.empty() ? 0 : holders.begin()->second;
}

// What a worker that has exited started is reparented to reuserun one process at a time: the
// daemon's grandchild only once its parent exits. Each goes when it arrives.
void EventLoop::end_strays_of_gone_workers() {
  for (const Stray& stray : strays(known_children(), stray_cache_)) {
    if (!stray.worker) continue;  // whose it is cannot be told: it goes when reuserun stops
    const auto [generation, slot] = *stray.worker;
    if (supervisor_.children().contains(WorkerKey{generation, slot})) continue;
    if (signal_pinned(stray.pid, SIGKILL, [&] { return parent_pid(stray.pid) == ::getpid(); }))
      log_info("sent SIGKILL to pid {}, left behind by generation {}", stray.pid, generation);
  }
}

// On stop, what the generations left behind is asked to stop with them.
void EventLoop::signal_strays(int sig) {
  for (const Stray& stray : strays(known_children(), stray_cache_))
    if (stray.worker &&
        signal_pinned(stray.pid, sig, [&] { return parent_pid(stray.pid) == ::getpid(); }))
      log_info("sent {} to pid {}, left behind by generation {}", signal_name(sig), stray.pid,
               stray.worker->first);
}

// Nothing of any generation outlives reuserun (issue 27, finding 1): once every worker has
// exited, what is still below reuserun had the stop signal (Stopping) and gets until the stop
// deadline to exit (a second SIGTERM or SIGINT: not a moment longer); then every descendant but
// the helpers gets SIGKILL, the whole tree at once: one level at a time, a chain of 300 outran
// the deadline, and a process stuck in D state kept its children from ever being reparented
// (attack review). The loop keeps turning meanwhile (`ctl`, signals). Bounded: 2 s after the
// deadline reuserun exits whatever is left.
void EventLoop::sweep_before_exit() {
  using namespace std::chrono_literals;
  reaper_.reap();
  const std::vector<pid_t> helpers = known_children();
  std::vector<pid_t> left;
  std::vector<pid_t> direct;
  for (const pid_t pid : process_tree(::getpid())) {
    if (pid == ::getpid() || std::find(helpers.begin(), helpers.end(), pid) != helpers.end())
      continue;
    left.push_back(pid);
    if (parent_pid(pid) == ::getpid()) direct.push_back(pid);
  }
  const auto now = Clock::now();
  const auto grace = hurry_ ? now : stop_deadline_.value_or(now);
  if (direct.empty() || now >= grace + 2s) {
    if (!left.empty())
      log_warn("{} process{} below reuserun did not exit after SIGKILL", left.size(),
               left.size() == 1 ? "" : "es");
    exit_code_ = killed_strays_ && *exiting_ == kExitOk ? kExitForcedStop : *exiting_;
    return;
  }
  if (now >= grace) {
    std::string named;
    std::size_t count = 0;
    for (const pid_t pid : left) {
      if (killed_at_exit_.contains(pid)) continue;
      if (!signal_pinned(pid, SIGKILL, [&] { return is_descendant(pid, ::getpid()); })) continue;
      killed_at_exit_.insert(pid);
      if (++count <= 10) named += (named.empty() ? "" : ", ") + std::to_string(pid);
    }
    if (count > 0) {
      killed_strays_ = true;
      log_warn("{} process{} left behind by the generations still running after every "
               "generation exited: SIGKILL (pid{} {}{})",
               count, count == 1 ? "" : "es", count == 1 ? "" : "s", named,
               count > 10 ? ", ..." : "");
    }
  }
  sweep_timer_.expires_after(20ms);
  sweep_timer_.async_wait([this](boost::system::error_code error) {
    if (!error) sweep_before_exit();
  });
}

void EventLoop::apply(const ArmTimer& action) { timers_.arm(action.id, action.after); }

void EventLoop::apply(const CancelTimer& action) { timers_.cancel(action.id); }

void EventLoop::apply(const Report& action) {
  log_message(
      action.level, action.text,
      LogFields{action.event, action.generation, action.slot, action.generation != 0, action.pid});
}

// "generation 3 (pid 4242)", "generation 3 (pids 4242, 4243)", for logs and STATUS=.
std::string EventLoop::describe_serving() const {
  const auto serving = supervisor_.serving();
  if (!serving) return "no generation";
  const auto pids = serving_pids();
  std::string list;
  for (const pid_t pid : pids) list += (list.empty() ? "" : ", ") + std::to_string(pid);
  return fmt::format("generation {} (pid{} {})", *serving, pids.size() == 1 ? "" : "s", list);
}

std::vector<pid_t> EventLoop::serving_pids() const {
  std::vector<pid_t> pids;
  const auto serving = supervisor_.serving();
  for (const auto& [key, child] : supervisor_.children())
    if (serving && key.generation == *serving && child.phase == Phase::serving)
      pids.push_back(child.pid);
  return pids;
}

void EventLoop::apply(const ServiceReady&) {
  std::string addresses;
  for (const Listener& listener : listeners_)
    addresses += (addresses.empty() ? "" : ", ") + listener.describe();
  log_info("serving on {}", addresses);
  systemd_.ready(fmt::format("serving on {}: {}", addresses, describe_serving()));
}

void EventLoop::apply(const RestartStarted& action) {
  restarts_.began(action.generation, Clock::now());
  systemd_.reloading(fmt::format("restarting: starting generation {}", action.generation),
                     config_.ready_timeout + config_.stop_timeout);
}

void EventLoop::apply(const RestartFinished& action) {
  RestartResult result;
  result.generation = action.generation;
  result.outcome = action.outcome;
  result.reason = action.reason;
  result.pids = action.pids;
  if (!result.pids.empty()) result.pid = result.pids.front();
  result.serving = supervisor_.serving();
  if (result.serving && !serving_pids().empty()) result.serving_pid = serving_pids().front();
  restarts_.finished(std::move(result), Clock::now());
  const LogFields about{action.succeeded() ? "restart-succeeded" : "restart-failed",
                        action.generation, 0, false, action.pids.empty() ? 0 : action.pids.front()};
  if (action.succeeded())
    log_message(LogLevel::info,
                fmt::format("restart succeeded: generation {} is serving", action.generation),
                about);
  else
    log_message(LogLevel::warn,
                fmt::format("restart failed: generation {}: {}", action.generation, action.reason),
                about);
  if (supervisor_.stopping()) return;  // STOPPING=1 went out already; no READY=1 after it
  systemd_.ready(action.succeeded() ? fmt::format("serving: {}", describe_serving())
                                    : fmt::format("restart failed ({}); serving: {}", action.reason,
                                                  describe_serving()));
}

// While a stop waits for generations that drain, systemd hears which ones and gets its stop
// timeout extended to reuserun's own deadline (--stop-timeout, then SIGKILL) each time one exits.
void EventLoop::report_stop_progress() {
  if (!stop_deadline_) return;
  const auto& children = supervisor_.children();
  if (children.empty()) return;
  std::string waiting;
  for (const auto& [key, child] : children)
    waiting += fmt::format("{}generation {} (pid {})", waiting.empty() ? "" : ", ", key.generation,
                           child.pid);
  const auto left = std::chrono::ceil<Duration>(*stop_deadline_ - Clock::now());
  systemd_.stopping("stopping: waiting for " + waiting,
                    std::max(left, Duration::zero()) + std::chrono::seconds(1));
}

void EventLoop::apply(const Stopping&) {
  carry_out(upgrade_.machine.stopping());
  signal_strays(config_.stop_signal);
  stop_deadline_ = Clock::now() + config_.stop_timeout;
  restarts_.refuse_all(stopped_result());
  systemd_.stopping("stopping", config_.stop_timeout + std::chrono::seconds(1));
}

void EventLoop::apply(const Exit& action) {
  restarts_.abandon("reuserun exited before the restart ended\n");
  if (exiting_) return;
  exiting_ = action.code;
  sweep_timer_.cancel();
  sweep_before_exit();
}

}  // namespace reuserun
