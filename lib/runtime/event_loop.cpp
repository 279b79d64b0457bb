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

SupervisorConfig supervisor_config(const Config& config) {
  SupervisorConfig result;
  result.ready_timeout = config.ready_timeout;
  result.drain_timeout = config.drain_timeout;
  result.stop_timeout = config.stop_timeout;
  result.stop_signal = config.stop_signal;
  result.restart_signal = config.restart_signal;
  result.workers = config.workers;
  result.max_surge = config.max_surge;
  result.watchdog = config.watchdog;
  result.start_attempts = config.start_attempts;
  return result;
}

std::int64_t nanoseconds(std::chrono::steady_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
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

EventLoop::EventLoop(Host& host, const Config& config, std::vector<Listener> listeners,
                     std::optional<ControlSocket> control)
    : host_(host),
      config_(config),
      listeners_(std::move(listeners)),
      supervisor_(supervisor_config(config)),
      channels_(host.io(),
                [this](WorkerKey worker, bool trigger) {
                  dispatch(WatchdogPinged{worker.generation, worker.slot, trigger});
                },
                takeover_hooks()),
      lifetime_(host.io(), host.now()),
      watch_(host.io(), listeners_, config.backlog, config.ipv6_only, watch_hooks()),
      control_(control ? std::make_unique<ControlServer>(
                             host.io(), std::move(*control),
                             [this](const ControlRequest& request, ControlServer::Reply reply) {
                               this->control(request, std::move(reply));
                             })
                       : nullptr) {
  host_.reaper().set_default_handler(
      [this](pid_t pid, ExitStatus status) { on_child_exit(pid, status); });
  if (config_.bind_takeover) {
    auto filter = TakeoverFilter::build();
    if (filter) {
      channels_.takeover_filter.emplace(std::move(filter.value()));
    } else {
      log_warn("a child that binds the port itself will not get the shared socket: {}",
               filter.error().message);
      channels_.takeover_refusal_said = true;
    }
  }
}

EventLoop::~EventLoop() = default;

int EventLoop::run(const Handover* resumed, bool after_crash) {
  start(resumed, after_crash);
  while (!lifetime_.exit_code && host_.io().run_one() > 0) {
  }
  return lifetime_.exit_code.value_or(kExitFailure);
}

void EventLoop::start(const Handover* resumed, bool after_crash) {
  host_.watch_signals([this](int sig) { signal(sig); });
  host_.start_watchdog();
  watch_.start();
  prepare_for_crash();  // before the first child is spawned
  if (!config_.watch.empty() &&
      host_.watch_files(config_.watch, config_.watch_settle,
                        [this](const std::string& path) { file_changed(path); }))
    lifetime_.watching = config_.watch;
  if (resumed && after_crash)
    resume_after_crash(*resumed);
  else if (resumed)
    resume(*resumed);
  else
    dispatch(StartRequested{});
  if (resumed) prepare_for_crash();  // again, with the start time and counts a handover restored
}

void EventLoop::recovered(Recovery recovery, CrashHistory crashes) {
  log_info("recovered ({}): {}", recovery.how, recovery.detail);
  lifetime_.recovery = std::move(recovery);
  lifetime_.crashes = crashes;
}

// --watch: a watched file was replaced or written, and has settled.
void EventLoop::file_changed(const std::string& path) {
  if (lifetime_.stopping) return;
  log_info("{} changed (--watch): rolling restart", path);
  restart_requested_by(path + " changed (--watch)");
}

void EventLoop::restart_requested_by(std::string trigger) {
  lifetime_.restart_trigger = std::move(trigger);
  dispatch(RestartRequested{});
}

void EventLoop::signal(int sig) {
  if (sig == SIGCHLD)
    host_.reaper().reap();
  else if (lifetime_.exiting && (sig == SIGTERM || sig == SIGINT))
    lifetime_.hurry = true;  // what is left of the generations goes now
  else if (sig == SIGUSR2)
    request_upgrade(std::nullopt);
  else if (sig == config_.restart_signal && !lifetime_.stopping)
    restart_requested_by(signal_name(sig));
  else
    dispatch(SignalReceived{sig});
}

void EventLoop::timer_fired(TimerId id) { dispatch(TimerFired{id}); }

void EventLoop::control(const ControlRequest& request, ControlServer::Reply reply) {
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
  if (lifetime_.stopping) return restarts_.refuse_all(stopped_result());
  restart_requested_by("reuserun ctl restart");
}

ListenerWatch::Hooks EventLoop::watch_hooks() {
  ListenerWatch::Hooks hooks;
  hooks.paused = [this] { return lifetime_.stopping; };
  hooks.in_a_generation = [this](pid_t pid) {
    const auto running = workers();
    return std::any_of(running.begin(), running.end(),
                       [&](const auto& entry) { return is_descendant(pid, entry.first); });
  };
  hooks.describe_serving = [this] { return describe_serving(); };
  hooks.replaced = [this](const std::string& where) {
    host_.systemd().status("the socket on " + where + " was broken and has been replaced");
    prepare_for_crash();  // the new socket is the one to keep
    restart_requested_by("the socket on " + where + " was replaced");
  };
  hooks.replace_failed = [this](const std::string& where) {
    host_.systemd().status("the socket on " + where + " is broken and could not be replaced");
  };
  return hooks;
}

// Asked for every probe: the listener may have been replaced (ListenerWatch).
ino_t EventLoop::listener_inode() const {
  struct stat info {};
  return ::fstat(probed_listener().fd(), &info) == 0 ? info.st_ino : 0;
}

// Events raised while actions are being applied (a spawn reports at once) are queued, so the
// supervisor always sees one event at a time, in order.
void EventLoop::dispatch(Event event) {
  queue_.pending.push_back(std::move(event));
  if (queue_.dispatching) return;
  queue_.dispatching = true;
  while (!queue_.pending.empty()) {
    Event next = std::move(queue_.pending.front());
    queue_.pending.pop_front();
    const Actions actions = supervisor_.handle(next);
    // Stopping holds for the whole batch: actions the supervisor queued before it in the same
    // event (the ForgetWorker of a first start that gives up, its RestartFinished) are carried out
    // as during a stop (what a worker left gets the stop signal and timeout; no READY=1).
    if (std::any_of(actions.begin(), actions.end(),
                    [](const Action& action) { return std::holds_alternative<Stopping>(action); }))
      lifetime_.stopping = true;
    if (lifetime_.stopping) host_.end_crash_recovery();  // a crash now ends the stop early
    for (const Action& action : actions) apply(action);
  }
  queue_.dispatching = false;
  commit_upgrade_when_settled();
}

void EventLoop::apply(const Action& action) {
  std::visit([this](const auto& a) { apply(a); }, action);
}

bool EventLoop::watch_notify(WorkerKey worker, NotifyHandler handler) {
  return channels_.notify.watch(worker, std::move(handler));
}

void EventLoop::apply(const StartGate& action) {
  auto gate = make_gate(config_.readiness, *this);
  Gate& started = *gate;
  channels_.gates[WorkerKey{action.generation, action.slot}] = std::move(gate);
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
  const auto it = channels_.gates.find(WorkerKey{action.generation, action.slot});
  if (it == channels_.gates.end()) return;
  log_debug("generation {}: readiness gate closed ({})", action.generation, it->second->progress());
  it->second->cancel();
  // Destroyed later: this may run inside the gate's own callback.
  std::shared_ptr<Gate> closing(std::move(it->second));
  channels_.gates.erase(it);
  boost::asio::post(host_.io(), [closing] {});
}

void EventLoop::apply(const ExpireGate& action) {
  const auto it = channels_.gates.find(WorkerKey{action.generation, action.slot});
  const std::string seen = it == channels_.gates.end() ? "" : ": " + it->second->progress();
  dispatch(gate_failed(WorkerKey{action.generation, action.slot}, action.reason + seen, true,
                       it == channels_.gates.end() ? nullptr : it->second.get()));
}

std::string EventLoop::listens_elsewhere(WorkerKey worker) const {
  std::string own = channels_.takeovers.elsewhere(worker);
  if (own.starts_with("; ")) own.erase(0, 2);
  return own;
}

GateFailed EventLoop::gate_failed(WorkerKey worker, const std::string& reason, bool timed_out,
                                  const Gate* gate) const {
  GateFailed failed{worker.generation, reason + channels_.takeovers.elsewhere(worker), timed_out,
                    worker.slot};
  failed.hint = listens_elsewhere(worker);
  if (failed.hint.empty() && gate != nullptr) failed.hint = gate->hint();
  return failed;
}

// The leader is unreaped here (alive, or the zombie whose exit is being handled: reaper.hpp), so
// its group id is still ours.
void EventLoop::apply(const SignalGroup& action) {
  host_.signal_worker(action.process_group, action.sig);
}

void EventLoop::apply(const DescribeStuck& action) {
  const ino_t shared = listener_inode();
  const std::string stuck =
      describe_stuck(system().socket_waiter(process_tree(action.pid), shared));
  if (!stuck.empty())
    log_message(LogLevel::warn, fmt::format("generation {}: {}", action.generation, stuck),
                LogFields{"stuck", action.generation, action.slot, true, action.pid});
}

void EventLoop::apply(const ArmTimer& action) { timers_.arm(action.id, action.after); }

void EventLoop::apply(const CancelTimer& action) { timers_.cancel(action.id); }

void EventLoop::apply(const Report& action) {
  log_message(
      action.level, action.text,
      LogFields{action.event, action.generation, action.slot, action.generation != 0, action.pid});
}

}  // namespace reuserun
