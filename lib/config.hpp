// Everything the command line decides, in one value: the CLI builds it, run() obeys it.
#pragma once

#include <sys/socket.h>

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "duration.hpp"
#include "log.hpp"
#include "readiness.hpp"

namespace reuserun {

struct Config {
  std::optional<std::uint16_t> port;  // nullopt only when socket-activated (activation.hpp)
  std::optional<SocketAddress> bind;  // nullopt: every address
  int backlog = SOMAXCONN;
  bool free_port = true;
  ReadinessConfig readiness;
  Duration ready_timeout = std::chrono::seconds(30);
  Duration drain_timeout = std::chrono::seconds(30);
  Duration stop_timeout = std::chrono::seconds(10);
  int stop_signal = SIGTERM;
  LogLevel log_level = LogLevel::info;
  std::string pid_file;  // empty: none
  bool subreaper = false;
  bool pdeathsig = true;       // children get SIGTERM when reuserun dies
  std::string control_socket;  // empty: the default path (control.hpp)            // adopt and reap
                               // orphans of the children (automatic as PID 1)
  std::vector<std::string> command;  // the child's argv, verbatim
};

}  // namespace reuserun
