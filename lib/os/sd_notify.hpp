// reuserun's own sd_notify(3) client: when systemd (or anything else) started it with
// NOTIFY_SOCKET, it reports READY=1 once the first generation passes its gate, RELOADING=1 with
// MONOTONIC_USEC when a restart begins and READY=1 when it ends (succeeded or rolled back), so
// Type=notify-reload units and `systemctl reload` work with reuserun as the stable main PID;
// STOPPING=1 on stop; STATUS= lines throughout; EXTEND_TIMEOUT_USEC for waits that may outlast
// the unit's timeouts.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "duration.hpp"
#include "unique_fd.hpp"

namespace reuserun {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET ("/path" or "@abstract"); without it every call does nothing.
  static SystemdNotifier from_environment();

  bool enabled() const { return !address_.empty(); }
  void ready(std::string_view status) const;
  void reloading(std::string_view status, Duration may_take) const;
  void stopping(std::string_view status, Duration may_take) const;
  void status(std::string_view status) const;

  // Sends one datagram; a failure is logged, never fatal (systemd may be gone).
  void send(const std::string& message) const;

  // systemd's file descriptor store (FileDescriptorStoreMax=, sd_pid_notify_with_fds(3)):
  // FDSTORE=1 and FDNAME=`name` with `fd` attached. A restart of the unit gets it back in
  // LISTEN_FDS, named, even when reuserun was killed; systemd keeps one copy of a socket stored
  // twice. False (logged) when it could not be sent.
  bool store_fd(int fd, std::string_view name) const;

 private:
  std::string address_;
  UniqueFd socket_;
};

// systemd's watchdog for reuserun (sd_watchdog_enabled(3)): the interval WATCHDOG_USEC asks for,
// when WATCHDOG_PID is absent or names `self`; nullopt otherwise (including a malformed value).
std::optional<Duration> watchdog_interval(const char* usec, const char* pid, pid_t self);

// "MONOTONIC_USEC=<CLOCK_MONOTONIC now, in µs>", as systemd expects beside RELOADING=1.
std::string monotonic_usec_field();

// "EXTEND_TIMEOUT_USEC=<µs>".
std::string extend_timeout_field(Duration duration);

}  // namespace reuserun
