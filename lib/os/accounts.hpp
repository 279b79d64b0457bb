// Users and groups by name or number: --user/--group for the children and owner= of a unix
// listener. From the system's databases (getpwnam(3), getgrnam(3), so NSS: LDAP, sssd, ...:
// accounts_nss.cpp), except in the fully static binary, whose glibc cannot load NSS modules at run
// time: there /etc/passwd and /etc/group are read directly (accounts_files.cpp). Which of the two
// is linked decides; the parsers below are shared.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reuserun {

struct Account {
  uid_t uid = 0;
  gid_t gid = 0;              // primary group
  std::vector<gid_t> groups;  // every group it belongs to, the primary included
  std::string name;           // for USER and LOGNAME
  std::string home;           // for HOME
};

// A user that exists, by name or by uid; nullopt otherwise.
std::optional<Account> find_user(std::string_view name_or_uid);
// A group that exists, by name or by gid; nullopt otherwise.
std::optional<gid_t> find_group(std::string_view name_or_gid);
// The user's name, or the uid in decimal when there is none.
std::string user_name(uid_t uid);

// The same questions asked of the text of /etc/passwd and /etc/group (passwd(5), group(5)): a
// name first, then a number; the groups are the primary one and every group listing the user.
std::optional<Account> find_user_in(std::string_view passwd, std::string_view group,
                                    std::string_view name_or_uid);
std::optional<gid_t> find_group_in(std::string_view group, std::string_view name_or_gid);

}  // namespace reuserun
