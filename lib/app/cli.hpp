// The command line: argv (and REUSERUN_* environment fallbacks) to a Config. Every option
// (cli_options.hpp) is documented in man/reuserun.1 and completed by completions/;
// tests/integration/cli_test.cpp keeps them in step.
#pragma once

#include <iosfwd>
#include <optional>

#include "config.hpp"
#include "control.hpp"

namespace reuserun {

// `reuserun ctl [--control-socket PATH | --port PORT] [--json] restart|status`.
struct CtlCommand {
  ControlRequest request;
  std::string socket;  // empty: by --port, else the only one in the default directory
  std::optional<std::uint16_t> port;
};

// Runs `reuserun ctl`: the answer on `out` (or `err`), its exit status. With --json, a
// reuserun that cannot be reached is one JSON object on `out` as well ({"schema":1,
// "error":"..."}), besides the line on `err`: the man page promises JSON whatever the outcome.
int run_ctl(const CtlCommand& ctl, std::ostream& out, std::ostream& err);

struct CommandLine {
  std::optional<Config> config;   // set when reuserun should run
  std::optional<CtlCommand> ctl;  // set for `reuserun ctl ...` (only ever as the first argument)
  int exit_code = 0;              // otherwise: exit with this (0 after --help / --version)
};

// Prints --help and --version to `out`, errors (one line) to `err`.
CommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err);

// --start-attempts when not given (issue 27, finding 3): someone at a terminal watching a first
// start fail for ever learns nothing more from the fourth try, so reuserun gives up and says
// why; a supervisor (systemd: INVOCATION_ID or NOTIFY_SOCKET; anything without a terminal) has
// its own restart policy and expects reuserun to keep trying. 0: never give up.
inline constexpr int kTerminalStartAttempts = 3;
int default_start_attempts(bool terminal, bool supervised);

// The words after `ctl` (argv[0] is "ctl"): cli_ctl.cpp.
CommandLine parse_ctl_command_line(int argc, const char* const* argv, std::ostream& out,
                                   std::ostream& err);

}  // namespace reuserun
