// The only file that includes Boost.Process (v2, Boost 1.81). Traps of 1.81 avoided here (each
// with its reason in docs/DESIGN.md §5):
//   * posix::bind_fd is broken and close_all() skips fds between whitelist entries: the fds are
//     placed and closed by hand (close_range with CLOSE_RANGE_CLOEXEC);
//   * process_environment does not link header-only: the envp is built by ChildEnv;
//   * the child's error path calls exit(), not _exit(): on_exec_error _exits first;
//   * the error reported to the parent is errno, not the returned code: errno is kept intact;
//   * ~basic_process SIGKILLs a running child and waitpid()s it: the process is detached, and
//     the Reaper alone collects exit statuses.
#include "spawn.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/process/v2/posix/default_launcher.hpp>
#include <boost/process/v2/process.hpp>

#include "takeover_filter.hpp"
#include "exit_code.hpp"

namespace reuserun {
namespace {

namespace bp = boost::process::v2;
using boost::system::error_code;

// Everything the child needs, computed before fork so the child only copies and calls.
struct ChildSetup {
  const char* executable;
  const char* const* argv;
  ChildEnv* env;
  const char* const* envp;
  std::array<int, kMaxListeners> listen_fds{};
  std::array<int, kMaxListeners> scratch_fds{};
  std::size_t listen_count = 0;
  pid_t parent_pid = 0;
  bool die_with_parent = true;
  const SpawnRequest* request = nullptr;  // identity and directory, read-only in the child

  // Boost.Process hook, parent side, before fork.
  error_code on_setup(bp::posix::default_launcher&, const bp::filesystem::path&,
                      const char* const*) {
    return {};
  }

  // Boost.Process hook, child side, between fork and exec. Execs itself, so that argv[0] is the
  // user's verbatim (1.81 passes the resolved path as argv[0]) and no Boost fd handling runs.
  error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&,
                           const char* const*) {
    if (!prepare_child()) return {errno, boost::system::system_category()};
    ::execve(executable, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    return {errno, boost::system::system_category()};
  }

  // Boost.Process hook, child side, after the errno went to the parent: leave without running
  // the parent's atexit handlers and static destructors (1.81 would call exit()).
  void on_exec_error(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*,
                     const error_code&) {
    ::_exit(kExitNotExecutable);
  }
  // 1.81 detects the hook with a five-argument expression but calls the four-argument one above;
  // without this overload the hook is silently never called.
  void on_exec_error(bp::posix::default_launcher&, const error_code&, const bp::filesystem::path&,
                     const char* const*, const error_code&) {
    ::_exit(kExitNotExecutable);
  }

  // async-signal-safe: no allocation, no logging. Returns false with errno set.
  bool prepare_child() {
    // Handlers installed by the parent must not run here, and SIG_IGN and the mask survive
    // execve: back to the defaults.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &default_action, nullptr);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Its own process group: the launcher signals the child's whole tree, a terminal's Ctrl-C
    // reaches the launcher only.
    if (::setpgid(0, 0) == -1) return false;
    // While it still has CAP_SYS_ADMIN (root with --user): its tree keeps setuid programs.
    if (request->takeover_filter != nullptr)
      install_takeover_filter(request->takeover_filter, request->takeover_report);
    // Identity before PR_SET_PDEATHSIG: a change of credentials clears it (prctl(2)).
    if ((request->uid || request->gid) &&
        ::setgroups(request->groups.size(), request->groups.data()) == -1)
      return false;
    if (request->gid && ::setgid(*request->gid) == -1) return false;
    if (request->uid && ::setuid(*request->uid) == -1) return false;
    if (!request->directory.empty() && ::chdir(request->directory.c_str()) == -1) return false;
    // Die with the launcher (a per-thread attribute: reuserun has one thread); the getppid()
    // check closes the race of a launcher that died before prctl().
    if (die_with_parent) {
      if (::prctl(PR_SET_PDEATHSIG, SIGTERM) == -1) return false;
      if (::getppid() != parent_pid) {
        errno = ESRCH;
        return false;
      }
    }
    if (!place_listeners()) return false;
    env->write_own_pid(::getpid());
    return true;
  }

  // The listeners at 3, 4, ... without FD_CLOEXEC; everything above marked close-on-exec (not
  // closed: Boost's error pipe must stay usable until execve). Copies go above the target range
  // first, so a listener that already sits at a target fd is never clobbered, and dup2 (which
  // clears FD_CLOEXEC) always has distinct fds: dup2(3, 3) would be a no-op that keeps it.
  bool place_listeners() {
    const int first_free = kListenFdsStart + static_cast<int>(listen_count);
    for (std::size_t i = 0; i < listen_count; ++i) {
      scratch_fds[i] = ::fcntl(listen_fds[i], F_DUPFD_CLOEXEC, first_free);
      if (scratch_fds[i] == -1) return false;
    }
    for (std::size_t i = 0; i < listen_count; ++i)
      if (::dup2(scratch_fds[i], kListenFdsStart + static_cast<int>(i)) == -1) return false;
    return ::syscall(SYS_close_range, first_free, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
  }
};

// Blocks every signal across fork, so that no handler of the parent (Asio's signal_set writes
// to a pipe shared with the parent) runs in the child before it resets them.
class BlockSignals {
 public:
  BlockSignals() {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~BlockSignals() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  BlockSignals(const BlockSignals&) = delete;
  BlockSignals& operator=(const BlockSignals&) = delete;

 private:
  sigset_t saved_;
};

}  // namespace

Result<pid_t> spawn_process(boost::asio::io_context& io, const SpawnRequest& request) {
  std::vector<const char*> argv;
  for (const auto& arg : request.argv) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  // The pointer array is built now, not in the child.
  ChildSetup setup{request.executable.c_str(), argv.data(), request.env, request.env->envp()};
  if (request.listen_fds.size() > kMaxListeners)
    return system_error(
        "hand " + std::to_string(request.listen_fds.size()) + " sockets to " + request.executable,
        EMFILE);
  setup.listen_count = request.listen_fds.size();
  std::copy(request.listen_fds.begin(), request.listen_fds.end(), setup.listen_fds.begin());
  setup.parent_pid = ::getpid();
  setup.die_with_parent = request.die_with_parent;
  setup.request = &request;

  bp::posix::default_launcher launcher;
  error_code error;
  const std::vector<std::string> no_args;
  {
    BlockSignals blocked;
    auto process = launcher(io.get_executor(), error, request.executable, no_args, setup);
    process.detach();
  }
  if (error) return system_error("execute " + request.executable, error.value());
  return launcher.pid;
}

}  // namespace reuserun
