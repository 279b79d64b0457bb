// What a killed reuserun left (issue 29, part 2; docs/DESIGN.md §1): its children outlive it
// (reuserun sets no PR_SET_PDEATHSIG unless --pdeathsig) and keep serving its listening socket.
// The next reuserun for the port takes that very socket from them (pidfd_getfd: no connection
// waiting in its backlog is lost), starts its own generation, and only once it is ready asks
// them to drain (orphan_drain.hpp). They are not its children: each is pinned with a pidfd.
//
// Only a socket that can only be a killed reuserun's is taken: every process that holds it is
// an orphan of an earlier reuserun for the port (its environment's REUSERUN_PORTS, a parent
// that is no reuserun, reuserun's namespaces) running as one of the uids reuserun would run
// its children as, and the socket's owner is reuserun's own uid. Anything else is left to the
// freeing rule: a process of another user that plants REUSERUN_PORTS in its environment gets
// SIGTERM at most, never root's trust in its socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

struct Orphan {
  pid_t pid = 0;
  std::string command_line;
  UniqueFd pidfd;  // pins it: a recycled pid never receives reuserun's signal
};

// `pid`, pinned; nullopt when it is gone.
std::optional<Orphan> pin_process(pid_t pid);

// "pid 4242 (./server --flags), pid 4243 (./server --flags)".
std::string describe_orphans(const std::vector<Orphan>& orphans);

// The processes holding listening socket `inode` on `port` that are such orphans running as one
// of `uids`, pinned. `others` (when given) is set when another process holds it too, that is
// neither in reuserun's own tree (itself, its generations) nor PID 1 (systemd, holding a socket
// unit's or its fd store's copy).
std::vector<Orphan> orphans_holding(ino_t inode, std::uint16_t port,
                                    const std::vector<uid_t>& uids, bool* others = nullptr);

// A killed reuserun's listening TCP socket on `address` (exactly that address), taken from its
// orphans. Error: orphans hold it but it cannot be taken (why, in words: no ptrace rights,
// another address, ...). An empty `orphans` and no socket: there is nothing to adopt.
struct Adoption {
  UniqueFd socket;
  std::vector<Orphan> orphans;
};
Result<Adoption> adopt_orphaned_socket(const SocketAddress& address, bool v6only,
                                       const std::vector<uid_t>& uids);

}  // namespace reuserun
