#include "takeover_decision.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstddef>
#include <cstring>

namespace reuserun {

std::optional<BindAddress> parse_bind_address(const void* bytes, std::size_t length) {
  sa_family_t family = 0;
  if (length < sizeof family || length > sizeof(sockaddr_storage)) return std::nullopt;
  std::memcpy(&family, bytes, sizeof family);
  BindAddress address;
  address.family = family;
  switch (family) {
    case AF_INET:
      if (length < sizeof(sockaddr_in)) return std::nullopt;
      std::memcpy(&address.inet.storage, bytes, sizeof(sockaddr_in));
      return address;
    case AF_INET6:
      // The kernel takes the 24 bytes of RFC 2133's sockaddr_in6 (no scope id).
      if (length < 24) return std::nullopt;
      std::memcpy(&address.inet.storage, bytes, std::min(length, sizeof(sockaddr_in6)));
      return address;
    case AF_UNIX: {
      const std::size_t start = offsetof(sockaddr_un, sun_path);
      if (length <= start) return address;  // unnamed
      const char* path = static_cast<const char*>(bytes) + start;
      const std::size_t room = length - start;
      if (path[0] == '\0') return address;  // abstract
      address.path.assign(path, strnlen(path, room));
      return address;
    }
    default:
      return std::nullopt;
  }
}

std::string describe_bind_address(const BindAddress& address) {
  if (address.family == AF_UNIX)
    return address.path.empty() ? "an unnamed unix address" : address.path;
  return format_address(address.inet);
}

namespace {

bool same_ip(const SocketAddress& a, const SocketAddress& b) {
  if (a.family() != b.family()) return false;
  if (a.family() == AF_INET)
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr,
                       &reinterpret_cast<const sockaddr_in*>(&b.storage)->sin_addr,
                       sizeof(in_addr)) == 0;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(&b.storage)->sin6_addr,
                     sizeof(in6_addr)) == 0;
}

const char* family_name(int family) { return family == AF_INET ? "IPv4" : "IPv6"; }

// What the user could give reuserun so that its socket and the child's agree.
std::string agreeing_option(const SocketAddress& wanted, ListenSpec::Kind kind) {
  std::string ip = format_address(wanted);
  ip = ip.substr(0, ip.rfind(':'));
  if (kind == ListenSpec::Kind::udp) return "--listen udp:" + format_address(wanted);
  if (!ip.empty() && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  return "--bind " + ip;
}

}  // namespace

BindVerdict decide_bind(const BindAddress& wanted, int domain, int type,
                        const std::vector<HeldSocket>& held) {
  BindVerdict verdict;
  if (wanted.family != domain) return verdict;  // the kernel refuses that bind itself
  if (domain == AF_UNIX) {
    for (std::size_t i = 0; i < held.size(); ++i)
      if (!is_inet(held[i].kind) && socket_type(held[i].kind) == type && !wanted.path.empty() &&
          held[i].path == wanted.path)
        return {BindVerdict::Kind::take_over, i, ""};
    return verdict;
  }
  const std::uint16_t port = wanted.inet.port();
  if (port == 0) return verdict;  // the kernel picks one: never ours
  std::vector<std::size_t> ours;
  for (std::size_t i = 0; i < held.size(); ++i)
    if (is_inet(held[i].kind) && socket_type(held[i].kind) == type &&
        held[i].address.port() == port)
      ours.push_back(i);
  if (ours.empty()) return verdict;
  for (const std::size_t i : ours)  // exactly what it asks for
    if (same_ip(held[i].address, wanted.inet)) return {BindVerdict::Kind::take_over, i, ""};
  for (const std::size_t i : ours)  // nothing chose our address: the first generation's bind does
    if (held[i].rebindable && held[i].kind == ListenSpec::Kind::tcp)
      return {BindVerdict::Kind::rebind, i, ""};
  for (const std::size_t i : ours)  // the user chose our address: another one of its family
    if (held[i].address.family() == domain) return {BindVerdict::Kind::take_over, i, ""};
  const HeldSocket& other = held[ours.front()];
  verdict.kind = BindVerdict::Kind::refuse;
  verdict.listener = ours.front();
  verdict.reason = fmt::format(
      "binds {} with an {} socket itself, but reuserun's socket on port {} is {} ({}): a server "
      "given a socket of the other family misreads its peers' addresses. Give reuserun {} so "
      "that they agree",
      format_address(wanted.inet), family_name(domain), port, family_name(other.address.family()),
      format_address(other.address), agreeing_option(wanted.inet, other.kind));
  return verdict;
}

}  // namespace reuserun
