#include "cli_options.hpp"

#include "cli_help.hpp"
#include "upgrade.hpp"

namespace reuserun {

void add_run_options(CLI::App& app, RawOptions& raw) {
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
  app.add_option("--restart-signal", raw.restart_signal,
                 "Signal that starts a rolling restart (HUP, USR1, WINCH, TTIN or TTOU); SIGHUP, "
                 "when it is not this one, is ignored")
      ->envname("REUSERUN_RESTART_SIGNAL")
      ->capture_default_str()
      ->type_name("SIGNAL")
      ->group(help_group::kReadiness);
  app.add_option("--watch", raw.watch,
                 "Restart when this file is replaced or written (a new binary, a config): "
                 "repeatable; a path that does not exist yet is waited for")
      ->envname("REUSERUN_WATCH")
      ->type_name("PATH")
      ->group(help_group::kReadiness);
  app.add_option("--watch-settle", raw.watch_settle,
                 "How long the watched files must stay unchanged before the restart starts")
      ->envname("REUSERUN_WATCH_SETTLE")
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(help_group::kReadiness);
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
  auto* pdeathsig =
      app.add_flag("--pdeathsig", raw.pdeathsig,
                   "Have the children get SIGTERM when reuserun dies (SIGKILL, the OOM killer): "
                   "no orphan is left, but the port refuses connections until the next start. "
                   "By default they keep serving, and the next reuserun for the port adopts them")
          ->envname("REUSERUN_PDEATHSIG")
          ->group(help_group::kChildren);
  app.add_flag("--no-pdeathsig", raw.no_pdeathsig,
               "The default since issue 29, kept for scripts: children outlive a killed reuserun")
      ->envname("REUSERUN_NO_PDEATHSIG")
      ->excludes(pdeathsig)
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

}  // namespace reuserun
