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
#include "procfs.hpp"
#include "signal_name.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kKillWait = std::chrono::seconds(2);

struct Victim {
  PortHolder holder;
  UniqueFd pidfd;  // pins the process: a recycled pid can never receive our signal
};


struct Judged {
  PortHolder holder;
  FreeingVerdict verdict;
  UniqueFd pidfd;  // pins the process before its facts are read: they are about this process
};

// Every holder, with the rule's verdict; one entry per process. Each is pinned first, its facts
// read, then checked to still hold the socket: a pid recycled meanwhile is judged as who it is
// now, and a process that let go of the socket is no holder.
std::vector<Judged> judge_holders(const SocketAddress& address, FreePortMode mode,
                                  Transport transport, bool v6only) {
  const SelfFacts self = self_facts();
  std::vector<Judged> judged;
  for (const auto& holder : find_port_holders(address, transport, v6only)) {
    const bool known = holder.pid != 0 && std::any_of(judged.begin(), judged.end(), [&](auto& j) {
                         return j.holder.pid == holder.pid;
                       });
    if (known) continue;
    UniqueFd pidfd;
    ProcessFacts facts;
    if (holder.pid != 0) {
      pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, holder.pid, 0)));
      if (!pidfd) continue;  // gone
      facts = read_process_facts(holder.pid);
      if (!process_holds_socket(holder.pid, holder.inode)) continue;
    }
    facts.pid = holder.pid;
    judged.push_back({holder, judge_holder(facts, self, mode, address.port()), std::move(pidfd)});
  }
  return judged;
}

// "Port 8080 is held by pid 1234 (user nobody): srv (spared: it belongs to another user ...)":
// every holder, so that the one line says who and why.
Error spared_error(const SocketAddress& address, const std::vector<Judged>& judged) {
  std::string holders;
  std::string units;
  for (const auto& [holder, verdict, pidfd] : judged) {
    holders += fmt::format("{}{} ({}: {})", holders.empty() ? "" : "; ", describe_holder(holder),
                           verdict.may_signal ? "may be freed" : "spared", verdict.reason);
    if (!verdict.unit.empty()) units += (units.empty() ? "" : " ") + verdict.unit;
  }
  const std::string way_out =
      units.empty()
          ? "stop it yourself, or start reuserun with --free-port=force"
          : "stop it with `systemctl stop " + units + "`, or start reuserun with --free-port=force";
  return Error{fmt::format("Port {} is held by {}: nothing was signalled; {}", address.port(),
                           holders, way_out),
               EADDRINUSE};
}

// The judged holders, each already pinned by its pidfd: a recycled pid can never receive our
// signal.
std::vector<Victim> victims_of(std::vector<Judged>& judged) {
  std::vector<Victim> victims;
  for (auto& [holder, verdict, pidfd] : judged) {
    // What it did and how not to (issue 27, finding 2): a user whose own server in another
    // terminal was asked to leave learns the option that keeps it.
    log_warn("Port {} is held by {}: freeing it ({}); --no-free-port leaves it alone",
             holder.address, describe_holder(holder), verdict.reason);
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

SelfFacts self_facts() {
  SelfFacts self;
  self.self = read_process_facts(::getpid());
  self.own_tree = own_process_tree(::getpid());
  self.invoking_uid = ::getuid();
  // Under sudo the person at the terminal is SUDO_UID: their stale server may go, root's other
  // services may not. Only believed when we are root (anyone can set the variable).
  uid_t sudo_uid = 0;
  if (const char* text = ::getenv("SUDO_UID");
      self.invoking_uid == 0 && text != nullptr && parse_number(std::string_view(text), sudo_uid))
    self.invoking_uid = sudo_uid;
  return self;
}

std::string describe_port_holders(const SocketAddress& address, Transport transport,
                                  bool v6only) {
  std::string text;
  for (const auto& holder : find_port_holders(address, transport, v6only))
    text.append(text.empty() ? "" : "; ").append(describe_holder(holder));
  return text;
}

Result<void> free_port(const SocketAddress& address, Duration grace, FreePortMode mode,
                       Transport transport, bool v6only) {
  auto judged = judge_holders(address, mode, transport, v6only);
  // Decide for all before signalling any: a port that cannot be freed whole is not touched.
  if (std::any_of(judged.begin(), judged.end(), [](auto& j) { return !j.verdict.may_signal; }))
    return spared_error(address, judged);
  auto victims = victims_of(judged);
  if (!victims.empty()) {
    signal_victims(victims, SIGTERM);
    if (!wait_for_victims(victims, grace)) {
      signal_victims(victims, SIGKILL);
      wait_for_victims(victims, kKillWait);
    }
  }
  const std::string holders = describe_port_holders(address, transport, v6only);
  if (holders.empty()) return {};
  return Error{"Port " + std::to_string(address.port()) + " is still in use by " + holders,
               EADDRINUSE};
}

}  // namespace reuserun
