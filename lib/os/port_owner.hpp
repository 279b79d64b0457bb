// Who listens on a port: the listening sockets on it (NETLINK_SOCK_DIAG, asked for LISTEN sockets
// only, so the host's TIME_WAIT and established sockets are never read; the LISTEN rows of
// /proc/net/tcp{,6} where sock_diag is unavailable), and the processes holding those inodes
// (/proc/PID/fd -> "socket:[inode]"). The proc root is a parameter so the tests can lay out a
// fake /proc.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "address.hpp"
#include "sock_diag.hpp"

namespace reuserun {

// The rows in LISTEN state of one /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6) table; for
// Transport::udp, the unconnected rows of /proc/net/udp{,6} (same layout).
std::vector<ListeningSocket> parse_tcp_table(std::string_view table, int family,
                                             Transport transport = Transport::tcp);

// The listening TCP sockets (or unconnected UDP sockets) on `port`, both families.
std::vector<ListeningSocket> listeners_on_port(std::uint16_t port,
                                               const std::string& proc_root = "/proc",
                                               Transport transport = Transport::tcp);

struct PortHolder {
  pid_t pid = 0;
  uid_t uid = 0;  // the process's real uid
  std::string command_line;
  std::string address;  // the listening address it holds, "0.0.0.0:8080"
  ino_t inode = 0;
};

// Every process holding a listening socket that competes with `address` (same port, overlapping
// address), and the listening sockets nobody visible holds (pid 0: another user's process that
// /proc does not let us see).
// `v6only`: `address` is an IPv6 wildcard that will be bound IPV6_V6ONLY (--ipv6-only), which
// IPv4 sockets do not compete with.
std::vector<PortHolder> find_port_holders(const SocketAddress& address,
                                          Transport transport = Transport::tcp,
                                          bool v6only = false);
// The same, among `listening` (listeners_on_port's answer).
std::vector<PortHolder> find_port_holders(const SocketAddress& address,
                                          const std::vector<ListeningSocket>& listening,
                                          const std::string& proc_root = "/proc",
                                          bool v6only = false);

// True when the process still has `inode` among its fds.
bool process_holds_socket(pid_t pid, ino_t inode, const std::string& proc_root = "/proc");

// The launcher's own process tree: itself, its ancestors and its descendants.
std::vector<pid_t> own_process_tree(pid_t self, const std::string& proc_root = "/proc");

// "pid 1234 (user alice): python3 -m http.server 8080"
std::string describe_holder(const PortHolder& holder);

}  // namespace reuserun
