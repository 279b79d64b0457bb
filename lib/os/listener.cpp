#include "listener.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "unix_socket.hpp"

namespace reuserun {

namespace {

Result<UniqueFd> bind_socket(const SocketAddress& address, int type, int backlog,
                             bool ipv6_only) {
  UniqueFd fd(::socket(address.family(), type | SOCK_CLOEXEC, 0));
  const std::string where = (type == SOCK_DGRAM ? "udp:" : "") + format_address(address);
  if (!fd) return system_error("create a socket for " + where, errno);
  const int on = 1;
  // Not on a datagram socket: for UDP, SO_REUSEADDR on both sides lets any uid bind the same
  // port beside it, and the best-matching socket (127.0.0.1 beats the wildcard) takes the
  // datagrams. SO_REUSEPORT's group is per uid (issue 25, finding 1).
  if (type != SOCK_DGRAM &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
    return system_error("set SO_REUSEADDR on " + where, errno);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == -1)
    return system_error("set SO_REUSEPORT on " + where, errno);
  // The IPv6 wildcard serves IPv4 too, whatever net.ipv6.bindv6only says, unless --ipv6-only.
  const int v6only = ipv6_only ? 1 : 0;
  if (address.family() == AF_INET6 && (address.is_wildcard() || ipv6_only) &&
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) == -1)
    return system_error("set IPV6_V6ONLY on " + where, errno);
  if (::bind(fd.get(), address.get(), address.length()) == -1)
    return system_error("bind " + where, errno);
  if (type != SOCK_DGRAM && ::listen(fd.get(), backlog) == -1)
    return system_error("listen on " + where, errno);
  return fd;
}

}  // namespace

Result<Listener> Listener::open(const ListenSpec& spec, int backlog, bool ipv6_only) {
  const int type = socket_type(spec.kind);
  if (reuserun::is_inet(spec.kind)) {
    SocketAddress address = spec.address.value_or(any_address_ipv6(spec.port));
    address.set_port(spec.port);
    auto fd = bind_socket(address, type, backlog, ipv6_only);
    // "Every address" on a machine without IPv6: fall back to the IPv4 wildcard.
    if (!fd && !spec.address && !ipv6_only &&
        (fd.error().code == EAFNOSUPPORT || fd.error().code == EADDRNOTAVAIL)) {
      address = any_address_ipv4(spec.port);
      fd = bind_socket(address, type, backlog, ipv6_only);
    }
    if (!fd) return fd.error();
    socklen_t length = sizeof address.storage;
    if (::getsockname(fd.value().get(), address.get(), &length) == -1)
      return system_error("read the address of " + format_address(address), errno);
    Listener listener(std::move(fd.value()), spec.kind, address, "", spec.name, false);
    listener.opened_from_ = spec;
    return listener;
  }
  auto fd = bind_unix_socket(spec.path, spec.mode.value_or(0666), backlog, "unix socket",
                             {spec.owner, spec.group}, type);
  if (!fd) return fd.error();
  Listener listener(std::move(fd.value()), spec.kind, {}, spec.path, spec.name, true);
  listener.opened_from_ = spec;
  return listener;
}

ListenSpec Listener::reopen_spec() const {
  ListenSpec spec = opened_from_.value_or(ListenSpec{});
  spec.kind = kind_;
  spec.name = name_;
  if (is_inet()) {
    spec.address = address_;  // the IPv4 fallback of "every address" included
    spec.port = address_.port();
  } else {
    spec.path = path_;
  }
  return spec;
}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    Listener gone(std::move(*this));
    fd_ = std::move(other.fd_);
    kind_ = other.kind_;
    address_ = other.address_;
    path_ = std::move(other.path_);
    name_ = std::move(other.name_);
    owns_path_ = std::exchange(other.owns_path_, false);
    opened_from_ = std::move(other.opened_from_);
  }
  return *this;
}

Listener::~Listener() {
  if (owns_path_) ::unlink(path_.c_str());
}

}  // namespace reuserun
