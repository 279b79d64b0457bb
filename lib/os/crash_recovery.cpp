#include "crash_recovery.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>

#include "text.hpp"
#include "upgrade.hpp"

namespace reuserun {
namespace {

// REUSERUN_RECOVERY=SS RRR WWWWWWWWWWWWWWWWWWWW GGGGGGGGGGGGGGGGGGGG\n<state>: the signal, the
// recoveries in the window and its start, the next generation number, written by the handler
// into fixed-width fields.
constexpr std::size_t kSignalDigits = 2;
constexpr std::size_t kCountDigits = 3;
constexpr std::size_t kTimeDigits = 20;
constexpr std::size_t kCountAt = kSignalDigits + 1;
constexpr std::size_t kTimeAt = kCountAt + kCountDigits + 1;
constexpr std::size_t kGenerationAt = kTimeAt + kTimeDigits + 1;
constexpr std::size_t kHeaderLength = kGenerationAt + kTimeDigits + 1;

// What the handler reads. Built by arm_crash_recovery and never freed: a handler may run at any
// moment, so a plan it could be reading is replaced, not destroyed (the few replaced plans of a
// process's life stay allocated).
struct Prepared {
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string variable;       // "REUSERUN_RECOVERY=" + header + state; its header is written
  std::size_t header_at = 0;  // where the header starts in `variable`
  std::vector<int> keep_fds;
  sigset_t exec_mask{};  // what is blocked across execve: the signals the loop handles
  CrashHistory history;
  pid_t self = 0;
};

Prepared* volatile armed = nullptr;
// The next generation number, as the loop last said (note_next_generation): a child's claim of
// a later one after a crash is a lie.
volatile std::uint64_t next_generation = 0;
volatile sig_atomic_t disarmed = 0;
// Every plan ever armed, so that none is freed while a handler could read it (and none counts
// as leaked).
std::vector<std::unique_ptr<Prepared>>& plans() {
  static std::vector<std::unique_ptr<Prepared>> all;
  return all;
}
alignas(16) char alternate_stack[64 * 1024];

// Writes `value` as `width` decimal digits, zero-padded, at `out`. Signal-safe.
void write_digits(char* out, std::size_t width, std::int64_t value) {
  for (std::size_t i = width; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// "reuserun: SIG<name><what>", on standard error. Signal-safe.
void write_line(const char* name, const char* what) {
  const auto put = [](const char* text) { (void)!::write(STDERR_FILENO, text, std::strlen(text)); };
  put("reuserun: SIG");
  put(name == nullptr ? "?" : name);
  put(what);
  put("\n");
}

// Dies of `sig`: its default action again, delivered when the handler returns (a fault
// happens again at the same instruction; a sent signal is pending).
void die_of(int sig) {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  ::sigaction(sig, &action, nullptr);
  (void)::kill(::getpid(), sig);
}

void on_crash(int sig, siginfo_t* info, void*) {
  Prepared* plan = armed;
  const char* name = ::sigabbrev_np(sig);
  if (plan == nullptr || disarmed) return die_of(sig);
  const bool sent = info != nullptr && info->si_code <= 0 && info->si_pid != plan->self;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const std::int64_t now_ns = std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  switch (judge_crash(sig, sent, plan->history, now_ns)) {
    case CrashVerdict::die_asked:
      write_line(name, ": sent by another process (systemd's watchdog?): not recovering");
      return die_of(sig);
    case CrashVerdict::die_too_many:
      write_line(name, ": more than 3 recoveries in 60 s: not recovering");
      return die_of(sig);
    case CrashVerdict::recover:
      break;
  }
  // A copy that dies of the signal: its core (when the system writes cores) is this image's.
  if (const pid_t copy = ::_Fork(); copy == 0) {
    (void)::close_range(3, ~0U, 0);  // it holds no socket while a core is written
    die_of(sig);
    sigset_t only{};
    ::sigemptyset(&only);
    ::sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    ::_exit(128 + sig);
  }
  char* header = plan->variable.data() + plan->header_at;
  write_digits(header, kSignalDigits, sig);
  write_digits(header + kCountAt, kCountDigits, plan->history.recoveries);
  write_digits(header + kTimeAt, kTimeDigits, plan->history.window_start_ns);
  write_digits(header + kGenerationAt, kTimeDigits,
               static_cast<std::int64_t>(next_generation & 0x7fffffffffffffff));
  for (const int fd : plan->keep_fds) (void)::fcntl(fd, F_SETFD, 0);
  ::sigprocmask(SIG_SETMASK, &plan->exec_mask, nullptr);
  write_line(name, ": recovering in place (re-executing /proc/self/exe)");
  ::execve("/proc/self/exe", plan->argv.data(), plan->envp.data());
  write_line(name, ": cannot re-execute reuserun: not recovering");
  die_of(sig);
}

}  // namespace

void arm_crash_recovery(const CrashRecoveryPlan& plan) {
  auto prepared = std::make_unique<Prepared>();
  prepared->argv_storage = plan.argv;
  for (std::string& arg : prepared->argv_storage) prepared->argv.push_back(arg.data());
  prepared->argv.push_back(nullptr);
  const std::string prefix = std::string(kRecoveryVariable) + "=";
  for (char** entry = environ; *entry != nullptr; ++entry)
    if (!std::string_view(*entry).starts_with(prefix)) prepared->env_storage.emplace_back(*entry);
  prepared->variable = prefix + std::string(kHeaderLength - 1, '0') + "\n" + plan.state;
  for (const std::size_t space : {kCountAt - 1, kTimeAt - 1, kGenerationAt - 1})
    prepared->variable[prefix.size() + space] = ' ';
  prepared->header_at = prefix.size();
  for (std::string& entry : prepared->env_storage) prepared->envp.push_back(entry.data());
  prepared->envp.push_back(prepared->variable.data());
  prepared->envp.push_back(nullptr);
  prepared->keep_fds = plan.keep_fds;
  prepared->history = plan.history;
  prepared->self = ::getpid();
  upgrade_signal_set(&prepared->exec_mask);
  for (const int sig : kCrashSignals) ::sigdelset(&prepared->exec_mask, sig);

  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  (void)::sigaltstack(&stack, nullptr);
  armed = prepared.get();  // the earlier plan stays: see Prepared
  plans().push_back(std::move(prepared));
  disarmed = 0;
  struct sigaction action {};
  action.sa_sigaction = on_crash;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  // The loop's signals too: a SIGTERM arriving meanwhile must wait for the new image (the exec
  // keeps it pending), not run Asio's handler on top of this one and be lost with its pipe.
  upgrade_signal_set(&action.sa_mask);
  for (const int sig : kCrashSignals) ::sigaddset(&action.sa_mask, sig);
  for (const int sig : kCrashSignals) ::sigaction(sig, &action, nullptr);
}

void note_next_generation(std::uint64_t next) {
  if (next > next_generation) next_generation = next;
}

void disarm_crash_recovery() {
  disarmed = 1;
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  for (const int sig : kCrashSignals) ::sigaction(sig, &action, nullptr);
}

std::optional<RecoveredCrash> take_recovery_variable() {
  const char* value = ::getenv(kRecoveryVariable);
  if (value == nullptr) return std::nullopt;
  const std::string text = value;
  ::unsetenv(kRecoveryVariable);
  if (text.size() < kHeaderLength || text[kHeaderLength - 1] != '\n') return std::nullopt;
  RecoveredCrash crash;
  const std::string_view header(text.data(), kHeaderLength - 1);
  if (!parse_number(header.substr(0, kSignalDigits), crash.signal) ||
      !parse_number(header.substr(kCountAt, kCountDigits), crash.history.recoveries) ||
      !parse_number(header.substr(kTimeAt, kTimeDigits), crash.history.window_start_ns) ||
      !parse_number(header.substr(kGenerationAt, kTimeDigits), crash.next_generation))
    return std::nullopt;
  crash.state = text.substr(kHeaderLength);
  return crash;
}

}  // namespace reuserun
