// The account lookups of the ordinary binary: the system's databases through NSS (getpwnam(3),
// getgrnam(3)), so LDAP and sssd users work. reuserun-static links accounts_files.cpp instead.
#include <grp.h>
#include <pwd.h>

#include "accounts.hpp"
#include "text.hpp"

namespace reuserun {

std::optional<Account> find_user(std::string_view name_or_uid) {
  const std::string name(name_or_uid);
  const passwd* entry = ::getpwnam(name.c_str());
  uid_t uid = 0;
  if (entry == nullptr && parse_number(name_or_uid, uid)) entry = ::getpwuid(uid);
  // (uid_t)-1 and (gid_t)-1 are "leave unchanged" to setresuid(2) and chown(2), not accounts.
  if (entry == nullptr || entry->pw_uid == static_cast<uid_t>(-1) ||
      entry->pw_gid == static_cast<gid_t>(-1))
    return std::nullopt;
  Account account{entry->pw_uid, entry->pw_gid, {}, entry->pw_name, entry->pw_dir};
  int count = 64;
  account.groups.resize(static_cast<std::size_t>(count));
  if (::getgrouplist(entry->pw_name, entry->pw_gid, account.groups.data(), &count) == -1) {
    account.groups.resize(static_cast<std::size_t>(count));
    ::getgrouplist(entry->pw_name, entry->pw_gid, account.groups.data(), &count);
  }
  account.groups.resize(static_cast<std::size_t>(count));
  return account;
}

std::optional<gid_t> find_group(std::string_view name_or_gid) {
  const std::string name(name_or_gid);
  const group* entry = ::getgrnam(name.c_str());
  gid_t gid = 0;
  if (entry == nullptr && parse_number(name_or_gid, gid)) entry = ::getgrgid(gid);
  if (entry == nullptr || entry->gr_gid == static_cast<gid_t>(-1)) return std::nullopt;
  return entry->gr_gid;
}

std::string user_name(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

}  // namespace reuserun
