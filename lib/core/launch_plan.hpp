// What a worker is started with, decided before anything runs (ninja's Builder decides, its
// CommandRunner runs): config + the handed sockets + generation and slot -> argv, the variables to
// add to the inherited environment, the LISTEN_FDNAMES. A pure function; the event loop reads
// the env file (env_file.hpp), opens the notify socket and spawns. The exec: gates get the same variables
// (launch_variables): they run as the children do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "child_protocols.hpp"
#include "config.hpp"
#include "env_text.hpp"
#include "result.hpp"

namespace reuserun {

struct LaunchPlace {
  unsigned long generation = 0;
  unsigned slot = 0;
  std::vector<std::uint16_t> inet_ports;  // reuserun's TCP, UDP: the orphan marker
};

struct LaunchPlan {
  std::vector<std::string> argv;             // {fd} and {fd:NAME} replaced
  std::vector<std::string> listen_fd_names;  // empty: no LISTEN_* (systemd protocol off)
  EnvPairs variables;                        // in order: a later one wins
};

// In this order (a later one wins): HOME, USER and LOGNAME of --user's passwd entry, the env
// file's pairs, each --env, then REUSERUN_GENERATION, REUSERUN_WORKER and REUSERUN_PORTS.
EnvPairs launch_variables(const Config& config, const LaunchPlace& place, const EnvPairs& env_file);

// The protocols' variables, then launch_variables. An error names an unknown {fd:NAME}.
Result<LaunchPlan> plan_launch(const Config& config, const std::vector<HandedSocket>& sockets,
                               const LaunchPlace& place, const EnvPairs& env_file);

}  // namespace reuserun
