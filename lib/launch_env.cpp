#include "launch_env.hpp"

#include "env_file.hpp"

namespace reuserun {

FileReader children_reader(const Config& config) {
  return {config.user, config.group, config.groups};
}

std::optional<Error> add_launch_variables(ChildEnv& env, const Config& config,
                                          const LaunchPlace& place) {
  // A server run as another user must not believe root's home is its own.
  if (config.user) {
    env.set("HOME", config.user_home);
    env.set("USER", config.user_name);
    env.set("LOGNAME", config.user_name);
  }
  // Read again for every generation: a deploy changes the file, the next generation sees it.
  if (!config.env_file.empty()) {
    auto pairs = read_env_file(config.env_file, children_reader(config));
    if (!pairs) return pairs.error();
    for (const auto& [key, value] : pairs.value()) env.set(key, value);
  }
  for (const auto& [key, value] : config.env) env.set(key, value);
  env.set("REUSERUN_GENERATION", std::to_string(place.generation));
  env.set("REUSERUN_WORKER", std::to_string(place.slot));
  std::string ports;
  for (const auto port : place.tcp_ports) ports += (ports.empty() ? "" : ",") + std::to_string(port);
  env.set(kPortsMarker, ports);
  return std::nullopt;
}

}  // namespace reuserun
