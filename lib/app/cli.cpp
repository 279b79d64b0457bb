#include "cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "accounts.hpp"
#include "activation.hpp"
#include "cli_help.hpp"
#include "cli_options.hpp"
#include "env_file.hpp"
#include "exit_code.hpp"
#include "launch_plan.hpp"
#include "signal_name.hpp"
#include "text.hpp"
#include "upgrade.hpp"

namespace reuserun {
namespace {

constexpr const char* kVersion = "reuserun 0.1.0";

constexpr const char* kDescription =
    "Runs COMMAND with a listening socket handed over by the systemd socket-activation protocol "
    "(fd 3, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), and restarts it on SIGHUP without dropping "
    "a connection: the new generation must pass its readiness gate before the old one gets the "
    "stop signal.";

Duration duration_option(const std::string& option, const std::string& text) {
  if (const auto value = parse_duration(text)) return *value;
  throw UsageError{"invalid value '" + text + "' for " + option +
                   ": expected a duration such as 500ms, 5s, 1.5s or 2m"};
}

// owner= of a unix --listen, by name from the account database.
AccountNames account_names() {
  return {[](std::string_view user) -> std::optional<uid_t> {
            const auto account = find_user(user);
            return account ? std::optional(account->uid) : std::nullopt;
          },
          [](std::string_view group) { return find_group(group); }};
}

// --start-attempts N (at least 1) or unlimited (0 inside).
int start_attempts_option(const std::string& text) {
  if (text == "unlimited") return 0;
  int attempts = 0;
  if (parse_number(text, attempts) && attempts >= 1 && attempts <= 1000000) return attempts;
  throw UsageError{"invalid value '" + text +
                   "' for --start-attempts: expected a number of attempts (1 or more) or unlimited"};
}

// --user: uid, its primary group and its groups; --group overrides the primary.
void set_identity(const RawOptions& raw, Config& config) {
  if (!raw.user.empty()) {
    const auto account = find_user(raw.user);
    if (!account) throw UsageError{"invalid value '" + raw.user + "' for --user: no such user"};
    config.user = account->uid;
    config.group = account->gid;
    config.groups = account->groups;
    config.user_name = account->name;
    config.user_home = account->home;
  }
  if (!raw.group.empty()) {
    config.group = find_group(raw.group);
    if (!config.group)
      throw UsageError{"invalid value '" + raw.group + "' for --group: no such group"};
    // --group alone: exactly that group, none of reuserun's own supplementary groups.
    if (!config.user) config.groups = {*config.group};
  }
}

Config to_config(const RawOptions& raw, std::vector<std::string> command) {
  Config config;
  if (raw.port >= 0) {
    ListenSpec first;
    first.port = static_cast<std::uint16_t>(raw.port);
    if (!raw.bind.empty()) {
      first.address = parse_ip_address(raw.bind, first.port);
      if (!first.address)
        throw UsageError{"invalid value '" + raw.bind +
                         "' for --bind: expected an IP address such as 127.0.0.1 or ::1"};
    }
    config.listen.push_back(first);
  } else if (!raw.bind.empty()) {
    throw UsageError{"--bind needs --port (or use --listen ADDRESS:PORT)"};
  }
  for (const auto& text : raw.listen) {
    auto spec = parse_listen_spec(text, account_names());
    if (!spec) throw UsageError{spec.error().message};
    config.listen.push_back(spec.value());
  }
  // An upgrade's new image (and its check) gets the sockets from the handover.
  if (config.listen.empty() && !socket_activated() && !handover_expected() && raw.upgrade_check < 0)
    throw UsageError{
        "--port or --listen is required (unless reuserun is socket-activated: LISTEN_FDS)"};
  config.ipv6_only = raw.ipv6_only;
  config.protocols.clear();
  for (const auto& text : raw.protocol) {
    const auto protocols = parse_protocols(text);
    if (!protocols)
      throw UsageError{"invalid value '" + text +
                       "' for --protocol: expected systemd, einhorn, server-starter or nginx"};
    for (const Protocol protocol : *protocols)
      if (std::find(config.protocols.begin(), config.protocols.end(), protocol) ==
          config.protocols.end())
        config.protocols.push_back(protocol);
  }
  config.backlog = raw.backlog;
  const auto free_port = parse_free_port_mode(raw.free_port);
  if (!free_port)
    throw UsageError{"invalid value '" + raw.free_port +
                     "' for --free-port: expected safe, force or off"};
  config.free_port = raw.no_free_port ? FreePortMode::off : *free_port;
  config.ready_timeout = duration_option("--ready-timeout", raw.ready_timeout);
  config.readiness.gates.clear();
  for (const auto& text : raw.ready) {
    const auto gate = parse_gate_spec(text);
    if (!gate)
      throw UsageError{"invalid value '" + text +
                       "' for --ready: expected auto, notify, accept, http:/PATH, exec:COMMAND "
                       "or delay:DURATION"};
    config.readiness.gates.push_back(*gate);
  }
  // The accept and http gates probe a TCP listener (the first).
  const bool has_tcp = config.listen.empty() ||  // activated: checked when adopted
                       std::any_of(config.listen.begin(), config.listen.end(),
                                   [](const auto& l) { return l.kind == ListenSpec::Kind::tcp; });
  if (const std::string misfit = gates_without_tcp(config.readiness.gates, has_tcp);
      !misfit.empty())
    throw UsageError{misfit};
  config.readiness.interval = duration_option("--ready-interval", raw.ready_interval);
  config.readiness.http_host = raw.ready_host;
  config.readiness.strict_adoption = raw.strict_adoption;
  config.drain_timeout = duration_option("--drain-timeout", raw.drain_timeout);
  config.stop_timeout = duration_option("--stop-timeout", raw.stop_timeout);
  const auto sig = parse_signal(raw.stop_signal);
  if (!sig)
    throw UsageError{"invalid value '" + raw.stop_signal +
                     "' for --stop-signal: expected a signal name such as TERM or a number"};
  config.stop_signal = *sig;
  // Only a signal reuserun listens for and that means nothing else to it: not TERM or INT
  // (stop), USR2 (upgrade), CHLD.
  const auto restart = parse_signal(raw.restart_signal);
  if (!restart || !is_restart_signal_choice(*restart))
    throw UsageError{"invalid value '" + raw.restart_signal +
                     "' for --restart-signal: expected HUP, USR1, WINCH, TTIN or TTOU"};
  config.restart_signal = *restart;
  config.watch = raw.watch;
  config.watch_settle = duration_option("--watch-settle", raw.watch_settle);
  for (const std::string& path : config.watch)
    if (path.empty()) throw UsageError{"--watch: the path is empty"};
  config.watchdog = duration_option("--watchdog", raw.watchdog);
  const auto level = parse_log_level(raw.log_level);
  if (!level)
    throw UsageError{"invalid value '" + raw.log_level +
                     "' for --log-level: expected trace, debug, info, warn, error or off"};
  config.log_level = *level;
  const auto format = parse_log_format(raw.log_format);
  if (!format)
    throw UsageError{"invalid value '" + raw.log_format +
                     "' for --log-format: expected text or json"};
  config.log_format = *format;
  config.pid_file = raw.pid_file;
  config.subreaper = !raw.no_subreaper;
  config.start_attempts =
      raw.start_attempts.empty()
          ? default_start_attempts(::isatty(STDIN_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1,
                                   std::getenv("INVOCATION_ID") != nullptr ||
                                       std::getenv("NOTIFY_SOCKET") != nullptr)
          : start_attempts_option(raw.start_attempts);
  config.nonblocking = raw.nonblocking;
  config.control_socket = raw.control_socket;
  if (raw.upgrade_check >= 0) config.upgrade_check_fd = raw.upgrade_check;
  // A path is kept absolute (the binary is looked up at each upgrade, in PATH for a name).
  config.reexec_as = raw.reexec_as.find('/') == std::string::npos
                         ? raw.reexec_as
                         : std::filesystem::absolute(raw.reexec_as).lexically_normal().string();
  set_identity(raw, config);
  config.directory = raw.directory;
  if (!config.directory.empty() && !std::filesystem::is_directory(config.directory))
    throw UsageError{"invalid value '" + config.directory + "' for --chdir: not a directory"};
  for (const auto& text : raw.env) {
    const auto assignment = parse_env_assignment(text);
    if (!assignment) throw UsageError{"invalid value '" + text + "' for --env: expected KEY=VALUE"};
    config.env.push_back(*assignment);
  }
  config.env_file = raw.env_file;
  if (!config.env_file.empty()) {
    if (auto read = read_env_file(config.env_file, children_reader(config)); !read)
      throw UsageError{read.error().message};
  }
  config.pdeathsig = raw.pdeathsig;
  config.bind_takeover = !raw.no_bind_takeover;
  config.workers = raw.workers;
  config.max_surge = std::min(raw.max_surge, raw.workers);
  if (command.empty()) throw UsageError{std::string("no command given: usage: ") + kRunUsage};
  config.command = std::move(command);
  return config;
}

}  // namespace

int default_start_attempts(bool terminal, bool supervised) {
  return terminal && !supervised ? kTerminalStartAttempts : 0;
}

CommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err) {
  // `ctl` as the first word, and only there: a child command named ctl is `reuserun -- ctl`
  // (run mode needs --port first anyway).
  if (argc > 1 && std::string_view(argv[1]) == "ctl")
    return parse_ctl_command_line(argc - 1, argv + 1, out, err);
  CLI::App app(kDescription, "reuserun");
  // Everything from the first word that is not one of our options (or after "--") is the
  // child's command line, untouched: its own --flags are never ours.
  app.prefix_command();
  app.set_version_flag("--version", kVersion)->group(help_group::kHelp);
  set_help_format(app, {kRunUsage, kCtlUsage}, run_help_footer());
  app.get_help_ptr()->group(help_group::kHelp);
  RawOptions raw;
  add_run_options(app, raw);
  try {
    app.parse(argc, argv);
    std::vector<std::string> command = app.remaining();
    if (!command.empty() && command.front() == "--")
      command.erase(command.begin());
    else if (!command.empty() && command.front().starts_with("-"))
      // Not one of ours and not after "--": a typo, not a command that starts with a dash.
      throw UsageError{unknown_word("reuserun", "option", command.front())};
    Config config = to_config(raw, std::move(command));
    config.arguments.assign(argv, argv + argc);
    return {std::move(config), std::nullopt, kExitOk};
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return {std::nullopt, std::nullopt, kExitOk};
  } catch (const CLI::CallForVersion&) {
    out << kVersion << "\n";
    return {std::nullopt, std::nullopt, kExitOk};
  } catch (const CLI::ParseError& error) {
    err << "reuserun: " << error.what() << "\n";
  } catch (const UsageError& error) {
    err << "reuserun: " << error.message << "\n";
  }
  return {std::nullopt, std::nullopt, kExitUsage};
}

}  // namespace reuserun
