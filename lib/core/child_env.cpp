#include "child_env.hpp"

#include <algorithm>
#include <cstring>

namespace reuserun {

bool is_launcher_activation_variable(std::string_view entry) {
  for (std::string_view key : {"LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=", "NOTIFY_SOCKET=",
                               "WATCHDOG_USEC=", "WATCHDOG_PID=", "EINHORN_FD_",
                               "NGINX=", "SERVER_STARTER_PORT=", "SERVER_STARTER_GENERATION="})
    if (entry.starts_with(key)) return true;
  return false;
}

ChildEnv::ChildEnv(const char* const* inherited, const std::vector<std::string>& listen_fd_names) {
  for (const char* const* entry = inherited; entry != nullptr && *entry != nullptr; ++entry)
    if (!is_launcher_activation_variable(*entry)) entries_.emplace_back(*entry);
  if (listen_fd_names.empty()) return;
  has_listeners_ = true;
  std::string names;
  for (const auto& name : listen_fd_names) names.append(names.empty() ? "" : ":").append(name);
  set("LISTEN_FDS", std::to_string(listen_fd_names.size()));
  set("LISTEN_FDNAMES", names);
  set_own_pid("LISTEN_PID");
}

// Every earlier entry of the key goes: an inherited environment may hold a key twice (execve
// allows it), and a program reading the second one would see the launcher's value.
void ChildEnv::erase(std::string_view key) {
  std::erase_if(entries_, [&](const std::string& existing) {
    return existing.size() > key.size() && existing.starts_with(key) && existing[key.size()] == '=';
  });
}

void ChildEnv::set_own_pid(std::string_view key) {
  erase(key);
  OwnPid entry;
  const std::size_t length = std::min(key.size(), entry.text.size() - 24);
  std::memcpy(entry.text.data(), key.data(), length);
  entry.text[length] = '=';
  entry.digits_at = length + 1;
  own_pids_.push_back(entry);
}

void ChildEnv::set(std::string_view key, std::string_view value) {
  erase(key);
  entries_.push_back(std::string(key) + "=" + std::string(value));
}

const char* const* ChildEnv::envp() {
  pointers_.clear();
  for (const auto& entry : entries_) pointers_.push_back(entry.c_str());
  for (const auto& entry : own_pids_) pointers_.push_back(entry.text.data());
  pointers_.push_back(nullptr);
  return pointers_.data();
}

void ChildEnv::write_own_pid(pid_t pid) {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  for (OwnPid& entry : own_pids_) {
    char* out = entry.text.data() + entry.digits_at;
    for (int i = count; i > 0;) *out++ = digits[--i];
    *out = '\0';
  }
}

}  // namespace reuserun
