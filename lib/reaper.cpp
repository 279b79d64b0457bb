#include "reaper.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <utility>

namespace reuserun {

Reaper::Reaper(ExitHandler default_handler, WaitAny wait_any)
    : default_handler_(std::move(default_handler)), wait_any_(std::move(wait_any)) {}

void Reaper::route(pid_t pid, ExitHandler handler) { routes_[pid] = std::move(handler); }

void Reaper::unroute(pid_t pid) { routes_.erase(pid); }

void Reaper::reap() {
  int status = 0;
  pid_t pid = 0;
  while ((pid = wait_any_(&status)) > 0) {
    const auto route = routes_.find(pid);
    if (route == routes_.end()) {
      default_handler_(pid, status);
      continue;
    }
    ExitHandler handler = std::move(route->second);
    routes_.erase(route);
    handler(pid, status);
  }
}

pid_t Reaper::wait_any_nohang(int* status) {
  pid_t pid = 0;
  do {
    pid = ::waitpid(-1, status, WNOHANG);
  } while (pid == -1 && errno == EINTR);
  return pid;
}

}  // namespace reuserun
