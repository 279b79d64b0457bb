#include "port_owner.hpp"

#include "accounts.hpp"
#include "log.hpp"
#include "procfs.hpp"
#include "text.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

namespace reuserun {
namespace {

constexpr std::string_view kListenState = "0A";  // TCP_LISTEN in the kernel's table
constexpr std::string_view kUnconnectedState = "07";  // TCP_CLOSE: an unconnected UDP socket

// "0100007F:1F90" (IPv4) or 32 hex digits + ":1F90" (IPv6). The kernel prints each 32-bit word
// of the address as a native-endian integer, so reading it back the same way restores the bytes.
bool parse_hex_address(std::string_view text, int family, SocketAddress& out) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view hex = text.substr(0, colon);
  std::uint16_t port = 0;
  if (!parse_number(text.substr(colon + 1), port, 16)) return false;
  const std::size_t words = family == AF_INET ? 1 : 4;
  if (hex.size() != words * 8) return false;
  unsigned char bytes[16];
  for (std::size_t i = 0; i < words; ++i) {
    std::uint32_t word = 0;
    if (!parse_number(hex.substr(i * 8, 8), word, 16)) return false;
    std::memcpy(bytes + i * 4, &word, 4);
  }
  out = SocketAddress{};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, bytes, 4);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, bytes, 16);
  }
  out.set_port(port);
  return true;
}

}  // namespace

std::vector<ListeningSocket> parse_tcp_table(std::string_view table, int family,
                                             Transport transport) {
  const std::string_view wanted = transport == Transport::udp ? kUnconnectedState : kListenState;
  std::vector<ListeningSocket> entries;
  std::istringstream lines{std::string(table)};
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode))
      continue;
    ListeningSocket entry;
    if (state != wanted || !parse_hex_address(local, family, entry.address) ||
        !parse_number(std::string_view(uid), entry.uid) ||
        !parse_number(std::string_view(inode), entry.inode))
      continue;
    entries.push_back(entry);
  }
  return entries;
}

std::vector<ListeningSocket> listeners_on_port(std::uint16_t port, const std::string& proc_root,
                                               Transport transport) {
  auto asked = listening_sockets(port, transport);
  if (asked) return asked.value();
  const std::string table = transport == Transport::udp ? "/net/udp" : "/net/tcp";
  log_debug("sock_diag: {}; reading {}{} instead", asked.error().message, proc_root, table);
  std::vector<ListeningSocket> found;
  for (const auto& [file, family] : {std::pair{table, AF_INET}, {table + "6", AF_INET6}})
    for (const auto& entry : parse_tcp_table(read_file(proc_root + file), family, transport))
      if (entry.address.port() == port) found.push_back(entry);
  return found;
}

std::vector<PortHolder> find_port_holders(const SocketAddress& address, Transport transport,
                                          bool v6only) {
  return find_port_holders(address, listeners_on_port(address.port(), "/proc", transport), "/proc",
                           v6only);
}

std::vector<PortHolder> find_port_holders(const SocketAddress& address,
                                          const std::vector<ListeningSocket>& listening,
                                          const std::string& proc_root, bool v6only) {
  std::map<ino_t, ListeningSocket> competing;
  for (const auto& entry : listening)
    if (addresses_overlap(entry.address, address, entry.v6only, v6only))
      competing[entry.inode] = entry;
  std::vector<PortHolder> holders;
  if (competing.empty()) return holders;
  std::map<ino_t, bool> seen;
  for (pid_t pid : list_pids(proc_root)) {
    for (ino_t inode : socket_inodes(pid, proc_root)) {
      const auto it = competing.find(inode);
      if (it == competing.end()) continue;
      seen[inode] = true;
      holders.push_back({pid, real_uid(pid, proc_root), command_line(pid, proc_root),
                         format_address(it->second.address), inode});
    }
  }
  for (const auto& [inode, entry] : competing)
    if (!seen.contains(inode))
      holders.push_back({0, entry.uid, "", format_address(entry.address), inode});
  return holders;
}

bool process_holds_socket(pid_t pid, ino_t inode, const std::string& proc_root) {
  return holder_of_socket(inode, {pid}, proc_root) == pid;
}

std::vector<pid_t> own_process_tree(pid_t self, const std::string& proc_root) {
  std::vector<pid_t> tree = process_tree(self, proc_root);
  for (pid_t pid = parent_pid(self, proc_root); pid > 0; pid = parent_pid(pid, proc_root)) {
    if (std::find(tree.begin(), tree.end(), pid) != tree.end()) break;
    tree.push_back(pid);
  }
  return tree;
}

std::string describe_holder(const PortHolder& holder) {
  if (holder.pid == 0)
    return "a process of user " + user_name(holder.uid) + " that /proc does not show (socket " +
           holder.address + ")";
  return "pid " + std::to_string(holder.pid) + " (user " + user_name(holder.uid) +
         "): " + holder.command_line;
}

}  // namespace reuserun
