#include "unix_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

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

// A fresh directory, 0700, under `parent` (an fd): a random name made with mkdirat, then opened
// O_NOFOLLOW and checked to be the directory we made. Its name, and its fd.
Result<std::pair<std::string, UniqueFd>> make_private_directory(int parent,
                                                                const std::string& where) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = ".reuserun-bind.XXXXXX";
    UniqueFd random(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
    unsigned char bytes[6] = {};
    if (!random || ::read(random.get(), bytes, sizeof bytes) != sizeof bytes)
      return system_error("read /dev/urandom for a private directory beside " + where, errno);
    constexpr std::string_view kLetters =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (std::size_t i = 0; i < sizeof bytes; ++i)
      name[name.size() - 6 + i] = kLetters[bytes[i] % kLetters.size()];
    if (::mkdirat(parent, name.c_str(), 0700) == -1) {
      if (errno == EEXIST) continue;
      return system_error("create a private directory beside " + where, errno);
    }
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat info {};
    if (!fd || ::fstat(fd.get(), &info) == -1 || info.st_uid != ::geteuid() ||
        (info.st_mode & 0077) != 0)
      return Error{"Failed to create a private directory beside " + where +
                       ": it was replaced before it could be opened",
                   EEXIST};
    return std::pair{std::move(name), std::move(fd)};
  }
  return Error{"Failed to create a private directory beside " + where + ": every name was taken",
               EEXIST};
}

// Bound in a fresh private directory beside `path`, chowned there, renamed into place; every
// step through directory fds (issue 25, finding 6): whoever owns the parent directory may move
// or replace the private one's name, but not what the fd we hold refers to, and cannot write in
// it (0700, ours). bind(2) takes a path, so it goes through /proc/self/fd/N of that directory.
Result<UniqueFd> bind_owned(const std::string& path, mode_t mode, const std::string& what,
                            const SocketOwner& owner, int type,
                            const std::function<void(const std::string&)>& after_bind) {
  const auto slash = path.rfind('/');
  const std::string parent_path = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd parent(::open(parent_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) return system_error("open the directory of " + what + " " + path, errno);
  auto made = make_private_directory(parent.get(), what + " " + path);
  if (!made) return made.error();
  const auto& [name, directory] = made.value();
  // Without /proc (a bare chroot) the directory's name is all bind(2) can be given.
  const std::string through_fd = "/proc/self/fd/" + std::to_string(directory.get());
  auto fd = bind_at((::access(through_fd.c_str(), F_OK) == 0 ? through_fd : parent_path + name) +
                        "/s",
                    mode, what, type);
  if (fd && after_bind) after_bind(parent_path + name);
  if (fd && ::fchownat(directory.get(), "s", owner.uid.value_or(static_cast<uid_t>(-1)),
                       owner.gid.value_or(static_cast<gid_t>(-1)), AT_SYMLINK_NOFOLLOW) == -1)
    fd = system_error("change the owner of " + what + " " + path, errno);
  if (fd && ::renameat(directory.get(), "s", parent.get(), base.c_str()) == -1)
    fd = system_error("move " + what + " into " + path, errno);
  ::unlinkat(directory.get(), "s", 0);  // only when it was not moved
  // Removed by name only if the name still is our directory (it may have been moved away).
  struct stat ours {}, named {};
  if (::fstat(directory.get(), &ours) == 0 &&
      ::fstatat(parent.get(), name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
      ours.st_dev == named.st_dev && ours.st_ino == named.st_ino)
    ::unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR);
  return fd;
}

}  // namespace

Result<UniqueFd> bind_unix_socket(const std::string& path, mode_t mode, int backlog,
                                  const std::string& what, const SocketOwner& owner, int type) {
  return bind_unix_socket_observed(path, mode, backlog, what, owner, type, nullptr);
}

Result<UniqueFd> bind_unix_socket_observed(
    const std::string& path, mode_t mode, int backlog, const std::string& what,
    const SocketOwner& owner, int type, const std::function<void(const std::string&)>& after_bind) {
  const auto address = unix_socket_address(path);
  if (!address)
    return Error{"Failed to create " + what + " " + path + ": the path is empty or longer than " +
                     std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes",
                 ENAMETOOLONG};
  if (auto cleared = clear_the_way(path, *address, what, type); !cleared) return cleared.error();
  auto fd = owner.uid || owner.gid ? bind_owned(path, mode, what, owner, type, after_bind)
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
