#include "run.hpp"

#include <sys/prctl.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "activation.hpp"
#include "control.hpp"
#include "event_loop.hpp"
#include "exit_code.hpp"
#include "free_port.hpp"
#include "listener.hpp"
#include "pid_file.hpp"

namespace reuserun {
namespace {

Result<std::vector<Listener>> open_listeners(const Config& config) {
  const std::uint16_t port = config.port.value_or(0);
  ListenerSpec spec{config.bind, port, config.backlog};
  SocketAddress wanted = config.bind.value_or(any_address_ipv6(port));
  wanted.set_port(port);  // --bind was parsed without one
  if (port != 0 && config.free_port) {
    if (auto error = free_port(wanted, config.stop_timeout)) return *error;
  }
  auto listener = Listener::open(spec);
  if (!listener && listener.error().code == EADDRINUSE && port != 0) {
    const std::string holders = describe_port_holders(wanted);
    if (!holders.empty())
      return Error{listener.error().message + " (held by " + holders + ")", EADDRINUSE};
  }
  if (!listener) return listener.error();
  log_info("listening on {} (backlog {})", format_address(listener.value().address()),
           config.backlog);
  std::vector<Listener> listeners;
  listeners.push_back(std::move(listener.value()));
  return listeners;
}

// Socket-activated: the sockets are systemd's (or the test's); nothing to bind or free.
Result<std::vector<Listener>> adopt_listeners(const Config& config) {
  if (config.port || config.bind)
    log_warn("--port and --bind are ignored: reuserun was started with LISTEN_FDS");
  auto listeners = adopt_activated_listeners();
  if (!listeners) return listeners;
  for (const Listener& listener : listeners.value())
    log_info("adopted socket-activation listener {} ({})", format_address(listener.address()),
             listener.name());
  return listeners;
}

// An explicit --control-socket that cannot be created stops reuserun (exit 1) before it touches
// the port; the default one only earns a warning: a user without XDG_RUNTIME_DIR still gets a
// server, just no `reuserun ctl`.
struct ControlSocketChoice {
  std::optional<ControlSocket> socket;
  bool failed = false;
};

ControlSocketChoice bind_control_socket(const Config& config, std::uint16_t port) {
  const bool explicit_path = !config.control_socket.empty();
  auto bound =
      ControlSocket::bind(explicit_path ? config.control_socket : default_control_socket(port));
  if (bound) return {std::move(bound.value()), false};
  if (explicit_path) {
    log_error("{}", bound.error().message);
    return {std::nullopt, true};
  }
  log_warn("no control socket, `reuserun ctl` will not reach this reuserun: {}",
           bound.error().message);
  return {};
}

}  // namespace

int run(const Config& config) {
  // A write to a closed connection must not kill the launcher; children get SIG_DFL back.
  (void)::signal(SIGPIPE, SIG_IGN);
  // Until the event loop takes them over, a restart or a forwarded signal has nothing to act on,
  // and their default action would kill (HUP, USR1) or stop (TTIN, TTOU) reuserun while it frees
  // the port. SIGTERM and SIGINT keep theirs: there is nothing to clean up yet.
  for (int sig : {SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU})
    (void)::signal(sig, SIG_IGN);
  // As PID 1 (a container) orphans are ours already; elsewhere --subreaper makes them ours. The
  // Reaper collects every child with waitpid(-1), so no exit status escapes it either way.
  if (config.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
    log_error("Failed to become a child subreaper: {}", std::strerror(errno));
    return kExitFailure;
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
  // The default socket is named after the (first) port: with --port 0 or socket activation,
  // known only once the listeners are there. Before them when possible: see ControlSocket.
  const bool port_known =
      !activated && (config.port.value_or(0) != 0 || !config.control_socket.empty());
  ControlSocketChoice control;
  if (port_known) {
    control = bind_control_socket(config, *config.port);
    if (control.failed) return kExitFailure;
  }
  auto listeners = activated ? adopt_listeners(config) : open_listeners(config);
  if (!listeners) {
    log_error("{}", listeners.error().message);
    return kExitListen;
  }
  if (!port_known) {
    control = bind_control_socket(config, listeners.value().front().address().port());
    if (control.failed) return kExitFailure;
  }
  EventLoop loop(config, std::move(listeners.value()), std::move(control.socket));
  return loop.run();
}

}  // namespace reuserun
