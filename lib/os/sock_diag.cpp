#include "sock_diag.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "unique_fd.hpp"

namespace reuserun {
namespace {

struct Request {
  nlmsghdr header;
  inet_diag_req_v2 body;
};

// The address and port of one side, in the kernel's inet_diag_sockid layout (network order).
void put_side(const SocketAddress& address, __be16& port, __be32 (&ip)[4]) {
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    port = v4->sin_port;
    std::memcpy(ip, &v4->sin_addr, 4);
  } else {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    port = v6->sin6_port;
    std::memcpy(ip, &v6->sin6_addr, 16);
  }
}

SocketAddress side_of(int family, __be16 port, const __be32 (&ip)[4]) {
  SocketAddress address;
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    std::memcpy(&v4->sin_addr, ip, 4);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    std::memcpy(&v6->sin6_addr, ip, 16);
  }
  return address;
}

Result<UniqueFd> open_diag_socket() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return system_error("open a NETLINK_SOCK_DIAG socket", errno);
  return fd;
}

// Sends one request and hands every inet_diag_msg of the answer to `each`.
template <typename Each>
Result<void> query(int fd, const Request& request, Each each) {
  if (::send(fd, &request, sizeof request, 0) == -1)
    return system_error("send a sock_diag request", errno);
  alignas(nlmsghdr) char buffer[16384];
  while (true) {
    const ssize_t length = ::recv(fd, buffer, sizeof buffer, 0);
    if (length == -1) {
      if (errno == EINTR) continue;
      return system_error("read a sock_diag answer", errno);
    }
    int left = static_cast<int>(length);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_type == NLMSG_DONE) return {};
      if (header->nlmsg_type == NLMSG_ERROR) {
        const int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
        if (error == 0 || error == ENOENT) return {};  // ENOENT: no such socket
        return system_error("look up a socket through sock_diag", error);
      }
      each(*header);
    }
    if (!(request.header.nlmsg_flags & NLM_F_DUMP)) return {};
  }
}

// The INET_DIAG_SKV6ONLY attribute the kernel adds for every IPv6 socket (Linux 3.19+).
bool is_v6only(const nlmsghdr& header) {
  const auto* message = static_cast<const inet_diag_msg*>(NLMSG_DATA(&header));
  if (message->idiag_family != AF_INET6) return false;
  int left = static_cast<int>(header.nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof *message));
  const auto* attribute = reinterpret_cast<const rtattr*>(
      reinterpret_cast<const char*>(message) + NLMSG_ALIGN(sizeof *message));
  for (; RTA_OK(attribute, left); attribute = RTA_NEXT(attribute, left))
    if (attribute->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(attribute) >= 1)
      return *static_cast<const std::uint8_t*>(RTA_DATA(attribute)) != 0;
  return false;
}

Request make_request(int family, __u16 flags, __u32 states, int protocol = IPPROTO_TCP) {
  Request request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST | flags;
  request.body.sdiag_family = static_cast<__u8>(family);
  request.body.sdiag_protocol = static_cast<__u8>(protocol);
  request.body.idiag_states = states;
  request.body.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.body.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  return request;
}

}  // namespace

Result<std::optional<ino_t>> accepted_inode(const SocketAddress& server,
                                            const SocketAddress& client) {
  auto fd = open_diag_socket();
  if (!fd) return fd.error();
  // The socket asked about is the server's: its source is the server, its destination us.
  Request request = make_request(server.family(), 0, ~0U);
  put_side(server, request.body.id.idiag_sport, request.body.id.idiag_src);
  put_side(client, request.body.id.idiag_dport, request.body.id.idiag_dst);
  std::optional<ino_t> inode;
  const auto queried = query(fd.value().get(), request, [&](const nlmsghdr& header) {
    const auto& message = *static_cast<const inet_diag_msg*>(NLMSG_DATA(&header));
    // An exact lookup can fall back to the listener when the connection is not hashed yet.
    if (message.idiag_state != TCP_LISTEN && message.id.idiag_dport == request.body.id.idiag_dport)
      inode = message.idiag_inode;
  });
  if (!queried) return queried.error();
  return inode;
}

Result<std::vector<ListeningSocket>> listening_sockets(std::uint16_t port, Transport transport) {
  auto fd = open_diag_socket();
  if (!fd) return fd.error();
  std::vector<ListeningSocket> found;
  const bool udp = transport == Transport::udp;
  for (int family : {AF_INET, AF_INET6}) {
    // An unconnected UDP socket is in TCP_CLOSE in the kernel's shared state numbering.
    const Request request = make_request(family, NLM_F_DUMP, 1U << (udp ? TCP_CLOSE : TCP_LISTEN),
                                         udp ? IPPROTO_UDP : IPPROTO_TCP);
    const auto queried = query(fd.value().get(), request, [&](const nlmsghdr& header) {
      const auto& message = *static_cast<const inet_diag_msg*>(NLMSG_DATA(&header));
      const SocketAddress address =
          side_of(message.idiag_family, message.id.idiag_sport, message.id.idiag_src);
      if (address.port() == port)
        found.push_back({address, message.idiag_inode, static_cast<uid_t>(message.idiag_uid),
                         is_v6only(header)});
    });
    if (!queried) return queried.error();
  }
  return found;
}

}  // namespace reuserun
