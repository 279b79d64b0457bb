// The restarts as `reuserun ctl` sees them: the clients of `ctl restart` waiting for an outcome,
// and the history `ctl status` reports (how many, the last one and when). A client that asks while
// a restart is under way waits for the next one, which its request queued (SIGHUP semantics):
// every client of one restart gets that restart's result.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "control.hpp"
#include "status.hpp"

namespace reuserun {

class RestartLedger {
 public:
  using Clock = std::chrono::steady_clock;

  // A `ctl restart` client, waiting for the outcome of the next restart to begin.
  void wait(bool json, ControlServer::Reply reply);
  // A restart began: the clients waiting for the next one wait for this one.
  void began(Generation generation, Clock::time_point now);
  // A restart ended: `result` (its duration filled in) becomes the last one, and its clients are
  // answered. Returns the result as recorded.
  const RestartResult& finished(RestartResult result, Clock::time_point now);
  // No restart will come (reuserun is stopping): every waiting client gets `result`.
  void refuse_all(const RestartResult& result);
  // reuserun exits: every waiting client is told, and nobody waits any more.
  void abandon(const std::string& text);

  unsigned long count() const { return count_; }
  const std::optional<RestartResult>& last() const { return last_; }
  Clock::time_point last_at() const { return last_at_; }
  // Carried over by an in-place upgrade.
  void restore(unsigned long count, std::optional<RestartResult> last, Clock::time_point last_at);

 private:
  struct Waiter {
    std::optional<Generation> generation;  // unset until its restart begins
    bool json = false;
    ControlServer::Reply reply;
  };
  void answer(const RestartResult& result, bool only_assigned);

  std::vector<Waiter> waiters_;
  std::optional<Clock::time_point> began_;
  std::optional<RestartResult> last_;
  Clock::time_point last_at_;
  unsigned long count_ = 0;
};

}  // namespace reuserun
