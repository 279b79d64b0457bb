// Starting what runs on the children's behalf, the event loop's part: the workers themselves
// (the plan is launch_plan's; this reads the env file, opens the notify channel and spawns) and
// the exec: gates' probes, both with the children's identity.
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "command.hpp"
#include "env_file.hpp"
#include "foreign_helper.hpp"
#include "event_loop.hpp"
#include "launch_plan.hpp"
#include "log.hpp"
#include "spawn.hpp"

namespace reuserun {

// What reuserun's TCP and UDP sockets are on: the marker that lets a later reuserun recognize an
// orphan of this one (freeing_rule.hpp).
std::vector<std::uint16_t> EventLoop::inet_ports() const {
  std::vector<std::uint16_t> ports;
  for (const Listener& listener : listeners_)
    if (listener.is_inet()) ports.push_back(listener.address().port());
  return ports;
}

void EventLoop::apply(const SpawnChild& action) {
  host_.note_next_generation(action.generation + 1);  // a crash's new image believes no later one
  const ResolvedCommand resolved =
      resolve_command(config_.command.front(), search_path_of_environment(), check_executable,
                      config_.directory);
  const auto fail = [&](int error) {
    // execve's ENOENT for a file that exists means its #! interpreter is missing.
    const bool interpreter = error == ENOENT && resolved.error == 0;
    dispatch(SpawnFailed{
        action.generation, error,
        fmt::format("Failed to execute {}: {}{}", config_.command.front(),
                    interpreter ? "its interpreter was not found: " : "", std::strerror(error))});
  };
  if (resolved.error != 0) return fail(resolved.error);
  const auto refuse = [&](const Error& error) {
    dispatch(SpawnFailed{action.generation, EINVAL, error.message, action.slot});
  };
  const auto env_file = read_children_env_file(config_);
  if (!env_file) return refuse(env_file.error());
  const auto plan = plan_launch(config_, handed_sockets(listeners_),
                                {action.generation, action.slot, inet_ports()}, env_file.value());
  if (!plan) return refuse(plan.error());
  ChildEnv env(environ, plan.value().listen_fd_names);
  for (const auto& [key, value] : plan.value().variables) env.set(key, value);
  std::vector<int> fds;
  for (const Listener& listener : listeners_) fds.push_back(listener.fd());
  if (!config_.directory.empty() && !std::filesystem::is_directory(config_.directory)) {
    dispatch(SpawnFailed{action.generation, ENOENT,
                         "--chdir " + config_.directory + " is not a directory any more",
                         action.slot});
    return;
  }
  auto notify = host_.open_notify(notify_owner());
  if (notify) {
    env.set("NOTIFY_SOCKET", notify.value()->address());
    if (config_.watchdog > Duration::zero()) {  // sd_watchdog_enabled(3)
      env.set("WATCHDOG_USEC",
              std::to_string(std::chrono::microseconds(config_.watchdog).count()));
      env.set_own_pid("WATCHDOG_PID");
    }
  } else if (config_.watchdog > Duration::zero()) {  // it could never ping: it would be killed
    return refuse(Error{"no sd_notify channel for --watchdog: " + notify.error().message});
  } else {
    log_warn("generation {} gets no NOTIFY_SOCKET: {}", action.generation, notify.error().message);
  }
  SpawnRequest request = children_request(resolved.path, plan.value().argv, env, fds);
  auto report = takeover_report();
  if (report) {
    request.takeover_filter = channels_.takeover_filter->program();
    request.takeover_report = report->first.get();
  }
  const auto spawned = host_.spawn(request);
  if (!spawned) return fail(spawned.error().code);
  const WorkerKey worker{action.generation, action.slot};
  if (notify) channels_.notify.attach(worker, spawned.value(), std::move(notify.value()));
  if (report) {
    report->first.reset();
    attach_takeover(worker, spawned.value(), report->second.get());
  }
  dispatch(
      ChildSpawned{action.generation, spawned.value(), action.slot, nanoseconds(host_.now())});
}

std::optional<std::pair<UniqueFd, UniqueFd>> EventLoop::takeover_report() const {
  if (!channels_.takeover_filter) return std::nullopt;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == -1) {
    log_warn("a child that binds the port itself will not get the shared socket: {}",
             std::strerror(errno));
    return std::nullopt;
  }
  return std::pair{UniqueFd(pair[1]), UniqueFd(pair[0])};
}

void EventLoop::attach_takeover(WorkerKey worker, pid_t pid, int report) {
  auto notifications = receive_takeover_fd(report);
  if (notifications) {
    channels_.takeovers.attach(worker, std::move(notifications.value()));
    return;
  }
  if (channels_.takeover_refusal_said) return;
  channels_.takeover_refusal_said = true;  // the same kernel or sandbox refuses every child alike
  log_warn("generation {} (pid {}) runs without the bind takeover (a bind of the port of its "
           "own fails as it would without reuserun): {}",
           worker.generation, pid, notifications.error().message);
}

TakeoverChannels::Hooks EventLoop::takeover_hooks() {
  TakeoverChannels::Hooks hooks;
  hooks.nothing_served = [this] {
    return !lifetime_.served && restarts_.count() == 0 && upgrade_.count == 0;
  };
  hooks.held = [this] {
    std::vector<HeldSocket> held;
    // Until a generation has been ready, a socket whose address no --bind chose (nor systemd)
    // follows the first generation's own bind (`--port 5000 -- flask run` binds 127.0.0.1).
    // Once: a child binding one address after another must not move it again and again.
    const bool fresh = !channels_.rebound && !lifetime_.served && restarts_.count() == 0 &&
                       upgrade_.count == 0 && config_.listen.size() == listeners_.size();
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
      const Listener& listener = listeners_[i];
      held.push_back({listener.kind(), listener.address(), listener.path(),
                      fresh && !config_.listen[i].address});
    }
    return held;
  };
  hooks.fd_of = [this](std::size_t index) { return listeners_.at(index).fd(); };
  hooks.rebind = [this](std::size_t index, const BindAddress& address, bool ipv6_only) {
    return rebind_listener(index, address, ipv6_only);
  };
  hooks.taken = [this](WorkerKey worker, pid_t tid, const std::string& where) {
    if (!channels_.takeover_said.insert(worker.generation).second) return;
    log_info("generation {} (pid {}) bound {} itself: given the shared socket", worker.generation,
             tid, where);
  };
  hooks.refused = [this](WorkerKey worker, const std::string& reason) {
    dispatch(BindRefused{worker.generation, worker.slot, reason});
  };
  return hooks;
}

// The first generation asked for another address than reuserun's (no --bind): reuserun's socket
// moves there before anything is served. The old socket stops listening for every holder (the
// generation's fd 3 keeps a dead socket): a listening one left in the SO_REUSEPORT group would
// take a share of the connections and never accept them.
bool EventLoop::rebind_listener(std::size_t index, const BindAddress& address, bool ipv6_only) {
  Listener& old = listeners_.at(index);
  ListenSpec spec = old.reopen_spec();
  SocketAddress wanted = address.inet;
  wanted.set_port(old.address().port());
  spec.address = wanted;
  auto fresh = Listener::open(spec, config_.backlog, ipv6_only);
  if (!fresh) {
    log_error("reuserun's socket on {} could not move to {}, where the first generation binds "
              "itself: {}",
              old.describe(), format_address(wanted), fresh.error().message);
    return false;
  }
  log_info("reuserun's socket on {} moved to {}, where the first generation binds itself (no "
           "--bind was given)",
           old.describe(), format_address(wanted));
  channels_.rebound = true;
  // shutdown() takes the socket's lock, which the generation (fd 3) can hold: the socket helper
  // does it. Closing reuserun's own copy here is no last close and flushes nothing.
  const int leaving = ::fcntl(old.fd(), F_DUPFD_CLOEXEC, 0);
  listeners_[index] = std::move(fresh.value());
  if (leaving >= 0) (void)socket_helper().shut_down(leaving);
  return true;
}

NotifyOwner EventLoop::notify_owner() const {
  return {config_.user.value_or(::geteuid()), config_.group.value_or(::getegid())};
}

// Everything reuserun starts on the children's behalf runs as they do: --user, --group, --chdir.
SpawnRequest EventLoop::children_request(std::string executable, std::vector<std::string> argv,
                                         ChildEnv& env, std::vector<int> fds) const {
  SpawnRequest request;
  request.executable = std::move(executable);
  request.argv = std::move(argv);
  request.env = &env;
  request.listen_fds = std::move(fds);
  request.die_with_parent = config_.pdeathsig;
  request.uid = config_.user;
  request.gid = config_.group;
  request.groups = config_.groups;
  request.directory = config_.directory;
  return request;
}

Result<pid_t> EventLoop::start_probe(const std::string& command, const GateSubject& subject,
                                     ExitHandler on_exit) {
  // As the children run: their user, groups, directory and variables (a probe run as root with
  // root's environment would judge a server it cannot see as the server sees itself), without
  // their sockets or notify channel.
  const auto env_file = read_children_env_file(config_);
  if (!env_file) return env_file.error();
  ChildEnv env(environ, {});
  for (const auto& [key, value] :
       launch_variables(config_, {subject.generation, subject.slot, inet_ports()}, env_file.value()))
    env.set(key, value);
  env.set("REUSERUN_CHILD_PID", std::to_string(subject.pid));
  auto spawned = host_.spawn(children_request("/bin/sh", {"sh", "-c", command}, env, {}));
  if (!spawned) return spawned;
  host_.reaper().route(spawned.value(),
                       [on_exit](pid_t, ExitStatus status) { on_exit(status); });
  return spawned;
}

void EventLoop::abandon_probe(pid_t pid) {
  host_.reaper().unroute(pid);
  host_.kill_group(pid);
}

}  // namespace reuserun
