// Run mode's options as typed (`reuserun [OPTIONS] [--] COMMAND`): for each, its name, help
// line, REUSERUN_* fallback, default and --help group. cli.cpp converts and checks the values
// into a Config; man/reuserun.1 and completions/ document the same names (tests/cli_drift_test.sh).
#pragma once

#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace reuserun {

// The values as typed; converted and checked after parsing so that every bad value gets one
// line that names the option.
struct RawOptions {
  int port = -1;
  std::string bind;
  std::vector<std::string> listen;
  bool ipv6_only = false;
  std::vector<std::string> protocol{"systemd"};
  int backlog = SOMAXCONN;
  std::string free_port = "safe";
  bool no_free_port = false;
  std::string ready_timeout = "30s";
  std::vector<std::string> ready{"auto"};
  std::string ready_interval = "50ms";
  std::string ready_host;
  bool strict_adoption = false;
  std::string drain_timeout = "30s";
  std::string stop_timeout = "10s";
  std::string stop_signal = "TERM";
  std::string restart_signal = "HUP";
  std::vector<std::string> watch;
  std::string watch_settle = "1s";
  std::string watchdog = "0";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string pid_file;
  bool subreaper = true;  // the default; --subreaper is kept for the command lines that say it
  bool no_subreaper = false;
  std::string start_attempts;  // "" until given: the default depends on the terminal
  bool nonblocking = false;
  std::string control_socket;
  std::string reexec_as;
  int upgrade_check = -1;
  bool pdeathsig = false;
  bool no_pdeathsig = false;
  bool no_bind_takeover = false;
  unsigned workers = 1;
  unsigned max_surge = 1;
  std::string user;
  std::string group;
  std::string directory;
  std::vector<std::string> env;
  std::string env_file;
};

// Declares every run-mode option of `app`, each writing into `raw`.
void add_run_options(CLI::App& app, RawOptions& raw);

}  // namespace reuserun
