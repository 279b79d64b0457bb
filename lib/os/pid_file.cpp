#include "pid_file.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <utility>

#include "log.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

constexpr std::size_t kMaxPidFileSize = 64;

// The directory and the file name: every open below is relative to the directory's fd and never
// follows the last component, so a link planted in a directory another user can write (a
// /run/app owned by the service's account) never makes root write or truncate its target.
struct Place {
  UniqueFd directory;
  std::string name;
};

Result<Place> open_place(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  Place place{UniqueFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
              path.substr(slash == std::string::npos ? 0 : slash + 1)};
  if (!place.directory) return system_error("create the pid file " + path, errno);
  if (place.name.empty() || place.name == "." || place.name == "..")
    return Error{"Failed to use the pid file " + path + ": it names a directory", EISDIR};
  return place;
}

// The pid a regular file at `name` holds; 0 when it is missing, not a regular file or not a pid.
pid_t read_pid_at(int directory, const std::string& name) {
  UniqueFd fd(::openat(directory, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (!fd || ::fstat(fd.get(), &info) == -1 || !S_ISREG(info.st_mode)) return 0;
  char buffer[kMaxPidFileSize];
  const ssize_t length = ::read(fd.get(), buffer, sizeof buffer);
  if (length <= 0) return 0;
  std::string_view text(buffer, static_cast<std::size_t>(length));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  pid_t pid = 0;
  return parse_number(text, pid) && pid > 0 ? pid : 0;
}

// Another launcher: alive, and its command is reuserun (a recycled pid is somebody else's).
bool is_running_reuserun(pid_t pid) {
  if (pid <= 0 || pid == ::getpid()) return false;
  if (::kill(pid, 0) == -1 && errno == ESRCH) return false;
  std::string name = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name == "reuserun";
}

// A name nobody can predict: a planted link cannot wait for it, and O_EXCL refuses one anyway.
std::string temporary_name(const std::string& name) {
  unsigned char nonce[6] = {};
  if (::getrandom(nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce) return name + ".tmp";
  std::string suffix;
  constexpr std::string_view kHex = "0123456789abcdef";
  for (unsigned char byte : nonce) suffix += {kHex[byte >> 4], kHex[byte & 15]};
  return "." + name + "." + suffix;
}

}  // namespace

pid_t read_pid_file(const std::string& path) {
  auto place = open_place(path);
  return place ? read_pid_at(place.value().directory.get(), place.value().name) : 0;
}

Result<PidFile> PidFile::create(const std::string& path) {
  auto opened = open_place(path);
  if (!opened) return opened.error();
  Place& place = opened.value();
  const int directory = place.directory.get();
  const pid_t previous = read_pid_at(directory, place.name);
  if (is_running_reuserun(previous))
    return Error{"Failed to take the pid file " + path + ": reuserun pid " +
                     std::to_string(previous) + " is running with it",
                 EEXIST};
  if (previous > 0) log_info("replacing the stale pid file {} (pid {})", path, previous);
  const std::string temporary = temporary_name(place.name);
  {
    UniqueFd fd(::openat(directory, temporary.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return system_error("create the pid file " + path, errno);
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      const int error = errno;
      ::unlinkat(directory, temporary.c_str(), 0);
      return system_error("write the pid file " + path, error);
    }
  }
  // rename() replaces whatever is at the name, a planted link included, without following it.
  if (::renameat(directory, temporary.c_str(), directory, place.name.c_str()) == -1) {
    const int error = errno;
    ::unlinkat(directory, temporary.c_str(), 0);
    return system_error("rename the pid file into " + path, error);
  }
  return PidFile(std::move(place.directory), std::move(place.name));
}

PidFile PidFile::adopt(const std::string& path) {
  auto place = open_place(path);
  if (!place) return {UniqueFd(), ""};
  return {std::move(place.value().directory), std::move(place.value().name)};
}

PidFile::PidFile(PidFile&& other) noexcept
    : directory_(std::move(other.directory_)), name_(std::exchange(other.name_, "")) {}

PidFile::~PidFile() {
  // Only our own: a newer reuserun may have replaced it meanwhile.
  if (!name_.empty() && directory_ && read_pid_at(directory_.get(), name_) == ::getpid())
    ::unlinkat(directory_.get(), name_.c_str(), 0);
}

}  // namespace reuserun
