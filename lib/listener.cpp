#include "listener.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace reuserun {

namespace {

Result<UniqueFd> bind_socket(const SocketAddress& address, int backlog) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  const std::string where = format_address(address);
  if (!fd) return system_error("create a socket for " + where, errno);
  const int on = 1;
  const int off = 0;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
    return system_error("set SO_REUSEADDR on " + where, errno);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == -1)
    return system_error("set SO_REUSEPORT on " + where, errno);
  // The IPv6 wildcard serves IPv4 too, whatever net.ipv6.bindv6only says.
  if (address.family() == AF_INET6 && address.is_wildcard() &&
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == -1)
    return system_error("clear IPV6_V6ONLY on " + where, errno);
  if (::bind(fd.get(), address.get(), address.length()) == -1)
    return system_error("bind " + where, errno);
  if (::listen(fd.get(), backlog) == -1) return system_error("listen on " + where, errno);
  return fd;
}

}  // namespace

Result<Listener> Listener::open(const ListenerSpec& spec) {
  SocketAddress address = spec.address.value_or(any_address_ipv6(spec.port));
  address.set_port(spec.port);
  auto fd = bind_socket(address, spec.backlog);
  // "Every address" on a machine without IPv6: fall back to the IPv4 wildcard.
  if (!fd && !spec.address &&
      (fd.error().code == EAFNOSUPPORT || fd.error().code == EADDRNOTAVAIL)) {
    address = any_address_ipv4(spec.port);
    fd = bind_socket(address, spec.backlog);
  }
  if (!fd) return fd.error();
  socklen_t length = sizeof address.storage;
  if (::getsockname(fd.value().get(), address.get(), &length) == -1)
    return system_error("read the address of " + format_address(address), errno);
  return Listener(std::move(fd.value()), address, spec.name);
}

}  // namespace reuserun
