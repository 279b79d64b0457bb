// reuserun's exit statuses. They are part of the interface: man/reuserun.1 (EXIT STATUS)
// documents each one and the integration tests check them.
#pragma once

#include <cerrno>

namespace reuserun {

inline constexpr int kExitOk = 0;               // stopped on request, every child exited in time
inline constexpr int kExitFailure = 1;          // runtime error (event loop, signals, ...)
inline constexpr int kExitUsage = 2;            // invalid option, value or missing command
inline constexpr int kExitListen = 3;           // the port could not be freed or bound
inline constexpr int kExitForcedStop = 4;       // stopped, but a child had to be SIGKILLed
inline constexpr int kExitPidFile = 5;          // --pid-file names a running reuserun, or fails
inline constexpr int kExitHandover = 6;         // an upgrade's handover was refused (man: UPGRADE)
inline constexpr int kExitStartFailed = 7;      // the first start failed for good: daemonized,
                                                // or --start-attempts failures in a row
inline constexpr int kExitNotExecutable = 126;  // the command exists but cannot be executed
inline constexpr int kExitNotFound = 127;       // the command was not found

// `reuserun ctl` exit statuses besides 0 and kExitUsage (man/reuserun.1, CONTROL).
inline constexpr int kCtlUnreachable = 1;     // no control socket, refused, or not allowed
inline constexpr int kCtlExited = 10;         // the new generation exited before it was ready
inline constexpr int kCtlGateFailed = 11;     // its readiness gate failed
inline constexpr int kCtlTimedOut = 12;       // not ready within --ready-timeout
inline constexpr int kCtlSpawnFailed = 13;    // it could not be started
inline constexpr int kCtlStopping = 14;       // reuserun stopped before the restart ended
inline constexpr int kCtlUpgradeFailed = 15;  // the upgrade failed: the old reuserun runs on

// The exit status for a command that could not be started at all, from the exec errno (the
// shell's convention: 127 when nothing was found, 126 when it was found but not runnable).
inline int exit_code_for_exec_error(int error) {
  return error == ENOENT || error == ENOTDIR ? kExitNotFound : kExitNotExecutable;
}

}  // namespace reuserun
