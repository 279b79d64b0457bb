// --pid-file: the launcher's pid, for `kill -HUP $(cat FILE)`. Written atomically (a temporary
// file renamed over it), removed at exit if it still names us, and never taken over from a
// reuserun that is still running; a file left by a dead process is replaced.
#pragma once

#include <sys/types.h>

#include <string>

#include "result.hpp"

namespace reuserun {

class PidFile {
 public:
  static Result<PidFile> create(const std::string& path);
  // The file an earlier image of this process wrote (an upgrade keeps the PID): removed at exit.
  static PidFile adopt(const std::string& path) { return PidFile(path); }
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

 private:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  std::string path_;  // empty: moved from
};

// The pid a pid file names, or 0 when it is missing or holds no pid.
pid_t read_pid_file(const std::string& path);

}  // namespace reuserun
