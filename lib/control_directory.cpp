#include "control_directory.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

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

}  // namespace

std::string default_control_directory() {
  const char* runtime = ::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && *runtime != '\0') return std::string(runtime) + "/reuserun";
  return kSystemDirectory;
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

}  // namespace reuserun
