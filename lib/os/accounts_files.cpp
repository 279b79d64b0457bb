// The account lookups of the fully static binary (reuserun-static, linked instead of
// accounts_nss.cpp): a static glibc cannot load NSS modules at run time, so /etc/passwd and
// /etc/group are read directly. Only that binary: elsewhere LDAP or sssd users must keep working.
#include "accounts.hpp"
#include "text.hpp"

namespace reuserun {

std::optional<Account> find_user(std::string_view name_or_uid) {
  return find_user_in(read_file("/etc/passwd"), read_file("/etc/group"), name_or_uid);
}

std::optional<gid_t> find_group(std::string_view name_or_gid) {
  return find_group_in(read_file("/etc/group"), name_or_gid);
}

std::string user_name(uid_t uid) {
  const auto account = find_user(std::to_string(uid));
  return account && account->uid == uid ? account->name : std::to_string(uid);
}

}  // namespace reuserun
