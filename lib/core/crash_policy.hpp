// When reuserun recovers from a fatal signal of its own (issue 29; man/reuserun.1, FAULTS), and
// when it dies of it after all. Called from the signal handler (lib/os/crash_recovery.cpp), so
// it is plain arithmetic: no allocation, no lock, nothing a handler may not call.
#pragma once

#include <csignal>
#include <cstdint>

namespace reuserun {

// The signals a bug of reuserun's own raises: recovered in place.
inline constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

// More recoveries than this within the window: the next crash is fatal, so that a bug that
// crashes reuserun at every start reaches systemd's Restart= and the logs instead of looping.
inline constexpr int kMaxRecoveries = 3;
inline constexpr std::int64_t kRecoveryWindowNs = std::int64_t{60} * 1'000'000'000;

// The recoveries in the current window, carried from image to image (crash_recovery.hpp).
struct CrashHistory {
  int recoveries = 0;
  std::int64_t window_start_ns = 0;  // CLOCK_MONOTONIC, of the window's first recovery
};

enum class CrashVerdict {
  recover,
  die_too_many,  // more than kMaxRecoveries within kRecoveryWindowNs
  die_asked,     // a SIGABRT sent by another process: systemd's watchdog (WatchdogSignal=), or
                 // someone who wants a core and an exit
};

// Decides for signal `sig`, which `sent_by_another` process sent (kill, sigqueue, tgkill from
// another pid) or not (a fault, or abort() in reuserun itself), at `now_ns`; on `recover`,
// `history` counts this recovery.
CrashVerdict judge_crash(int sig, bool sent_by_another, CrashHistory& history,
                         std::int64_t now_ns);

}  // namespace reuserun
