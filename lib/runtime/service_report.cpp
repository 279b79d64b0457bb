// What the launcher says about the service: `ctl status`, the systemd STATUS= texts, the result
// a `ctl restart` waits for.
#include <fmt/format.h>

#include "event_loop.hpp"
#include "log.hpp"

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
                               child.ready_by, channels_.takeovers.bound_itself(key)});
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
  result.serving = supervisor_.serving();
  if (result.serving && !serving_pids().empty()) result.serving_pid = serving_pids().front();
  restarts_.finished(std::move(result), host_.now());
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
  host_.systemd().ready(action.succeeded() ? fmt::format("serving: {}", describe_serving())
                                    : fmt::format("restart failed ({}); serving: {}", action.reason,
                                                  describe_serving()));
}

}  // namespace reuserun
