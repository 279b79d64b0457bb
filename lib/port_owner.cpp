#include "port_owner.hpp"

#include <dirent.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace reuserun {
namespace {

constexpr std::string_view kListenState = "0A";  // TCP_LISTEN in the kernel's table

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

template <typename Number>
bool parse_number(std::string_view text, Number& out, int base = 10) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return error == std::errc() && end == text.data() + text.size();
}

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

std::vector<pid_t> list_pids(const std::string& proc_root) {
  std::vector<pid_t> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(proc_root.c_str()), ::closedir);
  if (!dir) return pids;
  while (const dirent* entry = ::readdir(dir.get())) {
    pid_t pid = 0;
    if (parse_number(std::string_view(entry->d_name), pid) && pid > 0) pids.push_back(pid);
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

// The socket inodes among a process's fds.
std::vector<ino_t> socket_inodes(pid_t pid, const std::string& proc_root) {
  std::vector<ino_t> inodes;
  const std::string fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(fd_dir.c_str()), ::closedir);
  if (!dir) return inodes;  // gone, or another user's process
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    char target[64];
    const std::string link = fd_dir + "/" + entry->d_name;
    const ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
    if (length <= 0) continue;
    const std::string_view text(target, static_cast<std::size_t>(length));
    ino_t inode = 0;
    if (text.starts_with("socket:[") && text.ends_with("]") &&
        parse_number(text.substr(8, text.size() - 9), inode))
      inodes.push_back(inode);
  }
  return inodes;
}

// A field of /proc/PID/status, "" when absent.
std::string status_field(pid_t pid, std::string_view key, const std::string& proc_root) {
  std::istringstream status(read_file(proc_root + "/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
      return line.substr(key.size() + 1);
  return "";
}

uid_t real_uid(pid_t pid, const std::string& proc_root) {
  std::istringstream fields(status_field(pid, "Uid", proc_root));
  uid_t uid = 0;
  fields >> uid;
  return uid;
}

pid_t parent_pid(pid_t pid, const std::string& proc_root) {
  std::istringstream fields(status_field(pid, "PPid", proc_root));
  pid_t parent = 0;
  fields >> parent;
  return parent;
}

std::string command_line(pid_t pid, const std::string& proc_root) {
  std::string text = read_file(proc_root + "/" + std::to_string(pid) + "/cmdline");
  while (!text.empty() && text.back() == '\0') text.pop_back();
  std::replace(text.begin(), text.end(), '\0', ' ');
  constexpr std::size_t kMaxLength = 200;
  if (text.size() > kMaxLength) text = text.substr(0, kMaxLength) + "...";
  return text.empty() ? "?" : text;
}

std::string user_name(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

}  // namespace

std::vector<TcpListenEntry> parse_tcp_table(std::string_view table, int family) {
  std::vector<TcpListenEntry> entries;
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
    TcpListenEntry entry;
    if (state != kListenState || !parse_hex_address(local, family, entry.address) ||
        !parse_number(std::string_view(uid), entry.uid) ||
        !parse_number(std::string_view(inode), entry.inode))
      continue;
    entries.push_back(entry);
  }
  return entries;
}

std::vector<PortHolder> find_port_holders(const SocketAddress& address,
                                          const std::string& proc_root) {
  std::map<ino_t, TcpListenEntry> competing;
  for (const auto& [file, family] : {std::pair{"/net/tcp", AF_INET}, {"/net/tcp6", AF_INET6}})
    for (const auto& entry : parse_tcp_table(read_file(proc_root + file), family))
      if (addresses_overlap(entry.address, address)) competing[entry.inode] = entry;
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
  const auto inodes = socket_inodes(pid, proc_root);
  return std::find(inodes.begin(), inodes.end(), inode) != inodes.end();
}

std::vector<pid_t> own_process_tree(pid_t self, const std::string& proc_root) {
  std::vector<pid_t> ancestors;
  for (pid_t pid = parent_pid(self, proc_root); pid > 0; pid = parent_pid(pid, proc_root)) {
    if (std::find(ancestors.begin(), ancestors.end(), pid) != ancestors.end()) break;
    ancestors.push_back(pid);
  }
  // Descendants: add every process whose parent is self or a descendant, until nothing changes.
  std::vector<pid_t> descendants{self};
  const auto pids = list_pids(proc_root);
  std::map<pid_t, pid_t> parents;
  for (pid_t pid : pids) parents[pid] = parent_pid(pid, proc_root);
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, parent] : parents) {
      const auto contains = [&](pid_t p) {
        return std::find(descendants.begin(), descendants.end(), p) != descendants.end();
      };
      if (!contains(pid) && contains(parent)) {
        descendants.push_back(pid);
        grew = true;
      }
    }
  }
  descendants.insert(descendants.end(), ancestors.begin(), ancestors.end());
  return descendants;
}

std::string describe_holder(const PortHolder& holder) {
  if (holder.pid == 0)
    return "a process of user " + user_name(holder.uid) + " that /proc does not show (socket " +
           holder.address + ")";
  return "pid " + std::to_string(holder.pid) + " (user " + user_name(holder.uid) +
         "): " + holder.command_line;
}

std::string protected_reason(const PortHolder& holder, const std::vector<pid_t>& own_tree,
                             uid_t our_uid) {
  if (holder.pid == 0) return "it is not visible in /proc";
  if (holder.pid == 1) return "it is PID 1";
  if (std::find(own_tree.begin(), own_tree.end(), holder.pid) != own_tree.end())
    return "it is part of reuserun's own process tree";
  if (our_uid != 0 && holder.uid != our_uid) return "it belongs to another user";
  return "";
}

}  // namespace reuserun
