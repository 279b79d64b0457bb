// Recovering in place from a fatal signal of reuserun's own (issue 29; man/reuserun.1, FAULTS):
// on SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT, a handler re-executes reuserun (/proc/self/exe,
// the same argv, the same pid) with its listening sockets and control socket open at their
// numbers, its children untouched, and REUSERUN_RECOVERY in the environment. The new image
// rebuilds the rest from the kernel (lib/app/run.cpp, recover) and replaces the children with a
// fresh generation: nothing from the crashed image's memory is trusted but what was prepared
// here before the crash.
//
// Everything the handler needs is prepared by arm_crash_recovery: argv, envp, the fds, the
// signal mask. The handler itself only calls what a signal handler may (clock_gettime, fcntl,
// sigprocmask, _Fork, execve). It forks a copy that dies of the signal first, so a core dump
// (core_pattern, systemd-coredump) is still written. Whether to recover is judge_crash's
// (crash_policy.hpp): not for a SIGABRT another process sent (the watchdog's), not for more
// than kMaxRecoveries in kRecoveryWindowNs; then reuserun dies of the signal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crash_policy.hpp"

namespace reuserun {

inline constexpr const char* kRecoveryVariable = "REUSERUN_RECOVERY";

struct CrashRecoveryPlan {
  std::vector<std::string> argv;  // the command line the new image gets (this image's)
  std::vector<int> keep_fds;      // the listeners and the control socket
  std::string state;              // what the new image reads back (a handover text)
  CrashHistory history;           // this image's recoveries so far
};

// Installs the handler (on an alternate stack: a stack overflow is a SIGSEGV too), replacing an
// earlier plan. Called again whenever what it holds changes (a listener replaced).
void arm_crash_recovery(const CrashRecoveryPlan& plan);

// The next generation number, after each spawn (the highest said counts): carried to a crash's new image, which believes no
// child that claims a later one (a child writes its own environment).
void note_next_generation(std::uint64_t next);

// A stop is under way: a fatal signal now ends reuserun (the default action again).
void disarm_crash_recovery();

// In the new image: what the handler wrote, taken (unset) from the environment; nullopt when
// this image was not started by a recovery, or the variable is malformed.
struct RecoveredCrash {
  int signal = 0;
  CrashHistory history;  // the recovery that started this image included
  std::uint64_t next_generation = 0;  // the crashed image's: no child had a later one
  std::string state;
};
std::optional<RecoveredCrash> take_recovery_variable();

}  // namespace reuserun
