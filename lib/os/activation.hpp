// Socket activation of reuserun itself (sd_listen_fds(3)): when systemd (or any launcher) starts
// reuserun with LISTEN_FDS and LISTEN_PID = reuserun's pid, those sockets are the listeners.
// reuserun binds nothing and frees no port, and passes them on to every generation at fds 3.. in
// the same order, with the same LISTEN_FDNAMES.
#pragma once

#include <vector>

#include "listener.hpp"
#include "result.hpp"

namespace reuserun {

// A listening TCP (IPv4, IPv6) or unix stream socket received from elsewhere, made
// close-on-exec; `which` names it in errors. owns_path: a unix socket file to remove at exit.
Result<Listener> adopt_listener(int fd, const std::string& name, const std::string& which,
                                bool owns_path = false);

// True when LISTEN_FDS is set and LISTEN_PID names this process.
bool socket_activated();

// The activated sockets as listeners, made close-on-exec (their number and names in the
// environment are left for ChildEnv to replace). An error names the first fd that is not a
// listening TCP (IPv4, IPv6) or unix stream socket, or a malformed variable.
Result<std::vector<Listener>> adopt_activated_listeners();

}  // namespace reuserun
