// What the launcher says about the service: `ctl status`, the systemd STATUS= texts, the result
// a `ctl restart` waits for.
#include <fmt/format.h>

#include "event_loop.hpp"
#include "log.hpp"
#include "service_view.hpp"

namespace reuserun {

RestartResult EventLoop::stopped_result() {
  RestartResult stopped;
  stopped.outcome = RestartOutcome::stopped;
  stopped.reason = "reuserun is stopping";
  return stopped;
}

Status EventLoop::status() const {
  const auto seconds_since = [now = host_.now()](Clock::time_point then) {
    return std::chrono::duration<double>(now - then).count();
  };
  Status out;
  out.pid = host_.self();
  out.uptime_seconds = seconds_since(lifetime_.started_at);
  for (const Listener& listener : listeners_)
    out.listeners.push_back({listener.describe(), listener.name()});
  const std::int64_t now_ns = nanoseconds(host_.now());
  describe_workers(supervisor_, now_ns, restarts_.count() > 0 || restarts_.last().has_value(),
                   [this](WorkerKey key) { return channels_.takeovers.bound_itself(key); }, out);
  out.restarts = restarts_.count();
  out.last_restart = restarts_.last();
  if (restarts_.last()) out.last_restart_seconds_ago = seconds_since(restarts_.last_at());
  out.upgrades = upgrade_.count;
  out.executable = upgrade_.running;
  out.recovery = lifetime_.recovery;
  out.watching = lifetime_.watching;
  out.restart_trigger = lifetime_.restart_trigger;
  return out;
}

// "generation 3 (pid 4242)", for logs and STATUS=.
std::string EventLoop::describe_serving() const { return reuserun::describe_serving(supervisor_); }

void EventLoop::apply(const ServiceReady&) {
  lifetime_.served = true;
  std::string addresses;
  for (const Listener& listener : listeners_)
    addresses += (addresses.empty() ? "" : ", ") + listener.describe();
  log_info("serving on {}", addresses);
  host_.drain_orphans(config_.stop_signal, config_.drain_timeout);
  host_.systemd().ready(fmt::format("serving on {}: {}", addresses, describe_serving()));
}

void EventLoop::apply(const RestartStarted& action) {
  restarts_.began(action.generation, host_.now());
  host_.systemd().reloading(fmt::format("restarting: starting generation {}", action.generation),
                     config_.ready_timeout + config_.stop_timeout);
}

void EventLoop::apply(const RestartFinished& action) {
  RestartResult result;
  result.generation = action.generation;
  result.outcome = action.outcome;
  result.reason = action.reason;
  result.pids = action.pids;
  if (!result.pids.empty()) result.pid = result.pids.front();
  result.serving = action.serving;
  result.serving_pid = action.serving_pid;
  restarts_.finished(std::move(result), host_.now());
  // After a crash, the restart that replaced the crashed image's children: what it had adopted
  // of a killed reuserun drains now (the first ServiceReady came before the crash).
  if (action.succeeded()) host_.drain_orphans(config_.stop_signal, config_.drain_timeout);
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
  if (lifetime_.stopping) return;  // STOPPING=1 went out already; no READY=1 after it
  host_.systemd().ready(action.succeeded() ? fmt::format("serving: {}", describe_serving())
                                    : fmt::format("restart failed ({}); serving: {}", action.reason,
                                                  describe_serving()));
}

}  // namespace reuserun
