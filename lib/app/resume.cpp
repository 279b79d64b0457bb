// The new images of this process: after an in-place upgrade (resume) and after a crash
// (recover). Same pid, same children, the sockets of the earlier image; nothing is bound or freed.
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "control.hpp"
#include "crash_recovery.hpp"
#include "event_loop.hpp"
#include "exit_code.hpp"
#include "group_signal.hpp"
#include "handover.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "pid_file.hpp"
#include "real_host.hpp"
#include "run.hpp"
#include "signal_name.hpp"
#include "upgrade.hpp"
#include "activation.hpp"

namespace reuserun {
namespace {

// What a new image of this process takes over from the earlier one: the sockets of the
// handover, the pid file, being a subreaper.
struct TakenOver {
  bool ok = false;  // false (logged): a socket is not what the handover says
  std::vector<Listener> listeners;
  std::optional<ControlSocket> control;
  std::optional<PidFile> pid_file;
};

TakenOver take_over(const Config& config, const Handover& handover, const char* why) {
  TakenOver taken;
  if (config.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
    log_warn("Failed to become a child subreaper again: {}", std::strerror(errno));
  if (!config.pid_file.empty()) taken.pid_file.emplace(PidFile::adopt(config.pid_file));
  for (const HandedListener& handed : handover.listeners) {
    auto listener =
        adopt_listener(handed.fd, handed.name, "handed-over socket fd " + std::to_string(handed.fd),
                       handed.owns_path);
    if (!listener) {
      log_error("{}: cannot take over: {}", why, listener.error().message);
      return taken;
    }
    taken.listeners.push_back(std::move(listener.value()));
  }
  if (handover.control_fd >= 0) {
    if (const int error = set_close_on_exec(handover.control_fd))
      log_warn("{}: the control socket may leak into children: {}", why, std::strerror(error));
    taken.control.emplace(
        ControlSocket::adopt(UniqueFd(handover.control_fd), handover.control_path));
  }
  taken.ok = true;
  return taken;
}

// The workers a crashed image left: its children that lead their own process group and say in
// their environment which worker they are. Each serves, as far as anyone can tell; none of the
// crashed image's memory says otherwise. A child writes its own environment (nginx overwrites
// it with its process title): a leader whose claim cannot be placed (none, a worker number past
// --workers, a generation the crashed image had not started, a worker claimed twice) is
// returned, to be drained with the rest once the fresh generation serves.
std::vector<pid_t> add_children_of_crashed_image(Handover& handover, unsigned workers,
                                                 Generation next, std::int64_t now_ns) {
  const Generation most = next > 0 ? next - 1 : Generation{1} << 40;
  StrayCache known;
  SupervisorSnapshot& snapshot = handover.supervisor;
  snapshot.next_generation = std::max(snapshot.next_generation, next);
  std::vector<pid_t> unplaced;
  for (const Stray& child : strays({}, known)) {
    if (::getpgid(child.pid) != child.pid) continue;  // not a leader: a stray, or the core copy
    const bool placed = child.worker && child.worker->first > 0 &&
                        child.worker->first <= most && child.worker->second < workers &&
                        handover.workers.count(WorkerKey{child.worker->first,
                                                         child.worker->second}) == 0;
    if (!placed) {
      unplaced.push_back(child.pid);
      continue;
    }
    const WorkerKey key{child.worker->first, child.worker->second};
    snapshot.children.push_back(ChildState{key.generation, child.pid, Phase::serving, key.slot});
    handover.workers[key].spawned_at_ns = now_ns;
    snapshot.next_generation = std::max(snapshot.next_generation, key.generation + 1);
    snapshot.serving = std::max(snapshot.serving.value_or(0), key.generation);
  }
  snapshot.ever_ready = !snapshot.children.empty();
  return unplaced;
}

}  // namespace

// The new image of an upgrade: same PID, same children. Nothing is bound, freed or written:
// the sockets and the pid file are the earlier image's. Until the event loop listens, the
// signals it handles stay blocked (exec_new_image), so none is lost or ignored meanwhile.
int resume(const Config& config, int handover_fd) {
  (void)::signal(SIGPIPE, SIG_IGN);
  auto text = read_handover_file(handover_fd);
  if (handover_fd >= 0) ::close(handover_fd);
  auto handover = text ? decode_handover(text.value()) : Result<Handover>(text.error());
  if (!handover) {
    log_error("upgrade: cannot take over: {}", handover.error().message);
    return kExitHandover;
  }
  TakenOver taken = take_over(config, handover.value(), "upgrade");
  if (!taken.ok) return kExitHandover;
  RealHost host;
  EventLoop loop(host, config, std::move(taken.listeners), std::move(taken.control));
  return loop.run(&handover.value());
}

// The new image of a recovery in place (crash_recovery.hpp): same PID, same children, the
// sockets the crashed image prepared; what it was doing is read from the kernel, and a fresh
// generation replaces its children.
int recover(const Config& config, const RecoveredCrash& crash) {
  // Executed as /proc/self/exe, its name is "exe": the name it was started by again, which `ps`,
  // `ss` and the freeing rule (a parent named reuserun) go by.
  const std::string name = std::filesystem::path(config.arguments.front()).filename().string();
  (void)::prctl(PR_SET_NAME, name.substr(0, 15).c_str());
  (void)::signal(SIGPIPE, SIG_IGN);
  auto handover = decode_handover(crash.state);
  if (!handover) {
    log_error("recovery: cannot take over: {}", handover.error().message);
    return kExitHandover;
  }
  TakenOver taken = take_over(config, handover.value(), "recovery");
  if (!taken.ok) return kExitHandover;
  RealHost host;
  const std::vector<pid_t> unplaced = add_children_of_crashed_image(
      handover.value(), config.workers, crash.next_generation,
      std::chrono::duration_cast<std::chrono::nanoseconds>(host.now().time_since_epoch())
          .count());
  // A generation of a killed reuserun this image had adopted and not yet drained, and the
  // children whose worker cannot be told: drained once the fresh generation serves.
  std::vector<Orphan> orphans = orphans_of_listeners(config, taken.listeners);
  for (const pid_t pid : unplaced)
    if (auto pinned = pin_process(pid)) orphans.push_back(std::move(*pinned));
  if (!orphans.empty())
    log_info("to drain once the fresh generation serves: {}", describe_orphans(orphans));
  host.adopt_orphans(std::move(orphans));
  EventLoop loop(host, config, std::move(taken.listeners), std::move(taken.control));
  loop.recovered({"in-place", fmt::format("after {} (recovery {} of at most {} in {} s)",
                                          signal_name(crash.signal), crash.history.recoveries,
                                          kMaxRecoveries, kRecoveryWindowNs / 1'000'000'000)},
                 crash.history);
  return loop.run(&handover.value(), true);
}

}  // namespace reuserun
