// Who listens on a port: the LISTEN rows of /proc/net/tcp{,6}, their socket inodes, and the
// processes holding those inodes (/proc/PID/fd -> "socket:[inode]"). The proc root is a parameter
// so the tests can lay out a fake /proc.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "address.hpp"

namespace reuserun {

struct TcpListenEntry {
  SocketAddress address;
  uid_t uid = 0;  // the socket's owner
  ino_t inode = 0;
};

// The rows in LISTEN state of one /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6) table.
std::vector<TcpListenEntry> parse_tcp_table(std::string_view table, int family);

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
std::vector<PortHolder> find_port_holders(const SocketAddress& address,
                                          const std::string& proc_root = "/proc");

// True when the process still has `inode` among its fds.
bool process_holds_socket(pid_t pid, ino_t inode, const std::string& proc_root = "/proc");

// The launcher's own process tree: itself, its ancestors and its descendants.
std::vector<pid_t> own_process_tree(pid_t self, const std::string& proc_root = "/proc");

// "pid 1234 (user alice): python3 -m http.server 8080"
std::string describe_holder(const PortHolder& holder);

}  // namespace reuserun
