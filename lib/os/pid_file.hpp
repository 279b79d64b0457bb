// --pid-file: the launcher's pid, for `kill -HUP $(cat FILE)`. Written atomically (a temporary
// file with an unpredictable name, O_EXCL|O_NOFOLLOW, renamed over it), removed at exit if it
// still names us, and never taken over from a reuserun that is still running; a file left by a
// dead process is replaced. Every access is relative to the directory's fd and follows no link
// at the last component: the directory may belong to the service's own, unprivileged account.
#pragma once

#include <sys/types.h>

#include <string>

#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

class PidFile {
 public:
  static Result<PidFile> create(const std::string& path);
  // The file an earlier image of this process wrote (an upgrade keeps the PID): removed at exit.
  static PidFile adopt(const std::string& path);
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

 private:
  PidFile(UniqueFd directory, std::string name)
      : directory_(std::move(directory)), name_(std::move(name)) {}
  UniqueFd directory_;
  std::string name_;  // empty: moved from
};

// The pid a pid file names, or 0 when it is missing, not a regular file or holds no pid.
pid_t read_pid_file(const std::string& path);

}  // namespace reuserun
