// The mechanics of an in-place upgrade (SIGUSR2, `reuserun ctl upgrade`; man/reuserun.1,
// UPGRADE): which binary, the handover file, execve with the right fds and signals, and the
// check mode the new binary is run in first. The event loop decides when (event_loop_upgrade.cpp).
#pragma once

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

// The fd of the handover, for the new image.
inline constexpr const char* kHandoverFdVariable = "REUSERUN_HANDOVER_FD";
// The check run of the new binary gets its fd on the command line, first: a reuserun too old to
// know the option refuses it (exit 2) instead of starting a second launcher on the port.
inline constexpr const char* kUpgradeCheckOption = "--upgrade-check";

// The new image of an upgrade or of a recovery from a crash (crash_recovery.hpp): the sockets
// come from the handover.
bool handover_expected();

// Reads and unsets `variable`: the fd it names, -1 when it is malformed, nullopt when unset.
std::optional<int> take_fd_variable(const char* variable);

// The path this process runs from (/proc/self/exe; " (deleted)" dropped: the file was replaced).
std::string running_executable();

// What an upgrade executes: --reexec-as (a name is looked up in PATH), else `started_from`,
// the path reuserun was started from, looked up again so that a replaced file is the new one.
Result<std::string> upgrade_executable(const std::string& reexec_as,
                                       const std::string& started_from);

// The handover text in an anonymous memory file (memfd, close-on-exec), read from offset 0.
Result<UniqueFd> write_handover_file(const std::string& text);
Result<std::string> read_handover_file(int fd);

// Replaces this process's image with `executable argv` (the same PID, so the children stay
// ours), the environment plus REUSERUN_HANDOVER_FD. `inherited` (and the handover) stay open at
// their numbers; the signals reuserun handles are blocked, so that those arriving meanwhile wait
// for the new image instead of killing it. Returns only when execve failed, with the fds and the
// signal mask as they were.
Error exec_new_image(const std::string& executable, const std::vector<std::string>& argv,
                     int handover_fd, const std::vector<int>& inherited);

// Blocks (or unblocks) the signals reuserun handles: blocked from just before execve until the
// new image listens for them (pending ones survive execve; ignoring them would drop them).
void block_upgrade_signals(bool block);
// Those signals, as a set (the crash recovery blocks them across its execve too).
void upgrade_signal_set(sigset_t* set);

// `reuserun --upgrade-check FD ARGS...`: the new binary's check before an upgrade commits. Its
// command line was parsed already; this reads the handover at fd and decodes it. 0 when this binary
// can take over, kExitHandover (after one line naming why) when not.
int check_handover(int fd);

}  // namespace reuserun
