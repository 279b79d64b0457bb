#include "run.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "activation.hpp"
#include "command.hpp"
#include "control.hpp"
#include "event_loop.hpp"
#include "real_host.hpp"
#include "sd_notify.hpp"
#include "exit_code.hpp"
#include "free_port.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "orphans.hpp"
#include "pid_file.hpp"
#include "readiness.hpp"
#include "system_view.hpp"

namespace reuserun {
namespace {

// The uids reuserun runs its children as: an orphan running as another is no child of ours.
std::vector<uid_t> child_uids(const Config& config) {
  return {config.user.value_or(::geteuid())};
}

// What this start found and did about a killed reuserun's generation (orphans.hpp).
struct Inherited {
  std::vector<Orphan> orphans;  // to drain once our first generation serves
  Recovery recovery;            // for ctl status: adopted, rebound
};

// A killed reuserun's orphans still serving `wanted`: their very socket, when it can be taken
// (nullopt: nothing to adopt, or it could not be taken and they are freed below instead).
std::optional<Listener> adopt_from_orphans(const Config& config, const ListenSpec& spec,
                                           const SocketAddress& wanted, bool v6only,
                                           Inherited& inherited) {
  auto adoption = adopt_orphaned_socket(wanted, v6only, child_uids(config));
  if (!adoption) {
    log_warn("a killed reuserun's generation still serves {}, but {}: freeing it instead",
             format_address(wanted), adoption.error().message);
    inherited.recovery = {"rebound", adoption.error().message};
    return std::nullopt;
  }
  if (adoption.value().orphans.empty()) return std::nullopt;
  const std::string whose = describe_orphans(adoption.value().orphans);
  auto listener = Listener::adopt_inet(std::move(adoption.value().socket), spec.kind, wanted,
                                       spec.name);
  inherited.recovery = {"adopted", "the socket of a killed reuserun's generation: " + whose};
  for (Orphan& orphan : adoption.value().orphans) inherited.orphans.push_back(std::move(orphan));
  return listener;
}

Result<Listener> open_listener(const Config& config, const ListenSpec& spec, Inherited& inherited) {
  if (is_inet(spec.kind) && spec.port != 0) {
    SocketAddress wanted = spec.address.value_or(any_address_ipv6(spec.port));
    wanted.set_port(spec.port);
    const Transport transport =
        spec.kind == ListenSpec::Kind::udp ? Transport::udp : Transport::tcp;
    // --ipv6-only: an IPv4 socket on the port is no competitor, and not to be freed.
    const bool v6only = config.ipv6_only && wanted.family() == AF_INET6;
    if (config.free_port != FreePortMode::off && transport == Transport::tcp)
      if (auto adopted = adopt_from_orphans(config, spec, wanted, v6only, inherited))
        return std::move(*adopted);
    if (config.free_port != FreePortMode::off) {
      if (auto freed =
              free_port(wanted, config.stop_timeout, config.free_port, transport, v6only);
          !freed)
        return freed.error();
    }
    auto listener = Listener::open(spec, config.backlog, config.ipv6_only);
    if (!listener && listener.error().code == EADDRINUSE) {
      const std::string holders = describe_port_holders(wanted, transport, v6only);
      if (!holders.empty())
        return Error{listener.error().message + " (held by " + holders + ")", EADDRINUSE};
    }
    return listener;
  }
  return Listener::open(spec, config.backlog, config.ipv6_only);
}

Result<std::vector<Listener>> open_listeners(const Config& config, Inherited& inherited) {
  std::vector<Listener> listeners;
  for (const ListenSpec& spec : config.listen) {
    const std::size_t adopted = inherited.orphans.size();
    auto listener = open_listener(config, spec, inherited);
    if (!listener) return listener.error();
    if (inherited.orphans.size() > adopted)
      log_info("adopted {} ({}) from a killed reuserun's generation, which drains once a "
               "generation of ours is ready",
               listener.value().describe(), listener.value().name());
    else if (listener.value().is_datagram())
      log_info("bound {} ({})", listener.value().describe(), listener.value().name());
    else
      log_info("listening on {} ({}, backlog {})", listener.value().describe(),
               listener.value().name(), config.backlog);
    listeners.push_back(std::move(listener.value()));
  }
  return listeners;
}

// Socket-activated: the sockets are systemd's (or the test's); nothing to bind or free.
Result<std::vector<Listener>> adopt_listeners(const Config& config) {
  if (!config.listen.empty())
    log_warn("--port, --bind and --listen are ignored: reuserun was started with LISTEN_FDS");
  auto listeners = adopt_activated_listeners();
  if (!listeners) return listeners;
  for (const Listener& listener : listeners.value())
    log_info("adopted socket-activation listener {} ({})", listener.describe(), listener.name());
  return listeners;
}

Inherited orphans_of_activated(const Config& config, const std::vector<Listener>& listeners) {
  Inherited inherited;
  inherited.orphans = orphans_of_listeners(config, listeners);
  if (!inherited.orphans.empty())
    inherited.recovery = {"adopted", "systemd's sockets (LISTEN_FDS), which a killed reuserun's "
                                     "generation holds too: " +
                                         describe_orphans(inherited.orphans)};
  return inherited;
}

// An explicit --control-socket that cannot be created stops reuserun (exit 1) before it touches
// the port; the default one only earns a warning (its directory may be one another user
// planted): reuserun still serves, just without `reuserun ctl`.
struct ControlSocketChoice {
  std::optional<ControlSocket> socket;
  bool failed = false;
};

// The default control socket is named after the first listener: "8080" for a TCP port,
// "udp53" for udp:53, "unix-run-app.sock" for unix:/run/app.sock (any unix kind).
std::string control_key(ListenSpec::Kind kind, std::uint16_t port, const std::string& path) {
  if (kind == ListenSpec::Kind::tcp) return std::to_string(port);
  if (kind == ListenSpec::Kind::udp) return "udp" + std::to_string(port);
  std::string key = "unix" + path;
  std::replace(key.begin(), key.end(), '/', '-');
  return key;
}

// Said at start, with the `ctl` command that reaches it: a user whose ctl looks elsewhere
// (another XDG_RUNTIME_DIR, another user) learns where to point it.
void log_control_socket(const std::string& path, const std::string& key, bool explicit_path) {
  const bool by_port =
      !explicit_path && !key.empty() &&
      std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  log_info("control socket: {} (reuserun ctl {} restart|status|upgrade)", path,
           by_port ? "--port " + key : "--control-socket " + path);
}

ControlSocketChoice bind_control_socket(const Config& config, const std::string& key) {
  const bool explicit_path = !config.control_socket.empty();
  auto bound =
      ControlSocket::bind(explicit_path ? config.control_socket : default_control_socket(key));
  if (bound) {
    log_control_socket(bound.value().path(), key, explicit_path);
    return {std::move(bound.value()), false};
  }
  if (explicit_path) {
    log_error("{}", bound.error().message);
    return {std::nullopt, true};
  }
  log_warn("no control socket, `reuserun ctl` will not reach this reuserun: {} ({})",
           bound.error().message, "give it one with --control-socket PATH");
  return {};
}

// Under systemd with FileDescriptorStoreMax= ($FDSTORE), the listeners go into the unit's fd
// store: a restart of the unit gets the very same sockets back in LISTEN_FDS (adopted above),
// even when reuserun was killed and no child survived to hold them. Only sockets reuserun bound
// itself: adopted ones are in the store already, or a socket unit's, which systemd passes anyway
// (stored too, a restart would get them twice).
// $FDSTORE when systemd keeps an fd store for the unit (above 0), else nullptr.
const char* fd_store() {
  const char* capacity = ::getenv("FDSTORE");
  return capacity == nullptr || *capacity == '\0' || std::string_view(capacity) == "0" ? nullptr
                                                                                      : capacity;
}

void store_listeners_with_systemd(const SystemdNotifier& systemd,
                                  const std::vector<Listener>& listeners) {
  const char* capacity = fd_store();
  if (capacity == nullptr || !systemd.enabled()) return;
  std::size_t stored = 0;
  for (const Listener& listener : listeners) stored += systemd.store_fd(listener.fd(), listener.name());
  log_info("stored {} of {} sockets in systemd's fd store (FDSTORE={})", stored, listeners.size(),
           capacity);
}

}  // namespace

std::vector<Orphan> orphans_of_listeners(const Config& config,
                                         const std::vector<Listener>& listeners) {
  std::vector<Orphan> orphans;
  for (const Listener& listener : listeners) {
    struct stat info {};
    if (!listener.is_tcp() || ::fstat(listener.fd(), &info) == -1) continue;
    for (Orphan& orphan :
         orphans_holding(info.st_ino, listener.address().port(), child_uids(config)))
      orphans.push_back(std::move(orphan));
  }
  return orphans;
}

int run(const Config& config) {
  // A write to a closed connection must not kill the launcher; children get SIG_DFL back.
  (void)::signal(SIGPIPE, SIG_IGN);
  // Until the event loop takes them over, a restart or a forwarded signal has nothing to act on,
  // and their default action would kill (HUP, USR1) or stop (TTIN, TTOU) reuserun while it frees
  // the port. SIGTERM and SIGINT keep theirs: there is nothing to clean up yet.
  for (int sig : {SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU})
    (void)::signal(sig, SIG_IGN);
  // As PID 1 (a container) orphans are ours already; elsewhere being a subreaper (the default)
  // makes them ours: a command that daemonizes is seen and stopped (issue 27, finding 1). The
  // Reaper collects every child with waitpid(-1), so no exit status escapes it either way.
  if (config.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
    log_warn("cannot become a child subreaper ({}): what a command that daemonizes leaves "
             "behind escapes reuserun",
             std::strerror(errno));
  // Before the port is freed: what the gates can see does not depend on it.
  const bool see_processes = real_system().proc_mounted();
  if (const std::string misfit = gates_without_proc(config.readiness.gates, see_processes);
      !misfit.empty()) {
    log_error("{}", misfit);
    return kExitUsage;
  }
  if (const std::string notice = auto_without_proc_notice(config.readiness.gates, see_processes);
      !notice.empty())
    log_warn("{}", notice);
  // The command before anything is freed or bound: a typo must not cost another process of the
  // user's its port (issue 27, finding 2). Each generation resolves it again (a release symlink
  // may move); this only refuses one that could never have run.
  if (const ResolvedCommand command =
          resolve_command(config.command.front(), search_path_of_environment(), check_executable,
                          config.directory);
      command.error != 0) {
    log_error("Failed to execute {}: {}", config.command.front(), std::strerror(command.error));
    return exit_code_for_exec_error(command.error);
  }
  std::optional<PidFile> pid_file;
  if (!config.pid_file.empty()) {
    auto created = PidFile::create(config.pid_file);
    if (!created) {
      log_error("{}", created.error().message);
      return kExitPidFile;
    }
    pid_file.emplace(std::move(created.value()));
  }
  const bool activated = socket_activated();
  // The default socket is named after the first listener: with port 0 or socket activation,
  // known only once the listeners are there. Before them when possible: see ControlSocket.
  const ListenSpec* first = config.listen.empty() ? nullptr : &config.listen.front();
  const bool key_known =
      !activated && first != nullptr && (!is_inet(first->kind) || first->port != 0);
  ControlSocketChoice control;
  const bool early = !activated && (key_known || !config.control_socket.empty());
  if (early) {
    control = bind_control_socket(
        config, key_known ? control_key(first->kind, first->port, first->path) : "");
    if (control.failed) return kExitFailure;
  }
  Inherited inherited;
  auto listeners = activated ? adopt_listeners(config) : open_listeners(config, inherited);
  if (!listeners) {
    log_error("{}", listeners.error().message);
    return kExitListen;
  }
  // The CLI checked the gates against --listen; systemd's sockets are known only now.
  const bool has_tcp = std::any_of(listeners.value().begin(), listeners.value().end(),
                                   [](const Listener& listener) { return listener.is_tcp(); });
  if (const std::string misfit = gates_without_tcp(config.readiness.gates, has_tcp);
      !misfit.empty()) {
    log_error("{}", misfit);
    return kExitUsage;
  }
  if (!early) {
    const Listener& front = listeners.value().front();
    control = bind_control_socket(
        config, control_key(front.kind(), front.address().port(), front.path()));
    if (control.failed) return kExitFailure;
  }
  // A server woken with others by a connection that one of them takes blocks in accept() on a
  // blocking socket, and cannot drain (issue 27, finding 5: Python's socketserver). nginx takes
  // inherited sockets as its own binary upgrade leaves them, non-blocking, and never sets the
  // flag itself. The flag belongs to the shared socket (every generation sees it), as
  // systemd's NonBlocking=.
  const bool for_nginx = std::find(config.protocols.begin(), config.protocols.end(),
                                   Protocol::nginx) != config.protocols.end();
  if (config.nonblocking || for_nginx)
    for (const Listener& listener : listeners.value())
      if (const int error = set_nonblocking(listener.fd()); error != 0)
        log_warn("cannot make fd {} non-blocking: {}", listener.fd(), std::strerror(error));
  // {fd:NAME} in the command must name a socket: a typo is a usage error, not a failed start.
  if (auto argv = substitute_fds(config.command, handed_sockets(listeners.value())); !argv) {
    log_error("{}", argv.error().message);
    return kExitUsage;
  }
  RealHost host;
  if (activated)
    inherited = orphans_of_activated(config, listeners.value());
  else
    store_listeners_with_systemd(host.systemd(), listeners.value());
  const std::size_t count = listeners.value().size();
  host.adopt_orphans(std::move(inherited.orphans));
  EventLoop loop(host, config, std::move(listeners.value()), std::move(control.socket));
  if (const char* store = fd_store(); activated && store != nullptr)
    inherited.recovery = {
        "fd-store", fmt::format("{} socket{} from systemd (LISTEN_FDS), its fd store in use "
                                "(FDSTORE={}){}",
                                count, count == 1 ? "" : "s", store,
                                inherited.recovery.how.empty()
                                    ? ""
                                    : "; " + inherited.recovery.detail)};
  if (!inherited.recovery.how.empty()) loop.recovered(inherited.recovery);
  return loop.run();
}

}  // namespace reuserun
