#include "accounts.hpp"

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
      // (uid_t)-1 and (gid_t)-1 are "leave unchanged" to setresuid(2) and chown(2): a line that
      // names them would run the children as root.
      if (account.uid == static_cast<uid_t>(-1) || account.gid == static_cast<gid_t>(-1)) return;
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
    if (!parse_number(f[2], gid) || gid == static_cast<gid_t>(-1)) return;
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
      if (!found && matches<gid_t>(f[0], f[2], name_or_gid, by_number) && parse_number(f[2], gid) &&
          gid != static_cast<gid_t>(-1))
        found = gid;
    });
    if (found) break;
  }
  return found;
}

}  // namespace reuserun
