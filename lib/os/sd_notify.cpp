#include "sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <ctime>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "log.hpp"
#include "notify_socket.hpp"
#include "scm_rights.hpp"
#include "text.hpp"

namespace reuserun {

std::string monotonic_usec_field() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  return "MONOTONIC_USEC=" + std::to_string(usec);
}

std::string extend_timeout_field(Duration duration) {
  return "EXTEND_TIMEOUT_USEC=" + std::to_string(duration.count() * 1000);
}

std::optional<Duration> watchdog_interval(const char* usec, const char* pid, pid_t self) {
  std::uint64_t microseconds = 0;
  if (usec == nullptr || !parse_number(std::string_view(usec), microseconds) || microseconds == 0)
    return std::nullopt;
  pid_t owner = 0;
  if (pid != nullptr && *pid != '\0' &&
      (!parse_number(std::string_view(pid), owner) || owner != self))
    return std::nullopt;
  return std::max<Duration>(
      std::chrono::milliseconds(1),
      std::chrono::duration_cast<Duration>(std::chrono::microseconds(microseconds)));
}

SystemdNotifier SystemdNotifier::from_environment() {
  SystemdNotifier notifier;
  const char* address = ::getenv("NOTIFY_SOCKET");
  if (address == nullptr || (address[0] != '/' && address[0] != '@')) return notifier;
  notifier.address_ = address;
  notifier.socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  return notifier;
}

void SystemdNotifier::send(const std::string& message) const {
  if (!enabled()) return;
  const auto target = unix_address(address_);
  if (!target) {
    log_warn("NOTIFY_SOCKET {} is too long; not notifying", address_);
    return;
  }
  if (::sendto(socket_.get(), message.data(), message.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&target->address), target->length) == -1)
    log_warn("Failed to notify {}: {}", address_, std::strerror(errno));
  else
    log_debug("sd_notify: {}", message);
}

bool SystemdNotifier::store_fd(int fd, std::string_view name) const {
  if (!enabled()) return false;
  const auto target = unix_address(address_);
  if (!target) return false;
  // A socket of its own, connected: send_with_fd sends on a connected socket.
  const UniqueFd socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const std::string message = "FDSTORE=1\nFDNAME=" + std::string(name);
  if (!socket ||
      ::connect(socket.get(), reinterpret_cast<const sockaddr*>(&target->address),
                target->length) == -1 ||
      send_with_fd(socket.get(), message.data(), message.size(), fd) == -1) {
    log_warn("Failed to store fd {} ({}) in systemd's fd store at {}: {}", fd, name, address_,
             std::strerror(errno));
    return false;
  }
  log_debug("sd_notify: {} (fd {})", message, fd);
  return true;
}

void SystemdNotifier::ready(std::string_view status) const {
  send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::reloading(std::string_view status, Duration may_take) const {
  send("RELOADING=1\n" + monotonic_usec_field() + "\n" + extend_timeout_field(may_take) +
       "\nSTATUS=" + std::string(status));
}

void SystemdNotifier::stopping(std::string_view status, Duration may_take) const {
  send("STOPPING=1\n" + extend_timeout_field(may_take) + "\nSTATUS=" + std::string(status));
}

void SystemdNotifier::status(std::string_view status) const {
  send("STATUS=" + std::string(status));
}

}  // namespace reuserun
