// reuserun: parse, log, run (lib/run.cpp), or talk to a running reuserun (`reuserun ctl`).
#include <iostream>

#include "cli.hpp"
#include "control.hpp"
#include "log.hpp"
#include "run.hpp"
#include "upgrade.hpp"

namespace {

int run_ctl(const reuserun::CtlCommand& ctl) {
  std::string socket = ctl.socket;
  if (socket.empty() && ctl.port) {
    // The default directory is trusted only as the server trusts it: another user's would let
    // them answer in reuserun's place.
    const std::string directory = reuserun::default_control_directory();
    if (auto checked = reuserun::check_control_directory(directory);
        !checked && checked.error().code == EPERM) {
      std::cerr << "reuserun ctl: " << checked.error().message
                << " (name the socket with --control-socket)\n";
      return reuserun::kCtlUnreachable;
    }
    socket = reuserun::default_control_socket(std::to_string(*ctl.port));
  }
  if (socket.empty()) {
    auto found = reuserun::find_control_socket();
    if (!found) {
      std::cerr << "reuserun ctl: " << found.error().message << "\n";
      return reuserun::kCtlUnreachable;
    }
    socket = found.value();
  }
  return reuserun::send_control_request(socket, ctl.request, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  const auto command_line = reuserun::parse_command_line(argc, argv, std::cout, std::cerr);
  if (command_line.ctl) return run_ctl(*command_line.ctl);
  if (!command_line.config) return command_line.exit_code;
  reuserun::init_logging(command_line.config->log_level, command_line.config->log_format);
  // Started by an upgrade (upgrade.hpp): as its check run, or as the new image.
  if (const auto fd = command_line.config->upgrade_check_fd)
    return reuserun::check_handover(*fd);
  if (const auto fd = reuserun::take_fd_variable(reuserun::kHandoverFdVariable))
    return reuserun::resume(*command_line.config, *fd);
  return reuserun::run(*command_line.config);
}
