// IP socket addresses: parsing what users type for --bind, formatting for logs.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reuserun {

struct SocketAddress {
  sockaddr_storage storage{};

  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
  void set_port(std::uint16_t port);
  bool is_wildcard() const;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  socklen_t length() const;
};

// "127.0.0.1", "::1", "[::1]", "0.0.0.0", "::", "*" (any address). Numeric only: a launcher that
// resolves names at start-up binds something different when DNS changes. nullopt when invalid.
std::optional<SocketAddress> parse_ip_address(std::string_view text, std::uint16_t port = 0);

// The IPv6 wildcard [::]:port.
SocketAddress any_address_ipv6(std::uint16_t port);
// The IPv4 wildcard 0.0.0.0:port.
SocketAddress any_address_ipv4(std::uint16_t port);

// "127.0.0.1:8080", "[::1]:8080".
std::string format_address(const SocketAddress& address);

// True when two listeners on these addresses compete for the same connections: same port and
// the same address, or either one a wildcard of that family (an IPv6 wildcard covers IPv4 too
// unless its socket is IPV6_V6ONLY: `a_v6only`, `b_v6only`; an IPv4-mapped IPv6 address equals
// its IPv4 address).
bool addresses_overlap(const SocketAddress& a, const SocketAddress& b, bool a_v6only = false,
                       bool b_v6only = false);

}  // namespace reuserun
