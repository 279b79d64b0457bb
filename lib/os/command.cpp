#include "command.hpp"

#include <cstdlib>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace reuserun {

ResolvedCommand resolve_command(std::string_view name, std::string_view search_path,
                                const ExecutableCheck& check, std::string_view directory) {
  if (name.empty()) return {"", ENOENT};
  // The child runs after chdir(directory): a relative path means a file there, not here.
  const auto where = [&](const std::string& path) {
    return directory.empty() || path.starts_with('/') ? path : std::string(directory) + "/" + path;
  };
  if (name.find('/') != std::string_view::npos) {
    std::string path = where(std::string(name));
    const int error = check(path);
    return {error == 0 ? path : "", error};
  }
  int remembered = ENOENT;
  std::size_t start = 0;
  while (start <= search_path.size()) {
    std::size_t end = search_path.find(':', start);
    if (end == std::string_view::npos) end = search_path.size();
    std::string entry(search_path.substr(start, end - start));
    std::string candidate = where((entry.empty() ? "." : entry) + "/" + std::string(name));
    const int error = check(candidate);
    if (error == 0) return {candidate, 0};
    if (error == EACCES) remembered = EACCES;
    start = end + 1;
  }
  return {"", remembered};
}

int check_executable(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == -1) return errno;
  if (!S_ISREG(info.st_mode)) return EACCES;
  if (::access(path.c_str(), X_OK) == -1) return errno;
  return 0;
}

std::string search_path_of_environment() {
  const char* path = ::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

}  // namespace reuserun
