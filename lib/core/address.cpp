#include "address.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace reuserun {
namespace {

const sockaddr_in& as_ipv4(const SocketAddress& address) {
  return *reinterpret_cast<const sockaddr_in*>(&address.storage);
}
const sockaddr_in6& as_ipv6(const SocketAddress& address) {
  return *reinterpret_cast<const sockaddr_in6*>(&address.storage);
}

// The IPv4 address an address stands for (itself, or the IPv4 inside ::ffff:a.b.c.d).
std::optional<in_addr> ipv4_of(const SocketAddress& address) {
  if (address.family() == AF_INET) return as_ipv4(address).sin_addr;
  const in6_addr& ip = as_ipv6(address).sin6_addr;
  if (!IN6_IS_ADDR_V4MAPPED(&ip)) return std::nullopt;
  in_addr v4{};
  std::memcpy(&v4, ip.s6_addr + 12, sizeof v4);
  return v4;
}

}  // namespace

std::uint16_t SocketAddress::port() const {
  return ntohs(family() == AF_INET ? as_ipv4(*this).sin_port : as_ipv6(*this).sin6_port);
}

void SocketAddress::set_port(std::uint16_t port) {
  if (family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  else
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

bool SocketAddress::is_wildcard() const {
  if (family() == AF_INET) return as_ipv4(*this).sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&as_ipv6(*this).sin6_addr);
}

socklen_t SocketAddress::length() const {
  return family() == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

std::optional<SocketAddress> parse_ip_address(std::string_view text, std::uint16_t port) {
  if (text == "*") return any_address_ipv6(port);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
    if (text.find(':') == std::string_view::npos) return std::nullopt;  // "[1.2.3.4]"
  }
  const std::string owned(text);
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  if (::inet_pton(AF_INET, owned.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return address;
  }
  address = SocketAddress{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (::inet_pton(AF_INET6, owned.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return address;
  }
  return std::nullopt;
}

SocketAddress any_address_ipv6(std::uint16_t port) {
  SocketAddress address;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  v6->sin6_family = AF_INET6;
  v6->sin6_addr = in6addr_any;
  v6->sin6_port = htons(port);
  return address;
}

SocketAddress any_address_ipv4(std::uint16_t port) {
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  v4->sin_family = AF_INET;
  v4->sin_addr.s_addr = htonl(INADDR_ANY);
  v4->sin_port = htons(port);
  return address;
}

std::string format_address(const SocketAddress& address) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address.family() == AF_INET) {
    ::inet_ntop(AF_INET, &as_ipv4(address).sin_addr, text.data(), text.size());
    return std::string(text.data()) + ":" + std::to_string(address.port());
  }
  ::inet_ntop(AF_INET6, &as_ipv6(address).sin6_addr, text.data(), text.size());
  return "[" + std::string(text.data()) + "]:" + std::to_string(address.port());
}

bool addresses_overlap(const SocketAddress& a, const SocketAddress& b, bool a_v6only,
                       bool b_v6only) {
  if (a.port() != b.port()) return false;
  // What a wildcard covers: IPv4, IPv6, or both (a dual-stack IPv6 wildcard).
  const auto covers_ipv4 = [](const SocketAddress& wildcard, bool v6only) {
    return wildcard.family() == AF_INET || !v6only;
  };
  const auto covers_ipv6 = [](const SocketAddress& wildcard) {
    return wildcard.family() == AF_INET6;
  };
  if (a.is_wildcard() && b.is_wildcard())
    return (covers_ipv4(a, a_v6only) && covers_ipv4(b, b_v6only)) ||
           (covers_ipv6(a) && covers_ipv6(b));
  if (a.is_wildcard() || b.is_wildcard()) {
    const SocketAddress& wildcard = a.is_wildcard() ? a : b;
    const SocketAddress& other = a.is_wildcard() ? b : a;
    const bool v6only = a.is_wildcard() ? a_v6only : b_v6only;
    return ipv4_of(other) ? covers_ipv4(wildcard, v6only) : covers_ipv6(wildcard);
  }
  const auto a4 = ipv4_of(a);
  const auto b4 = ipv4_of(b);
  if (a4 || b4) return a4 && b4 && a4->s_addr == b4->s_addr;
  return std::memcmp(&as_ipv6(a).sin6_addr, &as_ipv6(b).sin6_addr, sizeof(in6_addr)) == 0;
}

}  // namespace reuserun
