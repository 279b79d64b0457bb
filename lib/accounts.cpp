#include "accounts.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>

#include "text.hpp"

namespace reuserun {
namespace {

// The colon-separated fields of each line, comments and blank lines skipped.
template <typename Each>
void for_each_entry(std::string_view text, std::size_t fields, Each each) {
  for (std::string_view line : split(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    const auto parts = split(line, ':');
    if (parts.size() >= fields) each(parts);
  }
}

template <typename Number>
bool matches(std::string_view name_field, std::string_view number_field, std::string_view wanted,
             bool by_number) {
  if (!by_number) return name_field == wanted;
  Number number = 0;
  Number field = 0;
  return parse_number(wanted, number) && parse_number(number_field, field) && number == field;
}

}  // namespace

std::optional<Account> find_user_in(std::string_view passwd, std::string_view group,
                                    std::string_view name_or_uid) {
  std::optional<Account> found;
  for (bool by_number : {false, true}) {
    for_each_entry(passwd, 7, [&](const std::vector<std::string_view>& f) {
      if (found || !matches<uid_t>(f[0], f[2], name_or_uid, by_number)) return;
      Account account;
      if (!parse_number(f[2], account.uid) || !parse_number(f[3], account.gid)) return;
      account.name = std::string(f[0]);
      account.home = std::string(f[5]);
      found = account;
    });
    if (found) break;
  }
  if (!found) return std::nullopt;
  found->groups.push_back(found->gid);
  for_each_entry(group, 4, [&](const std::vector<std::string_view>& f) {
    gid_t gid = 0;
    if (!parse_number(f[2], gid)) return;
    const auto members = split(f[3], ',');
    if (std::find(members.begin(), members.end(), found->name) != members.end() &&
        std::find(found->groups.begin(), found->groups.end(), gid) == found->groups.end())
      found->groups.push_back(gid);
  });
  return found;
}

std::optional<gid_t> find_group_in(std::string_view group, std::string_view name_or_gid) {
  std::optional<gid_t> found;
  for (bool by_number : {false, true}) {
    for_each_entry(group, 3, [&](const std::vector<std::string_view>& f) {
      gid_t gid = 0;
      if (!found && matches<gid_t>(f[0], f[2], name_or_gid, by_number) && parse_number(f[2], gid))
        found = gid;
    });
    if (found) break;
  }
  return found;
}

#ifdef REUSERUN_STATIC

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

#else

std::optional<Account> find_user(std::string_view name_or_uid) {
  const std::string name(name_or_uid);
  const passwd* entry = ::getpwnam(name.c_str());
  uid_t uid = 0;
  if (entry == nullptr && parse_number(name_or_uid, uid)) entry = ::getpwuid(uid);
  if (entry == nullptr) return std::nullopt;
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
  if (entry == nullptr) return std::nullopt;
  return entry->gr_gid;
}

std::string user_name(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

#endif

}  // namespace reuserun
