#include "free_port.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <vector>

#include "log.hpp"
#include "port_owner.hpp"
#include "signal_name.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kKillWait = std::chrono::seconds(2);

struct Victim {
  PortHolder holder;
  UniqueFd pidfd;  // pins the process: a recycled pid can never receive our signal
};

std::vector<Victim> choose_victims(const SocketAddress& address) {
  const auto tree = own_process_tree(::getpid());
  std::vector<Victim> victims;
  for (const auto& holder : find_port_holders(address)) {
    const std::string reason = protected_reason(holder, tree, ::getuid());
    if (!reason.empty()) {
      log_warn("Port {} is held by {}; leaving it alone: {}", address.port(),
               describe_holder(holder), reason);
      continue;
    }
    const bool known = std::any_of(victims.begin(), victims.end(),
                                   [&](const Victim& v) { return v.holder.pid == holder.pid; });
    if (known) continue;
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, holder.pid, 0)));
    // Opened after the scan: make sure the pid still names the process that holds the socket.
    if (!pidfd || !process_holds_socket(holder.pid, holder.inode)) continue;
    victims.push_back({holder, std::move(pidfd)});
  }
  return victims;
}

void signal_victims(std::vector<Victim>& victims, int sig) {
  for (auto& victim : victims) {
    if (!victim.pidfd) continue;
    log_warn("Port {} is held by {}: sending {}", victim.holder.address,
             describe_holder(victim.holder), signal_name(sig));
    if (::syscall(SYS_pidfd_send_signal, victim.pidfd.get(), sig, nullptr, 0) == -1 &&
        errno != ESRCH)
      log_warn("Failed to send {} to pid {}: {}", signal_name(sig), victim.holder.pid,
               std::strerror(errno));
  }
}

// Waits until every victim has exited (its pidfd turns readable) or the time is up; forgets the
// ones that exited. True when none is left.
bool wait_for_victims(std::vector<Victim>& victims, Duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    std::vector<pollfd> fds;
    fds.reserve(victims.size());
    for (auto& victim : victims) fds.push_back({victim.pidfd.get(), POLLIN, 0});
    const auto left =
        std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    const int timeout =
        static_cast<int>(std::clamp<Duration::rep>(left.count(), 0, kPollInterval.count()));
    if (::poll(fds.data(), fds.size(), timeout) == -1 && errno != EINTR) return false;
    for (std::size_t i = fds.size(); i-- > 0;)
      if (fds[i].revents != 0) victims.erase(victims.begin() + static_cast<std::ptrdiff_t>(i));
    if (victims.empty()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

}  // namespace

std::string describe_port_holders(const SocketAddress& address) {
  std::string text;
  for (const auto& holder : find_port_holders(address))
    text.append(text.empty() ? "" : "; ").append(describe_holder(holder));
  return text;
}

std::optional<Error> free_port(const SocketAddress& address, Duration grace) {
  auto victims = choose_victims(address);
  if (!victims.empty()) {
    signal_victims(victims, SIGTERM);
    if (!wait_for_victims(victims, grace)) {
      signal_victims(victims, SIGKILL);
      wait_for_victims(victims, kKillWait);
    }
  }
  const std::string holders = describe_port_holders(address);
  if (holders.empty()) return std::nullopt;
  return Error{"Port " + std::to_string(address.port()) + " is still in use by " + holders,
               EADDRINUSE};
}

}  // namespace reuserun
