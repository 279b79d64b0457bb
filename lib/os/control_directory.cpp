#include "control_directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "unix_socket.hpp"

namespace reuserun {
namespace {

constexpr const char* kSystemDirectory = "/run/reuserun";

// Whether a directory with these facts may hold the default sockets: one of ours that nobody
// else may write. A directory (or link) another user prepared would let them replace the socket
// `reuserun ctl` talks to (the server refuses to bind there, the client to connect there).
Result<void> judge_control_directory(const std::string& directory, const struct stat& info) {
  const auto refuse = [&](const std::string& why) {
    return Error{"Refusing the control socket directory " + directory + ": " + why, EPERM};
  };
  if (S_ISLNK(info.st_mode)) return refuse("it is a symbolic link");
  if (!S_ISDIR(info.st_mode)) return refuse("it is not a directory");
  if (info.st_uid != ::geteuid())
    return refuse("it belongs to uid " + std::to_string(info.st_uid) + ", not " +
                  std::to_string(::geteuid()));
  if ((info.st_mode & 022) != 0) return refuse("group or others may write to it");
  return {};
}

// /run/reuserun when it is ours, or missing from a /run we may write (root's): a user who may
// not create it there would get no control socket at all ("Permission denied"), and one that
// is another user's is theirs.
bool system_directory_is_ours() {
  struct stat info {};
  if (::lstat(kSystemDirectory, &info) == 0)
    return judge_control_directory(kSystemDirectory, info).ok();
  return errno == ENOENT && ::faccessat(AT_FDCWD, "/run", W_OK | X_OK, AT_EACCESS) == 0;
}

}  // namespace

std::string default_control_directory() {
  const char* runtime = ::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && *runtime != '\0') return std::string(runtime) + "/reuserun";
  if (system_directory_is_ours()) return kSystemDirectory;
  // Per user, like tmux's /tmp/tmux-UID: anyone may create the name first in /tmp, which is why
  // it is judged like the others (a link or another user's directory is refused). Once ours it
  // stays ours: /tmp is sticky, only its owner (or root) may rename or remove it.
  return "/tmp/reuserun-" + std::to_string(::geteuid());
}

std::string default_control_socket(const std::string& key) {
  return default_control_directory() + "/" + key + ".sock";
}

Result<void> check_control_directory(const std::string& directory) {
  struct stat info {};
  if (::lstat(directory.c_str(), &info) == -1)
    return system_error("inspect the control socket directory " + directory, errno);
  return judge_control_directory(directory, info);
}

Result<void> make_control_directory(const std::string& directory) {
  if (::mkdir(directory.c_str(), 0700) == -1 && errno != EEXIST)
    return system_error("create the control socket directory " + directory, errno);
  return check_control_directory(directory);
}

Result<UniqueFd> open_control_directory(const std::string& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP || errno == ENOTDIR) return check_control_directory(directory).error();
    return system_error("open the control socket directory " + directory, errno);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) == -1)
    return system_error("inspect the control socket directory " + directory, errno);
  if (auto judged = judge_control_directory(directory, info); !judged) return judged.error();
  return fd;
}

std::string path_through(int directory_fd, const std::string& directory, const std::string& name) {
  const std::string through = "/proc/self/fd/" + std::to_string(directory_fd);
  return (::access(through.c_str(), F_OK) == 0 ? through : directory) + "/" + name;
}

namespace {

// The socket file `name`, as lstat sees it now (nullopt: gone, or not a socket).
std::optional<struct stat> socket_file(int directory_fd, const std::string& name) {
  struct stat info {};
  if (::fstatat(directory_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == -1 ||
      !S_ISSOCK(info.st_mode))
    return std::nullopt;
  return info;
}

// Whether nothing listens on the socket: connect(2) refused. Non-blocking, so a reuserun whose
// queue is full (EAGAIN) costs no wait and counts as alive, as does any other answer.
bool refuses(const std::string& path) {
  const auto address = unix_socket_address(path);
  if (!address) return false;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return false;
  const auto* name = reinterpret_cast<const sockaddr*>(&*address);
  return ::connect(fd.get(), name, sizeof *address) == -1 && errno == ECONNREFUSED;
}

// The socket that refused, unless the name now holds another file (a reuserun that replaced the
// dead socket meanwhile): removed through the directory's fd, never by a path that a link could
// redirect.
bool remove_dead(int directory_fd, const std::string& name, const struct stat& probed) {
  const auto now = socket_file(directory_fd, name);
  if (!now || now->st_dev != probed.st_dev || now->st_ino != probed.st_ino) return false;
  return ::unlinkat(directory_fd, name.c_str(), 0) == 0;
}

std::vector<std::string> socket_names(int directory_fd) {
  std::vector<std::string> names;
  const int listing = ::dup(directory_fd);  // closedir closes it; the caller keeps its fd
  if (listing == -1) return names;
  DIR* dir = ::fdopendir(listing);
  if (dir == nullptr) {
    ::close(listing);
    return names;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.ends_with(".sock")) names.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

ControlSockets list_control_sockets(int directory_fd, const std::string& directory) {
  ControlSockets sockets;
  // Judged again on the fd: nothing is removed from a directory that is not ours.
  struct stat info {};
  const bool ours =
      ::fstat(directory_fd, &info) == 0 && judge_control_directory(directory, info).ok();
  for (const auto& name : socket_names(directory_fd)) {
    const auto probed = socket_file(directory_fd, name);
    if (!probed) continue;
    if (!refuses(path_through(directory_fd, directory, name)))
      sockets.live.push_back(name);
    else if (ours && remove_dead(directory_fd, name, *probed))
      ++sockets.removed;
  }
  return sockets;
}

}  // namespace reuserun
