// Users and groups by name or number, from the system's databases (getpwnam(3), getgrnam(3)):
// --user/--group for the children and owner= of a unix listener.
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

}  // namespace reuserun
