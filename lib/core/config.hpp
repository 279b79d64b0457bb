// Everything the command line decides, in one value: the CLI builds it, run() obeys it.
#pragma once

#include <sys/socket.h>

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "child_protocols.hpp"
#include "duration.hpp"
#include "freeing_rule.hpp"
#include "listen_spec.hpp"
#include "log_level.hpp"
#include "gate_spec.hpp"

namespace reuserun {

struct Config {
  // --port/--bind first, then each --listen, in order: fds 3, 4, ... Empty only when
  // socket-activated (activation.hpp).
  std::vector<ListenSpec> listen;
  bool ipv6_only = false;
  std::vector<Protocol> protocols{Protocol::systemd};  // how children learn about their sockets
  int backlog = SOMAXCONN;
  FreePortMode free_port = FreePortMode::safe;
  ReadinessConfig readiness;
  Duration ready_timeout = std::chrono::seconds(30);
  Duration drain_timeout = std::chrono::seconds(30);
  Duration stop_timeout = std::chrono::seconds(10);
  int stop_signal = SIGTERM;
  int restart_signal = SIGHUP;  // --restart-signal
  std::vector<std::string> watch;                  // --watch: a change restarts
  Duration watch_settle = std::chrono::seconds(1);  // --watch-settle
  Duration watchdog{0};  // --watchdog: each generation's WATCHDOG_USEC (zero: none)
  unsigned workers = 1;    // children per generation
  unsigned max_surge = 1;  // new workers starting at once during a restart
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::text;
  std::string pid_file;  // empty: none
  // A child subreaper: what a generation forks is reparented to reuserun, which reaps it, names a
  // command that daemonizes, and stops what the generations leave behind (issue 27, finding 1).
  bool subreaper = true;
  int start_attempts = 0;   // --start-attempts: 0 never gives up (SupervisorConfig)
  bool nonblocking = false;  // --nonblocking: O_NONBLOCK on the shared sockets
  // --pdeathsig: children get SIGTERM when reuserun dies. Off by default: a killed reuserun's
  // children keep serving, and the next reuserun for the port adopts them (orphans.hpp).
  bool pdeathsig = false;
  bool bind_takeover = true;           // a child's own bind() of our port gets the shared socket
  std::string control_socket;          // empty: the default path (control.hpp)
  std::string reexec_as;               // --reexec-as: what an upgrade executes (empty: upgrade.hpp)
  std::vector<std::string> arguments;  // reuserun's own argv: an upgrade executes it again
  std::optional<int> upgrade_check_fd;  // --upgrade-check FD: only check an upgrade's handover
  // The children's identity and environment (reuserun's own when unset).
  std::optional<uid_t> user;
  std::optional<gid_t> group;
  std::vector<gid_t> groups;                             // the user's supplementary groups
  std::string user_name, user_home;                      // --user's passwd entry: USER, HOME
  std::string directory;                                 // --chdir
  std::vector<std::pair<std::string, std::string>> env;  // --env, applied after --env-file
  std::string env_file;                                  // read before each generation
  std::vector<std::string> command;                      // the child's argv, verbatim
};

}  // namespace reuserun
