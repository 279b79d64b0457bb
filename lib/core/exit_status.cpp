#include "exit_status.hpp"

#include <sys/wait.h>

#include "signal_name.hpp"

namespace reuserun {

ExitStatus ExitStatus::from_wait(int wait_status) {
  if (WIFSIGNALED(wait_status)) return killed(WTERMSIG(wait_status));
  if (WIFEXITED(wait_status)) return exited(WEXITSTATUS(wait_status));
  return exited(wait_status);  // not an end waitpid(-1, WNOHANG) reports; kept, never lost
}

std::string ExitStatus::describe() const {
  if (signal_ != 0) return "was killed by " + signal_name(signal_);
  return "exited with status " + std::to_string(code_);
}

}  // namespace reuserun
