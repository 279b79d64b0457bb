#include "activation.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spawn.hpp"
#include "text.hpp"

namespace reuserun {
namespace {

std::string_view env_or_empty(const char* name) {
  const char* value = ::getenv(name);
  return value != nullptr ? value : "";
}

// LISTEN_FDNAMES is colon-separated; a missing or short list names the rest "unknown", as
// sd_listen_fds_with_names(3) does.
std::vector<std::string> fd_names(std::size_t count) {
  std::vector<std::string> names;
  std::string_view list = env_or_empty("LISTEN_FDNAMES");
  while (!list.empty() && names.size() < count) {
    const auto colon = list.find(':');
    names.emplace_back(list.substr(0, colon));
    list = colon == std::string_view::npos ? "" : list.substr(colon + 1);
  }
  while (names.size() < count) names.emplace_back("unknown");
  return names;
}

int socket_option(int fd, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  return ::getsockopt(fd, SOL_SOCKET, option, &value, &length) == 0 ? value : -1;
}

}  // namespace

Result<Listener> adopt_listener(int fd, const std::string& name, const std::string& which,
                                bool owns_path) {
  struct stat info {};
  if (::fstat(fd, &info) == -1) return system_error("inspect " + which, errno);
  if (!S_ISSOCK(info.st_mode)) return Error{which + " is not a socket", ENOTSOCK};
  const int type = socket_option(fd, SO_TYPE);
  if (type != SOCK_STREAM && type != SOCK_SEQPACKET && type != SOCK_DGRAM)
    return Error{which + " is neither a stream, a datagram nor a seqpacket socket", EINVAL};
  if (type != SOCK_DGRAM && socket_option(fd, SO_ACCEPTCONN) != 1)
    return Error{which + " is not listening", EINVAL};
  SocketAddress address;
  socklen_t length = sizeof address.storage;
  if (::getsockname(fd, address.get(), &length) == -1)
    return system_error("read the address of " + which, errno);
  // Ours from now on: no child gets it except through the handover at fds 3...
  if (const int error = set_close_on_exec(fd))
    return system_error("keep " + which + " ours", error);
  if (address.family() == AF_INET || address.family() == AF_INET6) {
    if (type == SOCK_SEQPACKET) return Error{which + " is an SCTP socket", EAFNOSUPPORT};
    return Listener::adopt_inet(
        UniqueFd(fd), type == SOCK_DGRAM ? ListenSpec::Kind::udp : ListenSpec::Kind::tcp, address,
        name);
  }
  if (address.family() != AF_UNIX)
    return Error{which + " is neither an IP nor a unix socket", EAFNOSUPPORT};
  const auto& unix_address = *reinterpret_cast<const sockaddr_un*>(&address.storage);
  std::string path(unix_address.sun_path, length > offsetof(sockaddr_un, sun_path)
                                              ? length - offsetof(sockaddr_un, sun_path)
                                              : 0);
  if (!path.empty() && path.front() == '\0') path.front() = '@';  // abstract namespace
  while (!path.empty() && path.back() == '\0') path.pop_back();
  const ListenSpec::Kind kind = type == SOCK_DGRAM       ? ListenSpec::Kind::unix_dgram
                                : type == SOCK_SEQPACKET ? ListenSpec::Kind::unix_seqpacket
                                                         : ListenSpec::Kind::unix_stream;
  return Listener::adopt_unix(UniqueFd(fd), kind, path, name, owns_path);
}

bool socket_activated() {
  pid_t pid = 0;
  return parse_number(env_or_empty("LISTEN_PID"), pid) && pid == ::getpid() &&
         !env_or_empty("LISTEN_FDS").empty();
}

Result<std::vector<Listener>> adopt_activated_listeners() {
  const std::string_view count_text = env_or_empty("LISTEN_FDS");
  std::size_t count = 0;
  if (!parse_number(count_text, count) || count == 0 || count > kMaxListeners)
    return Error{"invalid LISTEN_FDS='" + std::string(count_text) + "': expected 1 to " +
                     std::to_string(kMaxListeners) + " sockets",
                 EINVAL};
  const std::vector<std::string> names = fd_names(count);
  std::vector<Listener> listeners;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = kListenFdsStart + static_cast<int>(i);
    const std::string which = "socket-activation fd " + std::to_string(fd) + " (" + names[i] + ")";
    auto listener = adopt_listener(fd, names[i], which);
    if (!listener) return listener.error();
    listeners.push_back(std::move(listener.value()));
  }
  return listeners;
}

}  // namespace reuserun
