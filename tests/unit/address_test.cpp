#include "address.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

SocketAddress address(const char* text, std::uint16_t port) {
  auto parsed = parse_ip_address(text, port);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(SocketAddress{});
}

TEST(Address, ParsesNumericIpv4AndIpv6) {
  EXPECT_EQ(format_address(address("127.0.0.1", 8080)), "127.0.0.1:8080");
  EXPECT_EQ(format_address(address("::1", 8080)), "[::1]:8080");
  EXPECT_EQ(format_address(address("[::1]", 80)), "[::1]:80");
  EXPECT_EQ(format_address(address("*", 1)), "[::]:1");
  EXPECT_TRUE(address("0.0.0.0", 1).is_wildcard());
  EXPECT_TRUE(address("::", 1).is_wildcard());
  EXPECT_FALSE(address("127.0.0.1", 1).is_wildcard());
}

TEST(Address, RejectsNamesAndMalformedAddresses) {
  for (const char* bad :
       {"", "localhost", "1.2.3", "256.1.1.1", "[1.2.3.4]", "::1]", "[::1", "1.2.3.4:80"})
    EXPECT_FALSE(parse_ip_address(bad)) << bad;
}

TEST(Address, OverlapFollowsTheKernelsBindConflicts) {
  EXPECT_TRUE(addresses_overlap(address("127.0.0.1", 80), address("127.0.0.1", 80)));
  EXPECT_FALSE(addresses_overlap(address("127.0.0.1", 80), address("127.0.0.1", 81)));
  EXPECT_FALSE(addresses_overlap(address("127.0.0.1", 80), address("127.0.0.2", 80)));
  EXPECT_TRUE(addresses_overlap(address("0.0.0.0", 80), address("127.0.0.1", 80)));
  EXPECT_TRUE(addresses_overlap(address("::", 80), address("127.0.0.1", 80)));
  EXPECT_TRUE(addresses_overlap(address("::", 80), address("::1", 80)));
  EXPECT_FALSE(addresses_overlap(address("0.0.0.0", 80), address("::1", 80)));
  EXPECT_TRUE(addresses_overlap(address("::ffff:127.0.0.1", 80), address("127.0.0.1", 80)));
  EXPECT_FALSE(addresses_overlap(address("::1", 80), address("127.0.0.1", 80)));
  // An IPv6 wildcard with IPV6_V6ONLY covers IPv6 alone: the kernel lets 0.0.0.0 and
  // 127.0.0.1 bind beside it (issue 25, finding 7).
  EXPECT_FALSE(addresses_overlap(address("::", 80), address("127.0.0.1", 80), true));
  EXPECT_FALSE(addresses_overlap(address("127.0.0.1", 80), address("::", 80), false, true));
  EXPECT_FALSE(addresses_overlap(address("::", 80), address("0.0.0.0", 80), true));
  EXPECT_FALSE(addresses_overlap(address("::", 80), address("::ffff:127.0.0.1", 80), true));
  EXPECT_TRUE(addresses_overlap(address("::", 80), address("::1", 80), true));
  EXPECT_TRUE(addresses_overlap(address("::", 80), address("::", 80), true, false));
}

}  // namespace
}  // namespace reuserun
