// An owned file descriptor: closed exactly once, never copied.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <utility>

namespace reuserun {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing: for handing the fd to another owner.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// FD_CLOEXEC and O_NONBLOCK on an fd reuserun was handed (an upgrade's handover, socket
// activation, an accepted connection): 0, or the errno of the failed fcntl.
inline int set_close_on_exec(int fd) { return ::fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ? errno : 0; }
inline int set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags == -1 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ? errno : 0;
}

}  // namespace reuserun
