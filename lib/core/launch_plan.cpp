#include "launch_plan.hpp"

#include <algorithm>

namespace reuserun {

EnvPairs launch_variables(const Config& config, const LaunchPlace& place,
                          const EnvPairs& env_file) {
  EnvPairs variables;
  // A server run as another user must not believe root's home is its own.
  if (config.user) {
    variables.emplace_back("HOME", config.user_home);
    variables.emplace_back("USER", config.user_name);
    variables.emplace_back("LOGNAME", config.user_name);
  }
  variables.insert(variables.end(), env_file.begin(), env_file.end());
  variables.insert(variables.end(), config.env.begin(), config.env.end());
  variables.emplace_back("REUSERUN_GENERATION", std::to_string(place.generation));
  variables.emplace_back("REUSERUN_WORKER", std::to_string(place.slot));
  std::string ports;
  for (const auto port : place.inet_ports)
    ports += (ports.empty() ? "" : ",") + std::to_string(port);
  variables.emplace_back(std::string(kPortsMarker), ports);
  return variables;
}

Result<LaunchPlan> plan_launch(const Config& config, const std::vector<HandedSocket>& sockets,
                               const LaunchPlace& place, const EnvPairs& env_file) {
  auto argv = substitute_fds(config.command, sockets);
  if (!argv) return argv.error();
  LaunchPlan plan;
  plan.argv = std::move(argv.value());
  const bool systemd = std::find(config.protocols.begin(), config.protocols.end(),
                                 Protocol::systemd) != config.protocols.end();
  if (systemd)
    for (const HandedSocket& socket : sockets) plan.listen_fd_names.push_back(socket.name);
  plan.variables = protocol_variables(config.protocols, sockets, place.generation);
  const EnvPairs launch = launch_variables(config, place, env_file);
  plan.variables.insert(plan.variables.end(), launch.begin(), launch.end());
  return plan;
}

}  // namespace reuserun
