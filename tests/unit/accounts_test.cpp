// /etc/passwd and /etc/group as the static build reads them (passwd(5), group(5)).
#include "accounts.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

constexpr std::string_view kPasswd =
    "# local users\n"
    "root:x:0:0:root:/root:/bin/bash\n"
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "broken:x:notanumber:1::/:\n"
    "1000:x:1001:1001:a user named by digits:/home/1000:/bin/sh\n";

constexpr std::string_view kGroup =
    "root:x:0:\n"
    "www-data:x:33:\n"
    "adm:x:4:syslog,www-data\n"
    "ssl-cert:x:115:postgres,www-data\n"
    "nogroup:x:65534:\n"
    "www:x:8080:\n";

TEST(Accounts, AUserByNameHasHomeAndEveryGroupListingIt) {
  const auto account = find_user_in(kPasswd, kGroup, "www-data");
  ASSERT_TRUE(account.has_value());
  EXPECT_EQ(account->uid, 33U);
  EXPECT_EQ(account->gid, 33U);
  EXPECT_EQ(account->home, "/var/www");
  EXPECT_EQ(account->groups, (std::vector<gid_t>{33, 4, 115}));
}

TEST(Accounts, AUserByNumberWhenNoNameMatches) {
  const auto nobody = find_user_in(kPasswd, kGroup, "65534");
  ASSERT_TRUE(nobody.has_value());
  EXPECT_EQ(nobody->name, "nobody");
  EXPECT_EQ(nobody->groups, (std::vector<gid_t>{65534}));
  // A name made of digits is a name first, as getpwnam(3) would have it.
  EXPECT_EQ(find_user_in(kPasswd, kGroup, "1000")->uid, 1001U);
}

TEST(Accounts, UnknownOrMalformedUsersAreNotFound) {
  EXPECT_FALSE(find_user_in(kPasswd, kGroup, "mallory").has_value());
  EXPECT_FALSE(find_user_in(kPasswd, kGroup, "broken").has_value());
  EXPECT_FALSE(find_user_in(kPasswd, kGroup, "").has_value());
  EXPECT_FALSE(find_user_in("", "", "0").has_value());
}

TEST(Accounts, GroupsByNameOrNumber) {
  EXPECT_EQ(find_group_in(kGroup, "ssl-cert"), 115U);
  EXPECT_EQ(find_group_in(kGroup, "65534"), 65534U);
  EXPECT_EQ(find_group_in(kGroup, "8080"), 8080U);
  EXPECT_FALSE(find_group_in(kGroup, "wheel").has_value());
  EXPECT_FALSE(find_group_in(kGroup, "12").has_value());
}

// (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setresuid(2), setresgid(2) and chown(2): an
// entry that names them would leave the children root (issue 25, finding 12).
TEST(Accounts, TheIdThatMeansUnchangedIsNoAccount) {
  constexpr std::string_view passwd =
      "minus:x:4294967295:100::/:\n"
      "minusgroup:x:1002:4294967295::/:\n"
      "app:x:1003:1003::/srv:\n";
  constexpr std::string_view group = "all:x:4294967295:app\napp:x:1003:\n";
  EXPECT_FALSE(find_user_in(passwd, group, "minus").has_value());
  EXPECT_FALSE(find_user_in(passwd, group, "4294967295").has_value());
  EXPECT_FALSE(find_user_in(passwd, group, "minusgroup").has_value());
  EXPECT_FALSE(find_group_in(group, "all").has_value());
  EXPECT_FALSE(find_group_in(group, "4294967295").has_value());
  const auto app = find_user_in(passwd, group, "app");
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->groups, (std::vector<gid_t>{1003})) << "not in group 4294967295";
}

}  // namespace
}  // namespace reuserun
