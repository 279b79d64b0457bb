// How a child ended, decoded once from its wait status by the Reaper and handed as this to every
// reader: the supervisor, the exec gate, the upgrade check. Issue 28: the status was decoded,
// packed back into an int, and unpacked by hand in three places, with copied wording.
#pragma once

#include <optional>
#include <string>

namespace reuserun {

class ExitStatus {
 public:
  static ExitStatus exited(int code) { return {code, 0}; }
  static ExitStatus killed(int sig) { return {0, sig}; }
  // What waitpid() said; a status that is neither (stopped, continued) counts as "ended" with
  // the raw value.
  static ExitStatus from_wait(int wait_status);

  // Its exit code, when it exited (nullopt when a signal ended it).
  std::optional<int> code() const { return signal_ == 0 ? std::optional(code_) : std::nullopt; }
  // The signal that ended it, when one did.
  std::optional<int> signal() const { return signal_ != 0 ? std::optional(signal_) : std::nullopt; }
  bool succeeded() const { return code() == 0; }
  // "exited with status 3", "was killed by SIGKILL": for the log and ctl.
  std::string describe() const;

  bool operator==(const ExitStatus&) const = default;

 private:
  ExitStatus(int code, int sig) : code_(code), signal_(sig) {}
  int code_ = 0;
  int signal_ = 0;
};

}  // namespace reuserun
