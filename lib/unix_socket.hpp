// Listening AF_UNIX stream sockets at a path: the control socket and `--listen unix:/PATH`.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <optional>
#include <string>

#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

// nullopt when the path is empty or does not fit sun_path.
std::optional<sockaddr_un> unix_socket_address(const std::string& path);

// Binds and listens at `path`, close-on-exec, born with `mode` (umask around bind: no moment where
// others may connect). A socket file that nothing listens on any more is replaced; a live one,
// or a file that is not a socket, is an error naming `what` ("control socket", "unix socket").
Result<UniqueFd> bind_unix_socket(const std::string& path, mode_t mode, int backlog,
                                  const std::string& what);

}  // namespace reuserun
