#include "pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <utility>

#include "log.hpp"
#include "procfs.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

// Another launcher: alive, and its command is reuserun (a recycled pid is somebody else's).
bool is_running_reuserun(pid_t pid) {
  if (pid <= 0 || pid == ::getpid()) return false;
  if (::kill(pid, 0) == -1 && errno == ESRCH) return false;
  std::string name = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name == "reuserun";
}

}  // namespace

pid_t read_pid_file(const std::string& path) {
  std::string text = read_file(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  pid_t pid = 0;
  return parse_number(text, pid) && pid > 0 ? pid : 0;
}

Result<PidFile> PidFile::create(const std::string& path) {
  const pid_t previous = read_pid_file(path);
  if (is_running_reuserun(previous))
    return Error{"Failed to take the pid file " + path + ": reuserun pid " +
                     std::to_string(previous) + " is running with it",
                 EEXIST};
  if (previous > 0) log_info("replacing the stale pid file {} (pid {})", path, previous);
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return system_error("create " + temporary, errno);
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      return system_error("write " + temporary, errno);
  }
  if (::rename(temporary.c_str(), path.c_str()) == -1) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return system_error("rename " + temporary + " to " + path, error);
  }
  return PidFile(path);
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::exchange(other.path_, "")) {}

PidFile::~PidFile() {
  // Only our own: a newer reuserun may have replaced it meanwhile.
  if (!path_.empty() && read_pid_file(path_) == ::getpid()) ::unlink(path_.c_str());
}

}  // namespace reuserun
