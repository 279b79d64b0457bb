// reuserun: parse, log, run. See lib/run.cpp for what running means.
#include <iostream>

#include "cli.hpp"
#include "log.hpp"
#include "run.hpp"

int main(int argc, char** argv) {
  const auto command_line = reuserun::parse_command_line(argc, argv, std::cout, std::cerr);
  if (!command_line.config) return command_line.exit_code;
  reuserun::init_logging(command_line.config->log_level);
  return reuserun::run(*command_line.config);
}
