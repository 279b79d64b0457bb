#include "orphan_drain.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "log.hpp"
#include "signal_name.hpp"

namespace reuserun {
namespace {

constexpr auto kLookInterval = std::chrono::milliseconds(100);

void send(const Orphan& orphan, int sig) {
  if (::syscall(SYS_pidfd_send_signal, orphan.pidfd.get(), sig, nullptr, 0) == -1 &&
      errno != ESRCH)
    log_warn("cannot send {} to pid {}, left by an earlier reuserun: {}",
             signal_name(sig), orphan.pid, std::strerror(errno));
}

}  // namespace

void OrphanDrain::begin(int sig, Duration timeout) {
  if (begun_ || orphans_.empty()) return;
  begun_ = true;
  log_info("what a killed reuserun (or this one before a crash) left drains now ({}, up to {}): {}",
           signal_name(sig), format_duration(timeout), describe_orphans(orphans_));
  for (const Orphan& orphan : orphans_) send(orphan, sig);
  deadline_ = std::chrono::steady_clock::now() + timeout;
  look();
}

void OrphanDrain::look() {
  std::vector<pollfd> fds;
  for (const Orphan& orphan : orphans_) fds.push_back({orphan.pidfd.get(), POLLIN, 0});
  (void)::poll(fds.data(), fds.size(), 0);
  for (std::size_t i = fds.size(); i-- > 0;)
    if (fds[i].revents != 0) orphans_.erase(orphans_.begin() + static_cast<std::ptrdiff_t>(i));
  if (orphans_.empty()) {
    log_info("what a killed reuserun (or this one before a crash) left has exited");
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline_) {
    log_warn("still running after the drain timeout, SIGKILL: {}", describe_orphans(orphans_));
    for (const Orphan& orphan : orphans_) send(orphan, SIGKILL);
    deadline_ = std::chrono::steady_clock::time_point::max();  // looked at until they are gone
  }
  timer_.expires_after(kLookInterval);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) look();
  });
}

}  // namespace reuserun
