#include "event_loop.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "child_env.hpp"
#include "command.hpp"
#include "exit_code.hpp"
#include "signal_name.hpp"
#include "spawn.hpp"

extern char** environ;

namespace reuserun {
namespace {

SupervisorConfig supervisor_config(const Config& config) {
  SupervisorConfig result;
  result.ready_timeout = config.ready_timeout;
  result.drain_timeout = config.drain_timeout;
  result.stop_timeout = config.stop_timeout;
  result.stop_signal = config.stop_signal;
  return result;
}

std::string search_path() {
  const char* path = ::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

}  // namespace

EventLoop::EventLoop(const Config& config, const Listener& listener)
    : config_(config),
      listener_(listener),
      signals_(io_, SIGHUP, SIGTERM, SIGINT),
      reaper_([this](pid_t pid, int status) {
        dispatch(ChildExited{pid, status});
      }),
      supervisor_(supervisor_config(config)) {
  for (int sig : {SIGCHLD, SIGUSR1, SIGWINCH, SIGTTIN, SIGTTOU}) signals_.add(sig);
}

EventLoop::~EventLoop() = default;

int EventLoop::run() {
  wait_for_signal();
  dispatch(StartRequested{});
  while (!exit_code_ && io_.run_one() > 0) {
  }
  return exit_code_.value_or(kExitFailure);
}

void EventLoop::wait_for_signal() {
  signals_.async_wait([this](boost::system::error_code error, int sig) {
    if (error) return;
    if (sig == SIGCHLD)
      reaper_.reap();
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
}

void EventLoop::apply(const Action& action) {
  std::visit([this](const auto& a) { apply(a); }, action);
}

void EventLoop::apply(const SpawnChild& action) {
  const ResolvedCommand resolved =
      resolve_command(config_.command.front(), search_path(), check_executable);
  const auto fail = [&](int error) {
    // execve's ENOENT for a file that exists means its #! interpreter is missing.
    const bool interpreter = error == ENOENT && resolved.error == 0;
    dispatch(SpawnFailed{
        action.generation, error,
        fmt::format("Failed to execute {}: {}{}", config_.command.front(),
                    interpreter ? "its interpreter was not found: " : "", std::strerror(error))});
  };
  if (resolved.error != 0) return fail(resolved.error);
  ChildEnv env(environ, {listener_.name()});
  env.set("REUSERUN_GENERATION", std::to_string(action.generation));
  const SpawnResult spawned =
      spawn_process(io_, {resolved.path, config_.command, &env, {listener_.fd()}});
  if (spawned.pid < 0) return fail(spawned.error);
  dispatch(ChildSpawned{action.generation, spawned.pid});
}

void EventLoop::apply(const StartGate& action) {
  auto gate = make_gate(config_.readiness, io_, *this);
  Gate& started = *gate;
  gates_[action.generation] = std::move(gate);
  const Generation generation = action.generation;
  started.start({action.generation, action.pid},
                [this, generation](bool passed, const std::string& reason) {
                  if (passed)
                    dispatch(GatePassed{generation});
                  else
                    dispatch(GateFailed{generation, reason});
                });
}

void EventLoop::apply(const CancelGate& action) {
  const auto it = gates_.find(action.generation);
  if (it == gates_.end()) return;
  log_debug("generation {}: readiness gate closed ({})", action.generation, it->second->progress());
  it->second->cancel();
  // Destroyed later: this may run inside the gate's own callback.
  std::shared_ptr<Gate> closing(std::move(it->second));
  gates_.erase(it);
  boost::asio::post(io_, [closing] {});
}

void EventLoop::apply(const SignalGroup& action) {
  if (::kill(-action.process_group, action.sig) == -1 && errno != ESRCH)
    log_warn("Failed to send {} to process group {}: {}", signal_name(action.sig),
             action.process_group, std::strerror(errno));
}

void EventLoop::apply(const ArmTimer& action) {
  auto& timer = timers_[action.id];
  if (!timer) timer = std::make_unique<boost::asio::steady_timer>(io_);
  timer->expires_after(action.after);
  const TimerId id = action.id;
  timer->async_wait([this, id](boost::system::error_code error) {
    if (!error) dispatch(TimerFired{id});
  });
}

void EventLoop::apply(const CancelTimer& action) {
  const auto it = timers_.find(action.id);
  if (it != timers_.end()) it->second->cancel();
}

void EventLoop::apply(const Report& action) { log_message(action.level, action.text); }

void EventLoop::apply(const ServiceReady&) {
  log_info("serving on {}", format_address(listener_.address()));
}

void EventLoop::apply(const RestartFinished& action) {
  if (action.succeeded)
    log_info("restart succeeded: generation {} is serving", action.generation);
  else
    log_warn("restart failed: generation {}: {}", action.generation, action.reason);
}

void EventLoop::apply(const Exit& action) { exit_code_ = action.code; }

pid_t EventLoop::start_probe(const std::string& command,
                             const std::vector<std::pair<std::string, std::string>>& extra_env,
                             ExitHandler on_exit) {
  ChildEnv env(environ, {});
  for (const auto& [key, value] : extra_env) env.set(key, value);
  const SpawnResult spawned = spawn_process(io_, {"/bin/sh", {"sh", "-c", command}, &env, {}});
  if (spawned.pid < 0) {
    errno = spawned.error;
    return -1;
  }
  reaper_.route(spawned.pid, [on_exit](pid_t, int status) { on_exit(status); });
  return spawned.pid;
}

void EventLoop::abandon(pid_t pid) {
  reaper_.unroute(pid);
  ::kill(-pid, SIGKILL);
}

}  // namespace reuserun
