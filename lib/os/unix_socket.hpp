// Listening AF_UNIX sockets at a path: the control socket, `--listen unix:/PATH` (stream), and
// `unix-seqpacket:` and `unix-dgram:` (bound, never listening).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <functional>
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
//
// With an owner (owner=USER[:GROUP]), the socket is bound and given its owner inside a private
// directory (0700, created beside `path`), then renamed into place, every step through that
// directory's fd: no path-based chown or rename, which whoever owns the parent directory could
// redirect to any file by moving the private directory's name.
struct SocketOwner {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};
Result<UniqueFd> bind_unix_socket(const std::string& path, mode_t mode, int backlog,
                                  const std::string& what, const SocketOwner& owner = {},
                                  int type = SOCK_STREAM);
// The same, with `after_bind` called with the private directory's path between bind and chown:
// for tests, which play the owner of the parent directory there.
Result<UniqueFd> bind_unix_socket_observed(
    const std::string& path, mode_t mode, int backlog, const std::string& what,
    const SocketOwner& owner, int type, const std::function<void(const std::string&)>& after_bind);

}  // namespace reuserun
