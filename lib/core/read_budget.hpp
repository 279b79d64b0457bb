// What one look at other processes may spend reading /proc (issue 25, finding 3). A child
// chooses how much there is to read: a select() over 65536 fds, 65536 open fds, an epoll set
// with a million targets, a thousand threads. Reading all of it on the loop thread let one child
// delay `ctl status`, the ready-timeout and SIGTERM by seconds. A look that runs out of budget
// stops and says so; what it could not read, it does not claim to know.
#pragma once

#include <chrono>
#include <cstddef>

namespace reuserun {

class ReadBudget {
 public:
  struct Limits {
    std::chrono::steady_clock::duration time;
    long files;          // files opened or read, links resolved
    std::size_t bytes;   // of file contents and memory
  };
  // One look of the readiness gates: about 20 ms of work at most, several times what a
  // generation of 64 workers costs.
  static constexpr Limits kOneLook{std::chrono::milliseconds(20), 8192, std::size_t{1} << 20};

  explicit ReadBudget(Limits limits = kOneLook)
      : deadline_(std::chrono::steady_clock::now() + limits.time),
        files_(limits.files),
        bytes_(limits.bytes) {}

  // Spends one file (or link) and `bytes`; false once the budget is spent, and from then on.
  bool spend(long files, std::size_t bytes = 0) {
    if (spent_) return false;
    if (files > files_ || bytes > bytes_ || std::chrono::steady_clock::now() >= deadline_) {
      spent_ = true;
      return false;
    }
    files_ -= files;
    bytes_ -= bytes;
    return true;
  }
  bool spent() const { return spent_; }
  std::size_t bytes_left() const { return bytes_; }

 private:
  std::chrono::steady_clock::time_point deadline_;
  long files_;
  std::size_t bytes_;
  bool spent_ = false;
};

}  // namespace reuserun
