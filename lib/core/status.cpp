#include "status.hpp"

#include <cmath>
#include <cstdint>

#include <fmt/ranges.h>

namespace reuserun {
namespace {

// "850ms", "12.3s", "5m07s", "2h05m", "3d04h": enough precision for a person reading a status.
std::string human_duration(double seconds) {
  if (seconds < 1) return fmt::format("{}ms", static_cast<int>(seconds * 1000));
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto whole = static_cast<std::int64_t>(seconds);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  if (whole < 86400) return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
  return fmt::format("{}d{:02}h", whole / 86400, whole % 86400 / 3600);
}

double seconds_of(std::chrono::microseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

// Seconds with millisecond precision, as a JSON number.
std::string json_seconds(double seconds) { return fmt::format("{:.3f}", std::max(0.0, seconds)); }

template <typename T>
std::string json_optional(const std::optional<T>& value) {
  return value ? fmt::format("{}", *value) : "null";
}

std::string restart_json_object(const RestartResult& result) {
  return fmt::format(
      R"({{"generation":{},"outcome":{},"succeeded":{},"reason":{},"duration_seconds":{},)"
      R"("pid":{},"pids":[{}],"serving_generation":{},"serving_pid":{}}})",
      result.generation, json_string(outcome_name(result.outcome)),
      result.outcome == RestartOutcome::succeeded, json_string(result.reason),
      json_seconds(seconds_of(result.duration)), json_optional(result.pid),
      fmt::format("{}", fmt::join(result.pids, ",")), json_optional(result.serving),
      json_optional(result.serving_pid));
}

std::string describe_serving(const std::optional<Generation>& generation,
                             const std::optional<pid_t>& pid) {
  if (!generation) return "no generation is serving";
  return fmt::format("generation {} (pid {}) is serving", *generation, pid.value_or(0));
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string render_status_text(const Status& status) {
  std::string out = fmt::format("reuserun pid {}, up {}, {}\n", status.pid,
                                human_duration(status.uptime_seconds), status.state);
  for (const auto& listener : status.listeners)
    out += fmt::format("listening on {} ({})\n", listener.address, listener.name);
  for (const auto& generation : status.generations)
    out += fmt::format(
        "generation {}{}: pid {}, {}, up {}{}{}\n", generation.generation,
        status.workers > 1 ? fmt::format(" worker {}", generation.worker) : "", generation.pid,
        phase_name(generation.phase), human_duration(generation.uptime_seconds),
        generation.ready_by.empty() ? "" : ", ready: " + generation.ready_by,
        generation.bound_itself.empty()
            ? ""
            : ", bound " + generation.bound_itself + " itself (given the shared socket)");
  if (status.generations.empty()) out += "no generation is running\n";
  if (status.last_restart) {
    const RestartResult& last = *status.last_restart;
    out += fmt::format("last restart: generation {} {} in {}, {} ago{}\n", last.generation,
                       outcome_name(last.outcome), human_duration(seconds_of(last.duration)),
                       human_duration(status.last_restart_seconds_ago),
                       last.reason.empty() ? "" : ": " + last.reason);
  } else {
    out += "no restart yet\n";
  }
  if (status.upgrades > 0)
    out += fmt::format("upgraded in place {} time{}: runs {}\n", status.upgrades,
                       status.upgrades == 1 ? "" : "s", status.executable);
  if (!status.watching.empty()) {
    std::string paths;
    for (const std::string& path : status.watching) paths += (paths.empty() ? "" : ", ") + path;
    out += "watching: " + paths + "\n";
  }
  if (!status.restart_trigger.empty())
    out += "last restart asked for by: " + status.restart_trigger + "\n";
  if (!status.recovery.how.empty())
    out += fmt::format("recovered ({}): {}\n", status.recovery.how, status.recovery.detail);
  return out;
}

std::string render_status_json(const Status& status) {
  std::string watching;
  for (const std::string& path : status.watching)
    watching += (watching.empty() ? "" : ",") + json_string(path);
  std::string listeners;
  for (const auto& listener : status.listeners)
    listeners += fmt::format(R"({}{{"address":{},"name":{}}})", listeners.empty() ? "" : ",",
                             json_string(listener.address), json_string(listener.name));
  std::string generations;
  for (const auto& generation : status.generations)
    generations += fmt::format(
        R"({}{{"generation":{},"worker":{},"pid":{},"state":{},"uptime_seconds":{},)"
        R"("ready_by":{},"bound_itself":{}}})",
        generations.empty() ? "" : ",", generation.generation, generation.worker, generation.pid,
        json_string(phase_name(generation.phase)), json_seconds(generation.uptime_seconds),
        generation.ready_by.empty() ? "null" : json_string(generation.ready_by),
        generation.bound_itself.empty() ? "null" : json_string(generation.bound_itself));
  std::string last = "null";
  if (status.last_restart) last = restart_json_object(*status.last_restart);
  return fmt::format(
      R"({{"schema":{},"pid":{},"uptime_seconds":{},"state":{},"listeners":[{}],"workers":{},)"
      R"("serving_generation":{},"generations":[{}],"restarts":{},"last_restart":{},)"
      R"("last_restart_seconds_ago":{},"upgrades":{},"executable":{},"recovery":{},"watching":[{}],)"
      R"("restart_trigger":{}}})"
      "\n",
      kStatusSchema, status.pid, json_seconds(status.uptime_seconds), json_string(status.state),
      listeners, status.workers, json_optional(status.serving), generations, status.restarts, last,
      status.last_restart ? json_seconds(status.last_restart_seconds_ago) : "null", status.upgrades,
      json_string(status.executable),
      status.recovery.how.empty()
          ? "null"
          : fmt::format(R"({{"how":{},"detail":{}}})", json_string(status.recovery.how),
                        json_string(status.recovery.detail)),
      watching,
      status.restart_trigger.empty() ? "null" : json_string(status.restart_trigger));
}

std::string render_restart_text(const RestartResult& result) {
  if (result.outcome == RestartOutcome::succeeded)
    return fmt::format("restart succeeded in {}: generation {} (pid{} {}) is serving\n",
                       human_duration(seconds_of(result.duration)), result.generation,
                       result.pids.size() > 1 ? "s" : "",
                       result.pids.empty() ? std::to_string(result.pid.value_or(0))
                                           : fmt::format("{}", fmt::join(result.pids, ", ")));
  const std::string which =
      result.generation == 0 ? "" : fmt::format("generation {}: ", result.generation);
  return fmt::format("restart failed ({}): {}{}; {}\n", outcome_name(result.outcome), which,
                     result.reason, describe_serving(result.serving, result.serving_pid));
}

std::string render_restart_json(const RestartResult& result) {
  return fmt::format(R"({{"schema":{},"restart":{}}})"
                     "\n",
                     kStatusSchema, restart_json_object(result));
}

std::string render_upgrade_text(const UpgradeResult& result) {
  const std::string serving =
      result.serving ? fmt::format("generation {} serves on", *result.serving) : "nothing serves";
  if (result.succeeded)
    return fmt::format("upgraded in {}: reuserun pid {} runs {}; {}\n",
                       human_duration(result.duration_seconds), result.pid, result.executable,
                       serving);
  return fmt::format("upgrade failed: {}; reuserun pid {} runs on as it was; {}\n", result.reason,
                     result.pid, serving);
}

std::string render_upgrade_json(const UpgradeResult& result) {
  return fmt::format(
      R"({{"schema":{},"upgrade":{{"succeeded":{},"reason":{},"pid":{},"executable":{},)"
      R"("previous_executable":{},"duration_seconds":{},"upgrades":{},"serving_generation":{}}}}})"
      "\n",
      kStatusSchema, result.succeeded, json_string(result.reason), result.pid,
      json_string(result.executable), json_string(result.previous_executable),
      json_seconds(result.duration_seconds), result.upgrades, json_optional(result.serving));
}

}  // namespace reuserun
