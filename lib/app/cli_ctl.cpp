// `reuserun ctl ...`: its own small command line (cli.hpp).
#include <CLI/CLI.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cli_help.hpp"
#include "control.hpp"
#include "control_client.hpp"
#include "exit_code.hpp"
#include "status.hpp"

namespace reuserun {
namespace {

constexpr const char* kCtlDescription =
    "Asks a running reuserun, over its control socket, to restart its command or to upgrade "
    "itself in place, and waits for the outcome; or prints its status.";

constexpr const char* kCtlProgram = "reuserun ctl";

// The request, and the words CLI11 did not take: a typo is worded as the main parser words one.
ControlRequest::Verb request_verb(const std::string& verb, const std::vector<std::string>& extra) {
  if (!extra.empty() && extra.front().starts_with("-"))
    throw UsageError{unknown_word(kCtlProgram, "option", extra.front())};
  if (verb.empty()) throw UsageError{std::string("no request given: usage: ") + kCtlUsage};
  const auto parsed = parse_control_verb(verb);
  if (!parsed)
    throw UsageError{unknown_word(kCtlProgram, "request", verb, "restart, status or upgrade")};
  if (!extra.empty())
    throw UsageError{unknown_word(kCtlProgram, "word", extra.front(), "nothing after the request")};
  return *parsed;
}

}  // namespace

CommandLine parse_ctl_command_line(int argc, const char* const* argv, std::ostream& out,
                                   std::ostream& err) {
  CLI::App app(kCtlDescription, kCtlProgram);
  set_help_format(app, {kCtlUsage}, ctl_help_footer());
  // Unknown options are ours to word (request_verb), the same way as the main parser's.
  app.allow_extras();
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
  app.add_option("request", verb, "restart, status or upgrade");
  try {
    app.parse(argc, argv);
    CtlCommand ctl;
    ctl.request.verb = request_verb(verb, app.remaining());
    ctl.request.json = json;
    ctl.socket = socket;
    if (port >= 0) ctl.port = static_cast<std::uint16_t>(port);
    return {std::nullopt, ctl, kExitOk};
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return {std::nullopt, std::nullopt, kExitOk};
  } catch (const CLI::ParseError& error) {
    err << kCtlProgram << ": " << error.what() << "\n";
  } catch (const UsageError& error) {
    err << kCtlProgram << ": " << error.message << "\n";
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
