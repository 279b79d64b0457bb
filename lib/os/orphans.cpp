#include "orphans.hpp"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "free_port.hpp"
#include "log.hpp"
#include "freeing_rule.hpp"
#include "port_owner.hpp"
#include "procfs.hpp"
#include "sock_diag.hpp"
#include "text.hpp"

namespace reuserun {
namespace {

// The number of the fd through which `pid` holds socket `inode`; -1 when it holds none.
int fd_of_socket(pid_t pid, ino_t inode) {
  const std::string directory = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = ::opendir(directory.c_str());
  if (fds == nullptr) return -1;
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  int found = -1;
  while (const dirent* entry = ::readdir(fds)) {
    int fd = -1;
    if (!parse_number(std::string_view(entry->d_name), fd)) continue;
    char target[64];
    const ssize_t length =
        ::readlink((directory + "/" + entry->d_name).c_str(), target, sizeof target - 1);
    if (length > 0 && std::string_view(target, static_cast<std::size_t>(length)) == wanted) {
      found = fd;
      break;
    }
  }
  ::closedir(fds);
  return found;
}

// Why the taken socket is not the one to serve `address` with, or "".
std::string misfit(int socket, const SocketAddress& address, bool v6only) {
  int listening = 0;
  int type = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(socket, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == -1 || listening == 0)
    return "it is not listening";
  size = sizeof type;
  if (::getsockopt(socket, SOL_SOCKET, SO_TYPE, &type, &size) == -1 || type != SOCK_STREAM)
    return "it is not a stream socket";
  SocketAddress bound;
  socklen_t length = sizeof bound.storage;
  if (::getsockname(socket, bound.get(), &length) == -1) return "getsockname failed";
  if (format_address(bound) != format_address(address))
    return "it listens on " + format_address(bound) + ", not " + format_address(address);
  if (address.family() == AF_INET6 && address.is_wildcard()) {
    int only = 0;
    size = sizeof only;
    (void)::getsockopt(socket, IPPROTO_IPV6, IPV6_V6ONLY, &only, &size);
    if ((only != 0) != v6only) return only != 0 ? "it serves IPv6 only" : "it serves IPv4 too";
  }
  return "";
}

}  // namespace

std::optional<Orphan> pin_process(pid_t pid) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return std::nullopt;
  return Orphan{pid, command_line(pid), std::move(pidfd)};
}

std::string describe_orphans(const std::vector<Orphan>& orphans) {
  std::string text;
  for (const Orphan& orphan : orphans)
    text += fmt::format("{}pid {} ({})", text.empty() ? "" : ", ", orphan.pid,
                        orphan.command_line);
  return text;
}

std::vector<Orphan> orphans_holding(ino_t inode, std::uint16_t port,
                                    const std::vector<uid_t>& uids, bool* others) {
  const SelfFacts self = self_facts();
  std::vector<Orphan> orphans;
  for (const pid_t pid : list_pids()) {
    if (pid == 1 || std::find(self.own_tree.begin(), self.own_tree.end(), pid) !=
                        self.own_tree.end())
      continue;
    if (!process_holds_socket(pid, inode)) continue;
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) continue;  // gone
    ProcessFacts facts = read_process_facts(pid);
    facts.pid = pid;
    // Pinned, then judged, then checked to still hold it: the facts are this process's.
    const bool ours = is_reuserun_orphan(facts, self, port) &&
                      std::find(uids.begin(), uids.end(), facts.uid) != uids.end();
    if (!process_holds_socket(pid, inode)) continue;
    if (ours)
      orphans.push_back({pid, command_line(pid), std::move(pidfd)});
    else if (others != nullptr)
      *others = true;
  }
  return orphans;
}

Result<Adoption> adopt_orphaned_socket(const SocketAddress& address, bool v6only,
                                       const std::vector<uid_t>& uids) {
  auto sockets = listening_sockets(address.port());
  if (!sockets) return Adoption{};
  std::vector<ListeningSocket> competing;
  for (const ListeningSocket& socket : sockets.value())
    if (addresses_overlap(address, socket.address, v6only, socket.v6only))
      competing.push_back(socket);
  // One socket, reuserun's uid's: a reuserun's. Several (a SO_REUSEPORT group) are not.
  if (competing.size() != 1 || competing.front().uid != ::geteuid()) return Adoption{};
  const ino_t inode = competing.front().inode;
  Adoption adoption;
  bool others = false;
  adoption.orphans = orphans_holding(inode, address.port(), uids, &others);
  if (adoption.orphans.empty() || others) return Adoption{};  // the freeing rule's to judge
  const std::string whose = describe_orphans(adoption.orphans);
  for (const Orphan& orphan : adoption.orphans) {
    const int fd = fd_of_socket(orphan.pid, inode);
    if (fd < 0) continue;
    const int taken = static_cast<int>(::syscall(SYS_pidfd_getfd, orphan.pidfd.get(), fd, 0));
    if (taken < 0) {
      const int error = errno;
      return Error{fmt::format("cannot take the socket from {}: pidfd_getfd: {}{}", whose,
                               std::strerror(error),
                               error == EPERM ? " (it needs ptrace rights over them: root, or "
                                                "the same user where Yama's ptrace_scope is 0)"
                                              : ""),
                   error};
    }
    adoption.socket.reset(taken);  // pidfd_getfd sets FD_CLOEXEC
    struct stat info {};
    if (::fstat(taken, &info) == -1 || info.st_ino != inode)  // swapped since it was judged
      return Error{fmt::format("the socket {} hold changed while it was taken", whose)};
    if (const std::string why = misfit(taken, address, v6only); !why.empty())
      return Error{fmt::format("the socket {} hold is not the one to serve: {}", whose, why)};
    return adoption;
  }
  return Error{fmt::format("none of {} holds the socket any more", whose)};
}

}  // namespace reuserun
