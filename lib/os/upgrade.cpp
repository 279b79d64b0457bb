#include "upgrade.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "command.hpp"
#include "crash_recovery.hpp"
#include "exit_code.hpp"
#include "handover.hpp"
#include "log.hpp"
#include "text.hpp"

namespace reuserun {
namespace {

constexpr int kUpgradeSignals[] = {SIGHUP,  SIGTERM,  SIGINT,  SIGCHLD, SIGUSR1,
                                   SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU};

// 0, or the errno of the failed fcntl.
int keep_across_exec(int fd, bool keep) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags == -1) return errno;
  return ::fcntl(fd, F_SETFD, keep ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC) == -1 ? errno : 0;
}

}  // namespace

bool handover_expected() {
  return ::getenv(kHandoverFdVariable) != nullptr || ::getenv(kRecoveryVariable) != nullptr;
}

std::optional<int> take_fd_variable(const char* variable) {
  const char* value = ::getenv(variable);
  if (value == nullptr) return std::nullopt;
  int fd = -1;
  if (!parse_number(std::string_view(value), fd) || fd < 0) fd = -1;
  ::unsetenv(variable);
  return fd;
}

std::string running_executable() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return "";
  std::string result(path, static_cast<std::size_t>(length));
  constexpr std::string_view kDeleted = " (deleted)";
  if (result.ends_with(kDeleted)) result.resize(result.size() - kDeleted.size());
  return result;
}

Result<std::string> upgrade_executable(const std::string& reexec_as,
                                       const std::string& started_from) {
  const std::string& wanted = reexec_as.empty() ? started_from : reexec_as;
  if (wanted.empty())
    return Error{"cannot tell which binary reuserun runs from (/proc/self/exe): use --reexec-as",
                 ENOENT};
  const char* path = ::getenv("PATH");
  const ResolvedCommand resolved = resolve_command(
      wanted, path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin", check_executable);
  if (resolved.error != 0) return system_error("execute " + wanted, resolved.error);
  return resolved.path;
}

Result<UniqueFd> write_handover_file(const std::string& text) {
  UniqueFd fd(::memfd_create("reuserun-handover", MFD_CLOEXEC));
  if (!fd) return system_error("create the handover file", errno);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) return system_error("write the handover file", errno);
    written += static_cast<std::size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) == -1) return system_error("rewind the handover file", errno);
  return fd;
}

Result<std::string> read_handover_file(int fd) {
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return system_error("read the handover (fd " + std::to_string(fd) + ")", errno);
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

void upgrade_signal_set(sigset_t* set) {
  ::sigemptyset(set);
  for (int sig : kUpgradeSignals) ::sigaddset(set, sig);
}

void block_upgrade_signals(bool block) {
  sigset_t set;
  upgrade_signal_set(&set);
  ::sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

Error exec_new_image(const std::string& executable, const std::vector<std::string>& argv,
                     int handover_fd, const std::vector<int>& inherited) {
  std::vector<const char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(arg.c_str());
  args.push_back(nullptr);
  std::vector<std::string> env_entries;
  for (char** entry = environ; *entry != nullptr; ++entry)
    if (!std::string_view(*entry).starts_with(std::string(kHandoverFdVariable) + "="))
      env_entries.emplace_back(*entry);
  env_entries.push_back(std::string(kHandoverFdVariable) + "=" + std::to_string(handover_fd));
  std::vector<const char*> env;
  env.reserve(env_entries.size() + 1);
  for (const auto& entry : env_entries) env.push_back(entry.c_str());
  env.push_back(nullptr);

  std::vector<int> fds = inherited;
  fds.push_back(handover_fd);
  // An fd that would not survive execve would leave the new image without its socket: refuse.
  for (int fd : fds)
    if (const int error = keep_across_exec(fd, true)) {
      for (int kept : fds) (void)keep_across_exec(kept, false);
      return system_error("keep fd " + std::to_string(fd) + " across execve", error);
    }
  block_upgrade_signals(true);
  ::execve(executable.c_str(), const_cast<char* const*>(args.data()),
           const_cast<char* const*>(env.data()));
  const int error = errno;
  block_upgrade_signals(false);
  for (int fd : fds) (void)keep_across_exec(fd, false);
  return system_error("execute " + executable, error);
}

int check_handover(int fd) {
  auto text = read_handover_file(fd);
  if (fd >= 0) ::close(fd);
  if (!text) {
    log_error("upgrade check: {}", text.error().message);
    return kExitHandover;
  }
  const auto handover = decode_handover(text.value());
  if (!handover) {
    log_error("upgrade check: {}", handover.error().message);
    return kExitHandover;
  }
  log_debug("upgrade check: the handover (version {}) can be taken over", kHandoverVersion);
  return kExitOk;
}

}  // namespace reuserun
