// The command line: argv (and REUSERUN_* environment fallbacks) to a Config. Every option here
// is documented in man/reuserun.1 and completed by completions/; tests/integration/cli_test.cpp
// keeps them in step.
#pragma once

#include <iosfwd>
#include <optional>

#include "config.hpp"

namespace reuserun {

struct CommandLine {
  std::optional<Config> config;  // set when reuserun should run
  int exit_code = 0;             // otherwise: exit with this (0 after --help / --version)
};

// Prints --help and --version to `out`, errors (one line) to `err`.
CommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err);

}  // namespace reuserun
