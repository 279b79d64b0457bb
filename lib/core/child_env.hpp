// The environment one child is started with, built completely before fork.
//
// The launcher's own environment is passed on, minus the variables that describe the launcher's
// own activation (LISTEN_*, NOTIFY_SOCKET, and einhorn's, Server::Starter's and nginx's
// variables): a child must never believe sockets or a notify channel
// meant for reuserun are its own. LISTEN_PID (and WATCHDOG_PID with --watchdog) is the child's
// pid, known only after fork, so the entry is reserved here and filled in by the child through
// write_own_pid().
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace reuserun {

class ChildEnv {
 public:
  // inherited: a NULL-terminated envp (usually environ). listen_fd_names: one name per listener
  // handed over at fds 3.. (empty: no listeners, no LISTEN_* at all).
  ChildEnv(const char* const* inherited, const std::vector<std::string>& listen_fd_names);
  ChildEnv(const ChildEnv&) = delete;
  ChildEnv& operator=(const ChildEnv&) = delete;

  // Adds or replaces KEY=VALUE.
  void set(std::string_view key, std::string_view value);

  // The NULL-terminated envp. Valid until the next set() or the object's end.
  const char* const* envp();

  // KEY=<the child's own pid> (LISTEN_PID is reserved with the listeners), replacing KEY.
  void set_own_pid(std::string_view key);

  // async-signal-safe: no allocation, no logging. Called in the forked child: writes its pid as
  // plain decimal into every entry reserved for it. No zero padding: older libsystemd parses
  // LISTEN_PID with strtoul(..., 0), so "0001234" would read as octal.
  void write_own_pid(pid_t pid);

  bool has_listeners() const { return has_listeners_; }

 private:
  // "KEY=" + up to 20 digits + NUL, and where the digits go.
  struct OwnPid {
    std::array<char, 48> text{};
    std::size_t digits_at = 0;
  };
  void erase(std::string_view key);  // every KEY=... entry

  std::vector<std::string> entries_;
  std::vector<OwnPid> own_pids_;
  std::vector<const char*> pointers_;
  bool has_listeners_ = false;
};

// True for the variables a child must never inherit from the launcher.
bool is_launcher_activation_variable(std::string_view entry);

}  // namespace reuserun
