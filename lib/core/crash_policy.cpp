#include "crash_policy.hpp"

namespace reuserun {

CrashVerdict judge_crash(int sig, bool sent_by_another, CrashHistory& history,
                         std::int64_t now_ns) {
  if (sig == SIGABRT && sent_by_another) return CrashVerdict::die_asked;
  if (history.recoveries == 0 || now_ns - history.window_start_ns > kRecoveryWindowNs) {
    history.recoveries = 0;
    history.window_start_ns = now_ns;
  }
  if (history.recoveries >= kMaxRecoveries) return CrashVerdict::die_too_many;
  ++history.recoveries;
  return CrashVerdict::recover;
}

}  // namespace reuserun
