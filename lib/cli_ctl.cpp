// `reuserun ctl ...`: its own small command line (cli.hpp).
#include <CLI/CLI.hpp>
#include <ostream>
#include <sstream>

#include "cli.hpp"
#include "cli_help.hpp"
#include "control.hpp"
#include "exit_code.hpp"
#include "status.hpp"

namespace reuserun {
namespace {

constexpr const char* kCtlDescription =
    "Asks a running reuserun, over its control socket, to restart its command or to upgrade "
    "itself in place, and waits for the outcome; or prints its status.";

}  // namespace

CommandLine parse_ctl_command_line(int argc, const char* const* argv, std::ostream& out,
                                   std::ostream& err) {
  CLI::App app(kCtlDescription, "reuserun ctl");
  set_help_format(app, {kCtlUsage}, ctl_help_footer());
  std::string socket;
  int port = -1;
  bool json = false;
  std::string verb;
  app.add_option("--control-socket", socket, "Path of reuserun's control socket")
      ->envname("REUSERUN_CONTROL_SOCKET")
      ->type_name("PATH");
  app.add_option("--port", port, "The port reuserun listens on: its socket's default name")
      ->envname("REUSERUN_PORT")
      ->check(in_range(0, 65535))
      ->type_name("PORT");
  app.add_flag("--json", json, "Print the answer as JSON (schema in reuserun(1))");
  app.add_option("request", verb, "restart, status or upgrade")->required();
  try {
    app.parse(argc, argv);
    CtlCommand ctl;
    const auto parsed = parse_control_verb(verb);
    if (!parsed) {
      err << "reuserun ctl: unknown ctl request '" << verb
          << "': expected restart, status or upgrade\n";
      return {std::nullopt, std::nullopt, kExitUsage};
    }
    ctl.request.verb = *parsed;
    ctl.request.json = json;
    ctl.socket = socket;
    if (port >= 0) ctl.port = static_cast<std::uint16_t>(port);
    return {std::nullopt, ctl, kExitOk};
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return {std::nullopt, std::nullopt, kExitOk};
  } catch (const CLI::ParseError& error) {
    err << "reuserun ctl: " << error.what() << "\n";
  }
  return {std::nullopt, std::nullopt, kExitUsage};
}

int run_ctl(const CtlCommand& ctl, std::ostream& out, std::ostream& err) {
  std::ostringstream unreachable;
  std::ostream& errors = ctl.request.json ? unreachable : err;
  const int code = ctl.socket.empty()
                       ? send_to_default_control_socket(ctl.port, ctl.request, out, errors)
                       : send_control_request(ctl.socket, ctl.request, out, errors);
  if (!ctl.request.json) return code;
  std::string said = unreachable.str();
  err << said;
  if (code == kCtlUnreachable) {
    while (!said.empty() && said.back() == '\n') said.pop_back();
    if (said.starts_with("reuserun ctl: ")) said.erase(0, 14);
    out << "{\"schema\":" << kStatusSchema << ",\"error\":" << json_string(said) << "}\n";
  }
  return code;
}

}  // namespace reuserun
