// run(): what reuserun does once the command line is understood. Free the port, bind once, then
// supervise generations until told to stop. Returns the process exit status (exit_code.hpp).
#pragma once

#include "config.hpp"
#include "crash_recovery.hpp"
#include "listener.hpp"
#include "orphans.hpp"

namespace reuserun {

int run(const Config& config);

// The generation a killed reuserun left that still holds `listeners` (orphans.hpp): socket-
// activated ones (systemd's fd store, KillMode=process), or those of a crashed image that had
// adopted it and not yet drained it. Drained once a generation of ours serves.
std::vector<Orphan> orphans_of_listeners(const Config& config,
                                         const std::vector<Listener>& listeners);

// The new image of an in-place upgrade: takes over the handover at `handover_fd` (upgrade.hpp)
// and carries on supervising; kExitHandover when the handover cannot be taken over.
int resume(const Config& config, int handover_fd);

// The new image of a recovery in place from a fatal signal (crash_recovery.hpp): takes the
// sockets the crashed image prepared and its children, and replaces them with a fresh generation.
int recover(const Config& config, const RecoveredCrash& crash);

}  // namespace reuserun
