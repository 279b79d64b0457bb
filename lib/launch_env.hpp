// The environment of what reuserun starts on the children's behalf: each child, and the exec:
// gates that judge it (which run as the children would: same identity, same variables).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "child_env.hpp"
#include "config.hpp"
#include "env_file.hpp"
#include "result.hpp"

namespace reuserun {

struct LaunchPlace {
  unsigned long generation = 0;
  unsigned slot = 0;
  std::vector<std::uint16_t> tcp_ports;  // reuserun's: the orphan marker (freeing_rule.hpp)
};

// The children's identity, for reading files on their behalf (--env-file).
FileReader children_reader(const Config& config);

// Adds, in this order (a later one wins): HOME, USER and LOGNAME of --user's passwd entry, the
// --env-file (read now, as the children's user), each --env, then REUSERUN_GENERATION,
// REUSERUN_WORKER and REUSERUN_PORTS. An Error when the env file cannot be read.
std::optional<Error> add_launch_variables(ChildEnv& env, const Config& config,
                                          const LaunchPlace& place);

}  // namespace reuserun
