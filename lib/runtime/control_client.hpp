// The client side of the control socket (control.hpp): how `reuserun ctl` finds a running
// reuserun's socket, sends it one request and prints the answer it carries. Every line a user
// gets when nothing answers says where the socket may be instead.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "control.hpp"

namespace reuserun {

// `reuserun ctl`: sends `request` to the socket at `path`, prints the answer, returns the exit
// status it carries (kCtlUnreachable, after one line on `err`, when there is no answer).
// `shown`: the name messages give the socket, when `path` is one through /proc/self/fd.
int send_control_request(const std::string& path, const ControlRequest& request, std::ostream& out,
                         std::ostream& err, const std::string& shown = "");
// `reuserun ctl` without --control-socket: the socket of `port` in the default directory, or
// the only live one there (dead ones are removed: list_control_sockets). The directory is
// trusted only as the server trusts it, and reached through the fd it was judged on (a name
// swapped after the check cannot send the request elsewhere).
int send_to_default_control_socket(std::optional<std::uint16_t> port, const ControlRequest& request,
                                   std::ostream& out, std::ostream& err);

}  // namespace reuserun
