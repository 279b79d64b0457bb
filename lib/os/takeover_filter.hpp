// The bind takeover's seccomp filter (docs/DESIGN.md §10), the os half: built once with
// libseccomp, installed in each worker's child between fork and exec, its notification fd
// received by the parent. What the loop does with the notifications is bind_takeover.hpp's
// (issue 28: spawn, in os, installs it without including the loop's side).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

// The seccomp program: bind and listen of the native architecture notify; everything else, and
// other architectures, run. Built with libseccomp before any fork.
class TakeoverFilter {
 public:
  static Result<TakeoverFilter> build();
  const sock_fprog* program() const { return &program_; }

  TakeoverFilter(TakeoverFilter&& other) noexcept
      : instructions_(std::move(other.instructions_)),
        program_{static_cast<unsigned short>(instructions_.size()), instructions_.data()} {}
  TakeoverFilter& operator=(TakeoverFilter&&) = delete;
  TakeoverFilter(const TakeoverFilter&) = delete;
  TakeoverFilter& operator=(const TakeoverFilter&) = delete;
  ~TakeoverFilter() = default;

 private:
  explicit TakeoverFilter(std::vector<sock_filter> instructions)
      : instructions_(std::move(instructions)),
        program_{static_cast<unsigned short>(instructions_.size()), instructions_.data()} {}
  std::vector<sock_filter> instructions_;
  sock_fprog program_;
};

// Child side, between fork and exec; async-signal-safe. Installs `filter` (a child without
// CAP_SYS_ADMIN sets no_new_privs first, as the kernel requires) and sends on `report` the
// notification fd, or the errno when the kernel refused. Never fails the child: it then runs
// without the takeover.
void install_takeover_filter(const sock_fprog* filter, int report);

// Parent side, once the child has exec'd: the notification fd the child sent, or the errno.
Result<UniqueFd> receive_takeover_fd(int report);

}  // namespace reuserun
