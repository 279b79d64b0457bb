#include "service_view.hpp"

#include <fmt/format.h>

namespace reuserun {

void describe_workers(const Supervisor& supervisor, std::int64_t now_ns, bool restarted,
                      const std::function<std::string(WorkerKey)>& bound_itself, Status& out) {
  const auto serving = supervisor.serving();
  if (supervisor.stopping())
    out.state = "stopping";
  else if (serving && supervisor.candidate())
    out.state = "restarting";
  else if (serving)
    out.state = "serving";
  else if (supervisor.candidate() && !restarted)
    out.state = "starting";
  else
    out.state = "down";
  for (const auto& [key, child] : supervisor.children())
    out.generations.push_back(
        {key.generation, child.pid, key.slot, child.phase,
         child.spawned_at_ns == 0 ? 0.0 : static_cast<double>(now_ns - child.spawned_at_ns) / 1e9,
         child.ready_by, bound_itself(key)});
  out.serving = serving;
  out.workers = supervisor.config().workers;
}

std::vector<pid_t> serving_pids(const Supervisor& supervisor) {
  std::vector<pid_t> pids;
  const auto serving = supervisor.serving();
  for (const auto& [key, child] : supervisor.children())
    if (serving && key.generation == *serving && child.phase == Phase::serving)
      pids.push_back(child.pid);
  return pids;
}

std::string describe_serving(const Supervisor& supervisor) {
  const auto serving = supervisor.serving();
  if (!serving) return "no generation";
  const auto pids = serving_pids(supervisor);
  return fmt::format("generation {} (pid{} {})", *serving, pids.size() == 1 ? "" : "s",
                     fmt::join(pids, ", "));
}

std::string describe_workers_left(const Supervisor& supervisor) {
  std::string waiting;
  for (const auto& [key, child] : supervisor.children())
    waiting += fmt::format("{}generation {} (pid {})", waiting.empty() ? "" : ", ", key.generation,
                           child.pid);
  return waiting;
}

}  // namespace reuserun
