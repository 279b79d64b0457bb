// The event loop's part in starting what runs on the children's behalf: the workers themselves
// (the plan is launch_plan's; this reads the env file, opens the notify channel and spawns) and
// the exec: gates' probes, both with the children's identity.
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "command.hpp"
#include "event_loop.hpp"
#include "launch_plan.hpp"
#include "spawn.hpp"

namespace reuserun {
namespace {

std::string search_path() {
  const char* path = ::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

}  // namespace

// What reuserun's TCP and UDP sockets are on: the marker that lets a later reuserun recognize an
// orphan of this one (freeing_rule.hpp).
std::vector<std::uint16_t> EventLoop::inet_ports() const {
  std::vector<std::uint16_t> ports;
  for (const Listener& listener : listeners_)
    if (listener.is_inet()) ports.push_back(listener.address().port());
  return ports;
}

void EventLoop::apply(const SpawnChild& action) {
  const ResolvedCommand resolved =
      resolve_command(config_.command.front(), search_path(), check_executable, config_.directory);
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
  auto notify = NotifySocket::open(io_, notify_owner());
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
  const auto spawned =
      spawn_process(io_, children_request(resolved.path, plan.value().argv, env, fds));
  if (!spawned) return fail(spawned.error().code);
  const WorkerKey worker{action.generation, action.slot};
  if (notify) notify_.attach(worker, spawned.value(), std::move(notify.value()));
  dispatch(ChildSpawned{action.generation, spawned.value(), action.slot, nanoseconds_now()});
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
  auto spawned = spawn_process(io_, children_request("/bin/sh", {"sh", "-c", command}, env, {}));
  if (!spawned) return spawned;
  probes_.insert(spawned.value());
  reaper_.route(spawned.value(), [this, on_exit](pid_t pid, int status) {
    probes_.erase(pid);
    on_exit(status);
  });
  return spawned;
}

void EventLoop::abandon_probe(pid_t pid) {
  probes_.erase(pid);
  reaper_.unroute(pid);
  ::kill(-pid, SIGKILL);
}

}  // namespace reuserun
