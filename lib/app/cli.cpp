#include "cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "accounts.hpp"
#include "activation.hpp"
#include "cli_help.hpp"
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

// The values as typed; converted and checked after parsing so that every bad value gets one
// line that names the option.
struct RawOptions {
  int port = -1;
  std::string bind;
  std::vector<std::string> listen;
  bool ipv6_only = false;
  std::vector<std::string> protocol{"systemd"};
  int backlog = SOMAXCONN;
  std::string free_port = "safe";
  bool no_free_port = false;
  std::string ready_timeout = "30s";
  std::vector<std::string> ready{"auto"};
  std::string ready_interval = "50ms";
  std::string ready_host;
  bool strict_adoption = false;
  std::string drain_timeout = "30s";
  std::string stop_timeout = "10s";
  std::string stop_signal = "TERM";
  std::string watchdog = "0";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string pid_file;
  bool subreaper = true;  // the default; --subreaper is kept for the command lines that say it
  bool no_subreaper = false;
  std::string start_attempts;  // "" until given: the default depends on the terminal
  bool nonblocking = false;
  std::string control_socket;
  std::string reexec_as;
  int upgrade_check = -1;
  bool no_pdeathsig = false;
  bool no_bind_takeover = false;
  unsigned workers = 1;
  unsigned max_surge = 1;
  std::string user;
  std::string group;
  std::string directory;
  std::vector<std::string> env;
  std::string env_file;
};

void add_options(CLI::App& app, RawOptions& raw) {
  app.add_option("--port", raw.port, "TCP port to listen on (0: the kernel picks one)")
      ->envname("REUSERUN_PORT")
      ->check(in_range(0, 65535))
      ->type_name("PORT")
      ->group(help_group::kSockets);
  app.add_option("--bind", raw.bind,
                 "Address to listen on: an IPv4 or IPv6 literal; default every address "
                 "(dual-stack [::] where the machine has IPv6)")
      ->envname("REUSERUN_BIND")
      ->type_name("ADDR")
      ->group(help_group::kSockets);
  app.add_option("--listen", raw.listen,
                 "Another socket, repeatable, after --port's: PORT, ADDRESS:PORT, [IPv6]:PORT, "
                 "udp:PORT, udp:ADDRESS:PORT, unix:/PATH, unix-dgram:/PATH or "
                 "unix-seqpacket:/PATH, each with ,name=NAME (LISTEN_FDNAMES) and for unix "
                 ",mode=OCTAL ,owner=USER[:GROUP]")
      ->envname("REUSERUN_LISTEN")
      ->allow_extra_args(false)
      ->type_name("SPEC")
      ->group(help_group::kSockets);
  app.add_flag("--ipv6-only", raw.ipv6_only,
               "IPv6 sockets serve IPv6 only (default: [::] is dual-stack)")
      ->envname("REUSERUN_IPV6_ONLY")
      ->group(help_group::kSockets);
  app.add_option("--protocol", raw.protocol,
                 "How children learn about their sockets, repeatable or comma-separated: "
                 "systemd, einhorn, server-starter, nginx ({fd} and {fd:NAME} in the command are "
                 "replaced whatever the protocol)")
      ->envname("REUSERUN_PROTOCOL")
      ->allow_extra_args(false)
      ->capture_default_str()
      ->type_name("LIST")
      ->group(help_group::kSockets);
  app.add_flag("--nonblocking", raw.nonblocking,
               "Hand the sockets non-blocking (O_NONBLOCK, systemd's NonBlocking=): a server "
               "that waits in select or poll and then accepts never blocks in accept() on a "
               "connection another generation took")
      ->envname("REUSERUN_NONBLOCKING")
      ->group(help_group::kSockets);
  app.add_option("--backlog", raw.backlog, "Length of the listen queue")
      ->envname("REUSERUN_BACKLOG")
      ->check(in_range(1, 1 << 20))
      ->capture_default_str()
      ->type_name("N")
      ->group(help_group::kSockets);
  app.add_option("--free-port", raw.free_port,
                 "Who still listening on the port is asked to leave: safe (what is plausibly "
                 "ours: our cgroup, an orphan of an earlier reuserun, the invoking user's process "
                 "outside other services), force (anyone but PID 1 and our own tree) or off")
      ->envname("REUSERUN_FREE_PORT")
      ->capture_default_str()
      ->type_name("MODE")
      ->group(help_group::kSockets);
  app.add_flag("--no-free-port", raw.no_free_port, "The same as --free-port=off")
      ->envname("REUSERUN_NO_FREE_PORT")
      ->group(help_group::kSockets);
  app.add_option("--ready-timeout", raw.ready_timeout,
                 "How long a new generation may take to pass its readiness gate")
      ->envname("REUSERUN_READY_TIMEOUT")
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(help_group::kReadiness);
  app.add_option("--ready", raw.ready,
                 "Readiness gate of a new generation, repeatable (all must pass): auto, notify, "
                 "accept, http:PATH, exec:CMD or delay:DURATION")
      ->envname("REUSERUN_READY")
      ->allow_extra_args(false)  // one gate per --ready: the next word may be the command
      ->capture_default_str()
      ->type_name("GATE")
      ->group(help_group::kReadiness);
  app.add_option("--ready-interval", raw.ready_interval,
                 "Time between two probes of the accept, http and exec gates")
      ->envname("REUSERUN_READY_INTERVAL")
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(help_group::kReadiness);
  app.add_option("--ready-host", raw.ready_host,
                 "Host header of the http gate's request (default: the probed address)")
      ->envname("REUSERUN_READY_HOST")
      ->type_name("HOST")
      ->group(help_group::kReadiness);
  app.add_flag("--strict-adoption", raw.strict_adoption,
               "Fail a new generation that listens on the port with a socket of its own instead "
               "of the inherited one (default: warn)")
      ->envname("REUSERUN_STRICT_ADOPTION")
      ->group(help_group::kReadiness);
  app.add_option("--start-attempts", raw.start_attempts,
                 "Before a generation was ever ready, give up (exit 7) after this many failed "
                 "starts in a row; unlimited never gives up (default: 3 from a terminal, "
                 "unlimited under systemd or another supervisor)")
      ->envname("REUSERUN_START_ATTEMPTS")
      ->type_name("N")
      ->group(help_group::kReadiness);
  app.add_option("--drain-timeout", raw.drain_timeout,
                 "How long an old generation may drain after the stop signal before SIGKILL")
      ->envname("REUSERUN_DRAIN_TIMEOUT")
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(help_group::kStopping);
  app.add_option("--stop-timeout", raw.stop_timeout,
                 "On SIGTERM/SIGINT (and for a stale process on the port): time between the stop "
                 "signal and SIGKILL")
      ->envname("REUSERUN_STOP_TIMEOUT")
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(help_group::kStopping);
  app.add_option("--stop-signal", raw.stop_signal,
                 "Signal that asks a generation to drain and exit")
      ->envname("REUSERUN_STOP_SIGNAL")
      ->capture_default_str()
      ->type_name("SIGNAL")
      ->group(help_group::kStopping);
  app.add_option("--watchdog", raw.watchdog,
                 "Give each generation this watchdog interval (WATCHDOG_USEC, WATCHDOG_PID); a "
                 "serving worker that stops sending WATCHDOG=1 is treated as crashed (0: off)")
      ->envname("REUSERUN_WATCHDOG")
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(help_group::kReadiness);
  app.add_option("--pid-file", raw.pid_file,
                 "Write reuserun's pid to this file (atomically; removed at exit; refused while "
                 "another reuserun runs with it)")
      ->envname("REUSERUN_PID_FILE")
      ->type_name("FILE")
      ->group(help_group::kControl);
  app.add_flag("--subreaper", raw.subreaper,
               "Be a child subreaper (the default): what the children leave behind is "
               "reparented to reuserun, which reaps it, names a command that daemonizes and "
               "stops what the generations left when it stops")
      ->envname("REUSERUN_SUBREAPER")
      ->group(help_group::kChildren);
  app.add_flag("--no-subreaper", raw.no_subreaper,
               "Do not be a child subreaper: what the children leave behind escapes to init")
      ->envname("REUSERUN_NO_SUBREAPER")
      ->group(help_group::kChildren);
  app.add_option("--workers", raw.workers,
                 "Children per generation, sharing the sockets; a restart replaces them one by one "
                 "(a new worker ready, then an old one drains)")
      ->envname("REUSERUN_WORKERS")
      ->check(in_range(1, 1024))
      ->capture_default_str()
      ->type_name("N")
      ->group(help_group::kChildren);
  app.add_option("--max-surge", raw.max_surge,
                 "During a restart, how many new workers may be starting at once")
      ->envname("REUSERUN_MAX_SURGE")
      ->check(in_range(1, 1024))
      ->capture_default_str()
      ->type_name("K")
      ->group(help_group::kChildren);
  app.add_option("--user", raw.user,
                 "Run the children as this user (name or uid), with its groups: bind as root, "
                 "serve unprivileged")
      ->envname("REUSERUN_USER")
      ->type_name("USER")
      ->group(help_group::kChildren);
  app.add_option("--group", raw.group, "Run the children with this group (default: the user's)")
      ->envname("REUSERUN_GROUP")
      ->type_name("GROUP")
      ->group(help_group::kChildren);
  app.add_option("--chdir", raw.directory, "Start the children in this directory")
      ->envname("REUSERUN_CHDIR")
      ->type_name("DIR")
      ->group(help_group::kChildren);
  app.add_option("--env", raw.env, "KEY=VALUE for the children, repeatable (wins over --env-file)")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE")
      ->group(help_group::kChildren);
  app.add_option("--env-file", raw.env_file,
                 "KEY=VALUE lines for the children, read again before each generation starts")
      ->envname("REUSERUN_ENV_FILE")
      ->type_name("FILE")
      ->group(help_group::kChildren);
  app.add_flag("--no-pdeathsig", raw.no_pdeathsig,
               "Do not have the children killed (SIGTERM) when reuserun dies: they keep serving "
               "on the inherited socket, unsupervised")
      ->envname("REUSERUN_NO_PDEATHSIG")
      ->group(help_group::kChildren);
  app.add_flag("--no-bind-takeover", raw.no_bind_takeover,
               "Do not give the shared socket to a child that binds the port itself (a seccomp "
               "filter in the children; without root it sets no_new_privs in them)")
      ->envname("REUSERUN_NO_BIND_TAKEOVER")
      ->group(help_group::kSockets);
  app.add_option("--control-socket", raw.control_socket,
                 "Path of the control socket for `reuserun ctl` (default: "
                 "$XDG_RUNTIME_DIR/reuserun/PORT.sock, else /run/reuserun/PORT.sock when that "
                 "directory is ours, else /tmp/reuserun-UID/PORT.sock)")
      ->envname("REUSERUN_CONTROL_SOCKET")
      ->type_name("PATH")
      ->group(help_group::kControl);
  app.add_option("--reexec-as", raw.reexec_as,
                 "The reuserun binary an upgrade (SIGUSR2, `reuserun ctl upgrade`) executes "
                 "(default: the path reuserun was started from, looked up again)")
      ->envname("REUSERUN_REEXEC_AS")
      ->type_name("PROGRAM")
      ->group(help_group::kControl);
  // Hidden: how an upgrade runs the new binary's check (upgrade.hpp, man/reuserun.1 UPGRADE).
  app.add_option(kUpgradeCheckOption, raw.upgrade_check)->group("")->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", raw.log_level, "trace, debug, info, warn, error or off")
      ->envname("REUSERUN_LOG_LEVEL")
      ->capture_default_str()
      ->type_name("LEVEL")
      ->group(help_group::kLogging);
  app.add_option("--log-format", raw.log_format,
                 "text (under journald: priority prefixes, no timestamp) or json (an object per "
                 "line)")
      ->envname("REUSERUN_LOG_FORMAT")
      ->capture_default_str()
      ->type_name("FORMAT")
      ->group(help_group::kLogging);
}

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
  config.pdeathsig = !raw.no_pdeathsig;
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
  add_options(app, raw);
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
