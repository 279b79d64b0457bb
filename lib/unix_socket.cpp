#include "unix_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.hpp"

namespace reuserun {
namespace {

// 0 when something accepts connections (or datagrams) of `type` at `path`, else connect()'s
// errno.
int probe(const sockaddr_un& address, int type) {
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return errno;
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0
             ? 0
             : errno;
}

// A stale socket file (nothing listens on it) is removed; anything else at `path` is an error.
Result<void> clear_the_way(const std::string& path, const sockaddr_un& address,
                           const std::string& what, int type) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) == -1)
    return errno == ENOENT ? Result<void>{}
                           : Result<void>{system_error("inspect " + what + " " + path, errno)};
  if (!S_ISSOCK(info.st_mode))
    return Error{"Failed to create " + what + " " + path + ": the file exists and is not a socket",
                 EEXIST};
  const int error = probe(address, type);
  if (error == 0)
    return Error{"Failed to create " + what + " " + path + ": another process listens on it",
                 EADDRINUSE};
  // EPROTOTYPE: a live socket of another type; taken for one in use rather than removed.
  if (error != ECONNREFUSED) return system_error("connect to " + what + " " + path, error);
  if (::unlink(path.c_str()) == -1 && errno != ENOENT)
    return system_error("remove stale " + what + " " + path, errno);
  log_debug("removed stale {} {}", what, path);
  return {};
}

}  // namespace

std::optional<sockaddr_un> unix_socket_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) return std::nullopt;
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

namespace {

Result<UniqueFd> bind_at(const std::string& path, mode_t mode, const std::string& what, int type) {
  const auto address = unix_socket_address(path);
  if (!address)
    return Error{"Failed to create " + what + " " + path + ": the path is empty or longer than " +
                     std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes",
                 ENAMETOOLONG};
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return system_error("create " + what + " " + path, errno);
  const mode_t previous = ::umask(~mode & 0777);
  const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  const int error = errno;
  ::umask(previous);
  if (bound == -1) return system_error("create " + what + " " + path, error);
  return fd;
}

// Bound in a fresh private directory beside `path`, chowned there (nobody else can reach it),
// renamed into place.
Result<UniqueFd> bind_owned(const std::string& path, mode_t mode, const std::string& what,
                            const SocketOwner& owner, int type) {
  const auto slash = path.rfind('/');
  std::string directory =
      (slash == std::string::npos ? "." : path.substr(0, slash)) + "/.reuserun-bind.XXXXXX";
  if (::mkdtemp(directory.data()) == nullptr)
    return system_error("create a private directory beside " + what + " " + path, errno);
  const std::string staged = directory + "/s";
  auto fd = bind_at(staged, mode, what, type);
  if (fd && ::chown(staged.c_str(), owner.uid.value_or(static_cast<uid_t>(-1)),
                    owner.gid.value_or(static_cast<gid_t>(-1))) == -1)
    fd = system_error("change the owner of " + what + " " + path, errno);
  if (fd && ::rename(staged.c_str(), path.c_str()) == -1)
    fd = system_error("move " + what + " into " + path, errno);
  ::unlink(staged.c_str());  // only when it was not moved
  ::rmdir(directory.c_str());
  return fd;
}

}  // namespace

Result<UniqueFd> bind_unix_socket(const std::string& path, mode_t mode, int backlog,
                                  const std::string& what, const SocketOwner& owner, int type) {
  const auto address = unix_socket_address(path);
  if (!address)
    return Error{"Failed to create " + what + " " + path + ": the path is empty or longer than " +
                     std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes",
                 ENAMETOOLONG};
  if (auto cleared = clear_the_way(path, *address, what, type); !cleared) return cleared.error();
  auto fd = owner.uid || owner.gid ? bind_owned(path, mode, what, owner, type)
                                   : bind_at(path, mode, what, type);
  if (!fd || type == SOCK_DGRAM) return fd;  // a datagram socket is bound, never listens
  if (::listen(fd.value().get(), backlog) == -1) {
    const int listen_error = errno;
    ::unlink(path.c_str());
    return system_error("listen on " + what + " " + path, listen_error);
  }
  return fd;
}

}  // namespace reuserun
