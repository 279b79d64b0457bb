#include "takeover_filter.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "scm_rights.hpp"

namespace reuserun {
namespace {

// libseccomp's functions answer a negative errno.
Error seccomp_error(const std::string& what, int negative) { return system_error(what, -negative); }

}  // namespace

Result<TakeoverFilter> TakeoverFilter::build() {
  const std::unique_ptr<void, void (*)(scmp_filter_ctx)> context(seccomp_init(SCMP_ACT_ALLOW),
                                                                 seccomp_release);
  if (!context) return Error{"Failed to build the seccomp filter: seccomp_init failed", ENOMEM};
  // A 32-bit or x32 call of the child runs untouched (never killed): it is only its own bind.
  if (const int error = seccomp_attr_set(context.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW))
    return seccomp_error("build the seccomp filter", error);
  for (const int call : {SCMP_SYS(bind), SCMP_SYS(listen)})
    if (const int error = seccomp_rule_add(context.get(), SCMP_ACT_NOTIFY, call, 0))
      return seccomp_error(
          "build the seccomp filter: this kernel or a sandbox refuses seccomp user notification "
          "(Linux 5.9 or later has it)",
          error);
  const UniqueFd program(::memfd_create("reuserun-filter", MFD_CLOEXEC));
  if (!program) return system_error("build the seccomp filter", errno);
  if (const int error = seccomp_export_bpf(context.get(), program.get()))
    return seccomp_error("export the seccomp filter", error);
  const off_t size = ::lseek(program.get(), 0, SEEK_CUR);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0 ||
      size > static_cast<off_t>(sizeof(sock_filter) * BPF_MAXINSNS))
    return Error{"Failed to export the seccomp filter: it has an odd size", EINVAL};
  std::vector<sock_filter> instructions(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(program.get(), instructions.data(), static_cast<std::size_t>(size), 0) != size)
    return system_error("read the seccomp filter back", errno);
  return TakeoverFilter(std::move(instructions));
}

void install_takeover_filter(const sock_fprog* filter, int report) {
  const auto install = [filter] {
    return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                     filter);
  };
  long notifications = install();
  // Without CAP_SYS_ADMIN (a non-root reuserun) the kernel wants no_new_privs first. Root with
  // --user gets here before its identity drops, so its children keep setuid programs.
  if (notifications == -1 && errno == EACCES &&
      ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
    notifications = install();
  const int error = notifications == -1 ? errno : 0;
  if (notifications >= 0) {
    (void)send_with_fd(report, &error, sizeof error, static_cast<int>(notifications));
    ::close(static_cast<int>(notifications));
  } else {
    (void)::send(report, &error, sizeof error, MSG_NOSIGNAL);
  }
  ::close(report);
}

Result<UniqueFd> receive_takeover_fd(int report) {
  int error = 0;
  int fd = -1;
  std::size_t count = 0;
  const ssize_t got =
      receive_with_fds(report, &error, sizeof error, MSG_DONTWAIT, &fd, 1, &count);
  UniqueFd notifications(count == 1 ? fd : -1);
  if (got != static_cast<ssize_t>(sizeof error))
    return system_error("hear from the child about its seccomp filter", got < 0 ? errno : EPROTO);
  if (error != 0) return system_error("install the seccomp filter", error);
  if (!notifications) return system_error("receive the seccomp notification fd", EPROTO);
  return notifications;
}

}  // namespace reuserun
