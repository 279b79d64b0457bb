// Asking the kernel about TCP sockets through NETLINK_SOCK_DIAG (what ss(8) uses): an exact
// lookup by 4-tuple, without scanning /proc/net/tcp (which under load holds every TIME_WAIT).
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "address.hpp"
#include "result.hpp"

namespace reuserun {

// The server side of a connection to `server` from `client`: its socket inode once some process
// has accept()ed it, 0 while it still waits in the accept queue (it has no file yet), nullopt
// when the kernel has no such connection (yet). docs/DESIGN.md §3.
Result<std::optional<ino_t>> accepted_inode(const SocketAddress& server,
                                            const SocketAddress& client);

// Which sockets: TCP ones in LISTEN state, or UDP ones bound and unconnected (a server's: a
// client's connected socket is not a holder of its local port).
enum class Transport { tcp, udp };

struct ListeningSocket {
  SocketAddress address;
  ino_t inode = 0;
  uid_t uid = 0;         // the socket's owner
  bool v6only = false;   // an IPv6 socket with IPV6_V6ONLY: its wildcard does not cover IPv4
};

// Every TCP socket in LISTEN state (or unconnected UDP socket) on `port`, both families.
Result<std::vector<ListeningSocket>> listening_sockets(std::uint16_t port,
                                                       Transport transport = Transport::tcp);

}  // namespace reuserun
