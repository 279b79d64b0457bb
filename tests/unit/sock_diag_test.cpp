// The kernel behaviour the attributed gates rest on (docs/DESIGN.md §3), checked on loopback in one
// process: a connection waiting in the accept queue has socket inode 0; once accept()ed, it has
// the inode of the accepting fd.
#include "sock_diag.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "listener.hpp"

namespace reuserun {
namespace {

SocketAddress local_address_of(int fd) {
  SocketAddress address;
  socklen_t length = sizeof address.storage;
  ::getsockname(fd, address.get(), &length);
  return address;
}

ino_t inode_of(int fd) {
  struct stat info {};
  ::fstat(fd, &info);
  return info.st_ino;
}

void check_family(const char* loopback) {
  ListenSpec spec;
  spec.address = parse_ip_address(loopback);
  auto listener = Listener::open(spec, 16);
  ASSERT_TRUE(listener) << listener.error().message;
  const SocketAddress server = listener.value().address();
  UniqueFd client(::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), server.get(), server.length()), 0);
  const SocketAddress client_address = local_address_of(client.get());

  auto queued = accepted_inode(server, client_address);
  ASSERT_TRUE(queued) << queued.error().message;
  ASSERT_TRUE(queued.value().has_value()) << "the connection is known to the kernel";
  EXPECT_EQ(*queued.value(), 0u) << "nobody accepted it yet";

  UniqueFd accepted(::accept4(listener.value().fd(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  auto taken = accepted_inode(server, client_address);
  ASSERT_TRUE(taken && taken.value().has_value());
  EXPECT_EQ(*taken.value(), inode_of(accepted.get()));

  SocketAddress stranger = client_address;
  stranger.set_port(client_address.port() == 1 ? 2 : 1);
  auto unknown = accepted_inode(server, stranger);
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown.value().has_value()) << "no such connection, and never the listener";
}

TEST(SockDiag, AcceptedInodeIsZeroWhileQueuedThenTheAcceptingSocketsIpv4) {
  check_family("127.0.0.1");
}

TEST(SockDiag, AcceptedInodeIsZeroWhileQueuedThenTheAcceptingSocketsIpv6) {
  if (::access("/proc/net/if_inet6", R_OK) != 0) GTEST_SKIP() << "no IPv6";
  check_family("::1");
}

TEST(SockDiag, ListsListeningSocketsOnAPort) {
  ListenSpec spec;
  spec.address = parse_ip_address("127.0.0.1");
  auto listener = Listener::open(spec, 16);
  ASSERT_TRUE(listener);
  auto found = listening_sockets(listener.value().address().port());
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found.value().size(), 1u);
  EXPECT_EQ(found.value()[0].inode, inode_of(listener.value().fd()));
  EXPECT_EQ(format_address(found.value()[0].address), format_address(listener.value().address()));
}

TEST(SockDiag, ListsBoundUdpSocketsOnAPortButNotTcpOnes) {
  ListenSpec spec;
  spec.kind = ListenSpec::Kind::udp;
  spec.address = parse_ip_address("127.0.0.1");
  auto bound = Listener::open(spec, 16);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::uint16_t port = bound.value().address().port();
  auto found = listening_sockets(port, Transport::udp);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found.value().size(), 1u);
  EXPECT_EQ(found.value()[0].inode, inode_of(bound.value().fd()));
  auto tcp = listening_sockets(port, Transport::tcp);
  ASSERT_TRUE(tcp);
  EXPECT_TRUE(tcp.value().empty()) << "a UDP socket does not hold the TCP port";
}

}  // namespace
}  // namespace reuserun
