// reuserun: parse, log, run (lib/run.cpp), or talk to a running reuserun (`reuserun ctl`).
#include <cerrno>
#include <iostream>

#include "cli.hpp"
#include "control.hpp"
#include "log.hpp"
#include "run.hpp"
#include "upgrade.hpp"

namespace {

int run_ctl(const reuserun::CtlCommand& ctl) {
  if (!ctl.socket.empty())
    return reuserun::send_control_request(ctl.socket, ctl.request, std::cout, std::cerr);
  // The default directory is trusted only as the server trusts it, and held by an fd while the
  // socket in it is reached: another user's would let them answer in reuserun's place.
  const std::string directory = reuserun::default_control_directory();
  const auto opened = reuserun::open_control_directory(directory);
  if (!opened && opened.error().code == ENOENT) {
    std::cerr << "reuserun ctl: no control socket "
              << (ctl.port ? "at " + reuserun::default_control_socket(std::to_string(*ctl.port))
                           : "in " + directory)
              << ": is reuserun running? (--control-socket)\n";
    return reuserun::kCtlUnreachable;
  }
  if (!opened) {
    std::cerr << "reuserun ctl: " << opened.error().message
              << (opened.error().code == EPERM ? " (name the socket with --control-socket)" : "")
              << "\n";
    return reuserun::kCtlUnreachable;
  }
  const int fd = opened.value().get();
  std::string name = ctl.port ? std::to_string(*ctl.port) + ".sock" : "";
  if (name.empty()) {
    auto found = reuserun::find_control_socket(fd, directory);
    if (!found) {
      std::cerr << "reuserun ctl: " << found.error().message << "\n";
      return reuserun::kCtlUnreachable;
    }
    name = found.value();
  }
  return reuserun::send_control_request(reuserun::path_through(fd, directory, name), ctl.request,
                                        std::cout, std::cerr, directory + "/" + name);
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
