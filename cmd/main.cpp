// reuserun: parse, log, run (lib/app/run.cpp), or talk to a running reuserun (`reuserun ctl`).
#include <iostream>

#include "cli.hpp"
#include "log.hpp"
#include "run.hpp"
#include "crash_recovery.hpp"
#include "upgrade.hpp"

int main(int argc, char** argv) {
  const auto command_line = reuserun::parse_command_line(argc, argv, std::cout, std::cerr);
  if (command_line.ctl) return reuserun::run_ctl(*command_line.ctl, std::cout, std::cerr);
  if (!command_line.config) return command_line.exit_code;
  reuserun::init_logging(command_line.config->log_level, command_line.config->log_format);
  // Started by an upgrade (upgrade.hpp): as its check run, or as the new image.
  if (const auto fd = command_line.config->upgrade_check_fd)
    return reuserun::check_handover(*fd);
  if (const auto fd = reuserun::take_fd_variable(reuserun::kHandoverFdVariable))
    return reuserun::resume(*command_line.config, *fd);
  // Started by the handler of a fatal signal of reuserun's own (crash_recovery.hpp).
  if (const auto crash = reuserun::take_recovery_variable())
    return reuserun::recover(*command_line.config, *crash);
  return reuserun::run(*command_line.config);
}
