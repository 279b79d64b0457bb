#include "env_file.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "unique_fd.hpp"

namespace reuserun {

namespace {

// open(2) with the reader's file-system identity: setfsuid/setfsgid change only what permission
// checks see (and drop root's file capabilities while non-zero), the groups are put back after.
// reuserun is single-threaded, so nothing else runs meanwhile.
int open_as(const FileReader& reader, const std::string& path) {
  const auto open_file = [&] {
    return ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  };
  if ((!reader.uid && !reader.gid) || ::geteuid() != 0) return open_file();
  std::vector<gid_t> saved(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
  if (::getgroups(static_cast<int>(saved.size()), saved.data()) == -1) return -1;
  const std::vector<gid_t> groups =
      reader.uid || !reader.groups.empty() ? reader.groups : std::vector<gid_t>{*reader.gid};
  if (::setgroups(groups.size(), groups.data()) == -1) return -1;
  const gid_t old_gid = static_cast<gid_t>(::setfsgid(reader.gid.value_or(::getegid())));
  const uid_t old_uid = static_cast<uid_t>(::setfsuid(reader.uid.value_or(::geteuid())));
  const int fd = open_file();
  const int error = errno;
  ::setfsuid(old_uid);
  ::setfsgid(old_gid);
  (void)::setgroups(saved.size(), saved.data());
  errno = error;
  return fd;
}

Result<std::string> read_regular_file(const std::string& path, const FileReader& reader) {
  const std::string what = "read --env-file " + path;
  UniqueFd fd(open_as(reader, path));
  if (!fd && errno == ELOOP)
    return Error{"Failed to " + what + ": it is a symbolic link (name the file itself)", ELOOP};
  if (!fd) return system_error(what, errno);
  struct stat info {};
  if (::fstat(fd.get(), &info) == -1) return system_error(what, errno);
  if (!S_ISREG(info.st_mode)) return Error{"Failed to " + what + ": not a regular file", EINVAL};
  if (static_cast<std::size_t>(info.st_size) > kMaxEnvFileSize)
    return Error{
        "Failed to " + what + ": larger than " + std::to_string(kMaxEnvFileSize) + " bytes", EFBIG};
  std::string text;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return system_error(what, errno);
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxEnvFileSize)  // grew while we read
      return Error{
          "Failed to " + what + ": larger than " + std::to_string(kMaxEnvFileSize) + " bytes",
          EFBIG};
  }
  return text;
}

}  // namespace

Result<EnvPairs> read_env_file(const std::string& path, const FileReader& reader) {
  auto text = read_regular_file(path, reader);
  if (!text) return text.error();
  return parse_env_text(text.value(), path);
}

FileReader children_reader(const Config& config) {
  return {config.user, config.group, config.groups};
}

// Read again for every generation: a deploy changes the file, the next generation sees it.
Result<EnvPairs> read_children_env_file(const Config& config) {
  if (config.env_file.empty()) return EnvPairs{};
  return read_env_file(config.env_file, children_reader(config));
}

}  // namespace reuserun
