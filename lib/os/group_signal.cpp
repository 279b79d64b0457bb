#include "group_signal.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "log.hpp"
#include "procfs.hpp"
#include "signal_name.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

std::string environment_value(std::string_view environ, std::string_view key) {
  const std::string prefix = std::string(key) + "=";
  for (const std::string_view entry : split(environ, '\0'))
    if (entry.starts_with(prefix)) return std::string(entry.substr(prefix.size()));
  return "";
}

// A pidfd of `pid` once `still_ours()` holds for the pinned process; invalid otherwise.
UniqueFd pin_process(pid_t pid, const std::function<bool()>& still_ours) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd || !still_ours()) return {};
  return pidfd;
}

}  // namespace

bool signal_pinned(pid_t pid, int sig, const std::function<bool()>& still_ours) {
  const UniqueFd pidfd = pin_process(pid, still_ours);
  return pidfd && ::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) == 0;
}

// The descendants outside the group are found and pinned first: once the group has the signal,
// the leader may exit, and its children would be reparented out of reach of the walk.
std::size_t signal_worker(pid_t leader, int sig) {
  std::vector<std::pair<pid_t, UniqueFd>> escaped;
  for (const pid_t pid : process_tree(leader)) {
    if (pid == leader || ::getpgid(pid) == leader) continue;
    UniqueFd pidfd =
        pin_process(pid, [&] { return ::getpgid(pid) != leader && is_descendant(pid, leader); });
    if (pidfd) escaped.emplace_back(pid, std::move(pidfd));
  }
  if (::kill(-leader, sig) == -1 && errno != ESRCH)
    log_warn("Failed to send {} to process group {}: {}", signal_name(sig), leader,
             std::strerror(errno));
  std::size_t sent = 0;
  for (const auto& [pid, pidfd] : escaped) {
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) != 0) continue;
    ++sent;
    log_debug("sent {} to pid {}, which left the process group of pid {}", signal_name(sig), pid,
              leader);
  }
  return sent;
}

std::vector<Stray> strays(const std::vector<pid_t>& exclude, StrayCache& known) {
  std::vector<Stray> found;
  for (const pid_t pid : process_tree(::getpid())) {
    if (pid == ::getpid() || parent_pid(pid) != ::getpid()) continue;
    if (std::find(exclude.begin(), exclude.end(), pid) != exclude.end()) continue;
    if (const auto it = known.find(pid); it != known.end()) {
      found.push_back(it->second);
      continue;
    }
    // Through the helper: a child can keep the orphan's mmap lock taken (attack review of
    // issue 25: the loop waited 17 s).
    const std::string environ = process_text(pid, "environ", kEnvironLimit);
    Stray stray{pid, std::nullopt};
    unsigned long generation = 0;
    unsigned slot = 0;
    if (parse_number(environment_value(environ, "REUSERUN_GENERATION"), generation) &&
        parse_number(environment_value(environ, "REUSERUN_WORKER"), slot))
      stray.worker.emplace(generation, slot);
    known[pid] = stray;
    found.push_back(stray);
  }
  return found;
}

std::vector<pid_t> orphans_of_worker(unsigned long generation, unsigned slot,
                                     const std::vector<pid_t>& exclude, StrayCache& known) {
  std::vector<pid_t> orphans;
  for (const Stray& stray : strays(exclude, known))
    if (stray.worker == std::pair(generation, slot)) orphans.push_back(stray.pid);
  return orphans;
}

}  // namespace reuserun
