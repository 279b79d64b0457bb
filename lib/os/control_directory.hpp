// The default directory of the control sockets, and how both sides trust it: reuserun creates
// its socket there (control.hpp), `reuserun ctl` finds it there. Both call the same functions,
// so they look in the same place.
//
// $XDG_RUNTIME_DIR/reuserun; without XDG_RUNTIME_DIR /run/reuserun, when it is ours or ours to
// create (root); else /tmp/reuserun-UID, the user's own (a user without a login session: cron,
// su, a container). Whichever it is, it is trusted only while it is a directory (not a link)
// owned by us that nobody else may write: a directory another user prepared would let them put
// a socket there that answers in reuserun's place.
#pragma once

#include <string>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

std::string default_control_directory();
std::string default_control_socket(const std::string& key);  // key: the port, usually

// Whether the default directory may be used: else an error (EPERM) naming why, or the lstat
// error.
Result<void> check_control_directory(const std::string& directory);
// Created 0700 when missing, then checked.
Result<void> make_control_directory(const std::string& directory);
// Opened O_DIRECTORY|O_NOFOLLOW and judged on its fd, so that what was judged is what is used.
Result<UniqueFd> open_control_directory(const std::string& directory);

// A socket `name` in that directory as a path connect(2) resolves through the fd
// (/proc/self/fd/N/name; the directory's name where /proc is missing).
std::string path_through(int directory_fd, const std::string& directory, const std::string& name);

// The control sockets (*.sock) of an opened directory, by name, sorted. A socket that refuses
// a connection has no reuserun behind it any more (one killed, whose file stayed): it is
// removed and not listed. One that accepts, or whose queue is full (a busy reuserun), is listed.
struct ControlSockets {
  std::vector<std::string> live;
  int removed = 0;  // dead sockets removed
};
ControlSockets list_control_sockets(int directory_fd, const std::string& directory);

}  // namespace reuserun
