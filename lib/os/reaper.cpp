#include "reaper.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <utility>

namespace reuserun {

Reaper::Reaper(ExitHandler default_handler, WaitAny wait_any, Release release)
    : default_handler_(std::move(default_handler)),
      wait_any_(std::move(wait_any)),
      release_(std::move(release)) {}

void Reaper::route(pid_t pid, ExitHandler handler) { routes_[pid] = std::move(handler); }

std::vector<pid_t> Reaper::routed() const {
  std::vector<pid_t> pids;
  for (const auto& [pid, handler] : routes_) pids.push_back(pid);
  return pids;
}

void Reaper::unroute(pid_t pid) { routes_.erase(pid); }

void Reaper::reap() {
  int status = 0;
  pid_t pid = 0;
  while ((pid = wait_any_(&status)) > 0) {
    deliver(pid, status);
    release_(pid);
  }
}

// Decoded here, once, for every reader (exit_status.hpp).
void Reaper::deliver(pid_t pid, int wait_status) {
  const ExitStatus status = ExitStatus::from_wait(wait_status);
  const auto route = routes_.find(pid);
  if (route == routes_.end()) return default_handler_(pid, status);
  ExitHandler handler = std::move(route->second);
  routes_.erase(route);
  handler(pid, status);
}

pid_t Reaper::peek_any_nohang(int* status) {
  siginfo_t info{};
  int result = 0;
  do {
    result = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
  } while (result == -1 && errno == EINTR);
  if (result == -1) return -1;
  if (info.si_pid == 0) return 0;
  // The status waitpid() would report, from the siginfo waitid() fills.
  switch (info.si_code) {
    case CLD_EXITED:
      *status = (info.si_status & 0xff) << 8;
      break;
    case CLD_DUMPED:
      *status = (info.si_status & 0x7f) | 0x80;
      break;
    default:  // CLD_KILLED
      *status = info.si_status & 0x7f;
  }
  return info.si_pid;
}

void Reaper::release_child(pid_t pid) {
  int ignored = 0;
  while (::waitpid(pid, &ignored, WNOHANG) == -1 && errno == EINTR) {
  }
}

}  // namespace reuserun
