#include "harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace rrtest {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);)
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<Millis::rep>(left.count(), 0));
}

}  // namespace

std::string read_text(const std::string& path) { return read_file(path); }

int probe_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool wait_until(const std::function<bool()>& condition, Millis limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

namespace {

// The loopback address of one family, port set.
sockaddr_storage loopback_address(Loopback loopback, int port, socklen_t& length) {
  sockaddr_storage storage{};
  if (loopback == Loopback::ipv4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in6);
  }
  return storage;
}

}  // namespace

std::string unix_exchange(const std::string& path, const std::string& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const timeval limit{10, 0};  // a stalled server must not hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
      answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

bool has_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t length = 0;
  const sockaddr_storage address = loopback_address(Loopback::ipv6, 0, length);
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  ::close(fd);
  return ok;
}

HttpResult http_get(int port, const std::string& path, Millis timeout, Loopback loopback) {
  HttpResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  socklen_t address_length = 0;
  const sockaddr_storage address = loopback_address(loopback, port, address_length);
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const auto fail = [&](std::string error) {
    ::close(fd);
    result.error = std::move(error);
    return result;
  };
  const auto error_name = [](int error) -> std::string {
    if (error == ECONNREFUSED) return "refused";
    if (error == ECONNRESET || error == EPIPE) return "reset";
    return std::strerror(error);
  };
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), address_length) == -1 &&
      errno != EINPROGRESS)
    return fail(error_name(errno));
  pollfd writable{fd, POLLOUT, 0};
  if (::poll(&writable, 1, remaining_ms(deadline)) <= 0) return fail("timeout");
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return fail(error_name(error));
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return fail(error_name(errno));
  std::string response;
  char buffer[4096];
  while (true) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, remaining_ms(deadline)) <= 0) return fail("timeout");
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail(error_name(errno));
    }
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
    result.error = response.empty() ? "empty answer" : "bad answer";
    return result;
  }
  result.status = std::atoi(response.c_str() + 9);
  const std::size_t body = response.find("\r\n\r\n");
  if (body != std::string::npos) result.body = response.substr(body + 4);
  result.ok = result.status >= 200 && result.status < 300;
  if (!result.ok) result.error = "status " + std::to_string(result.status);
  return result;
}

std::optional<pid_t> serving_pid(int port) {
  const HttpResult answer = http_get(port, "/", 2s);
  if (!answer.ok || answer.body.rfind("pid=", 0) != 0) return std::nullopt;
  return static_cast<pid_t>(std::atoi(answer.body.c_str() + 4));
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 && !is_zombie(pid); }

bool is_zombie(pid_t pid) {
  const std::string state = status_field(pid, "State");
  return state.find('Z') != std::string::npos;
}

namespace {

std::vector<pid_t> children_named(pid_t parent, bool helpers) {
  std::vector<pid_t> children;
  DIR* dir = ::opendir("/proc");
  while (const dirent* entry = ::readdir(dir)) {
    const pid_t pid = std::atoi(entry->d_name);
    if (pid > 0 && std::atoi(status_field(pid, "PPid").c_str()) == parent &&
        (status_field(pid, "Name") == "\treuserun-helper") == helpers)
      children.push_back(pid);
  }
  ::closedir(dir);
  return children;
}

}  // namespace

std::vector<pid_t> child_pids(pid_t parent) { return children_named(parent, false); }

std::vector<pid_t> helper_pids(pid_t parent) { return children_named(parent, true); }

std::vector<pid_t> descendants(pid_t ancestor) {
  std::vector<pid_t> found;
  std::vector<pid_t> frontier{ancestor};
  while (!frontier.empty()) {
    const pid_t next = frontier.back();
    frontier.pop_back();
    for (pid_t child : child_pids(next)) {
      found.push_back(child);
      frontier.push_back(child);
    }
  }
  return found;
}

long vm_rss_kib(pid_t pid) { return std::atol(status_field(pid, "VmRSS").c_str()); }

long vm_hwm_kib(pid_t pid) { return std::atol(status_field(pid, "VmHWM").c_str()); }

unsigned long long stat_number(pid_t pid, int field) {
  if (pid <= 0 || field < 3) return 0;
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t name_end = stat.rfind(')');  // the name (field 2) may hold spaces and ')'
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string text;
  for (int at = 3; at <= field && fields >> text; ++at)
    if (at == field) return std::strtoull(text.c_str(), nullptr, 10);
  return 0;
}

double cpu_ms(pid_t pid) {
  const unsigned long long ticks = stat_number(pid, 14) + stat_number(pid, 15);
  return 1000.0 * static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

Load::Load(int port, int clients, long max_requests_per_client, Millis max_time) {
  const auto deadline = std::chrono::steady_clock::now() + max_time;
  for (int c = 0; c < clients; ++c) {
    threads_.emplace_back([this, port, max_requests_per_client, deadline] {
      for (long i = 0;
           i < max_requests_per_client && !stop_ && std::chrono::steady_clock::now() < deadline;
           ++i) {
        const HttpResult result = http_get(port, "/", 5s);
        ++sent_;
        if (!result.ok) {
          std::lock_guard guard(lock_);
          ++failures_[result.error];
        }
      }
    });
  }
}

Load::~Load() { stop(); }

bool Load::wait_for_requests(long count, Millis limit) const {
  return wait_until([&] { return sent_.load() >= count; }, limit);
}

Load::Result Load::stop() {
  stop_ = true;
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  Result result;
  result.sent = sent_.load();
  std::lock_guard guard(lock_);
  result.failures = failures_;
  for (const auto& [kind, count] : failures_) result.failed += count;
  return result;
}

TempDir::TempDir() {
  char pattern[] = "/tmp/reuserun-test-XXXXXX";
  path_ = ::mkdtemp(pattern);
}

TempDir::~TempDir() { std::filesystem::remove_all(path_); }

std::vector<std::string> as_nobody(std::vector<std::string> argv) {
  std::vector<std::string> wrapped{"/usr/bin/setsid", "/usr/bin/setpriv", "--reuid=65534",
                                   "--regid=65534", "--clear-groups"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

std::string copy_for_nobody(const std::string& binary, const TempDir& dir) {
  const std::string copy = dir.file(std::filesystem::path(binary).filename());
  std::filesystem::copy_file(binary, copy, std::filesystem::copy_options::overwrite_existing);
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(copy.c_str(), 0755);
  return copy;
}

void TempDir::write(const std::string& name, const std::string& content) const {
  std::ofstream(file(name)) << content;
}

namespace {

// Forks and execs argv with environ plus `env`, stdin from /dev/null, stdout and stderr to the
// given fds (opened before fork: the child only dups them). Returns the pid.
pid_t start_process(std::vector<std::string> argv, const std::vector<std::string>& env, int out,
                    int err) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  environment.insert(environment.end(), env.begin(), env.end());
  std::vector<char*> args, envp;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(null);
  return pid;
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::vector<std::string> env) {
  char pattern[] = "/tmp/reuserun-log-XXXXXX";
  const int log_fd = ::mkostemp(pattern, O_CLOEXEC);
  log_path_ = pattern;
  pid_ = start_process(std::move(argv), env, log_fd, log_fd);
  ::close(log_fd);
}

Captured run_captured(std::vector<std::string> argv, Millis limit, std::vector<std::string> env) {
  TempDir dir;
  const std::string out_path = dir.file("out"), err_path = dir.file("err");
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const pid_t pid = start_process(std::move(argv), env, out, err);
  ::close(out);
  ::close(err);
  Captured result;
  int status = 0;
  const bool ended = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit);
  if (ended) {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

namespace {
bool (*print_logs_condition)() = nullptr;
}  // namespace

void Process::print_logs_when(bool (*condition)()) { print_logs_condition = condition; }

Process::~Process() {
  if (running()) {
    // Whatever the launcher still runs belongs to this test too: end it by pid.
    for (pid_t pid : descendants(pid_)) ::kill(pid, SIGKILL);
    ::kill(pid_, SIGKILL);
    wait_exit(5s);
  }
  if (print_logs_condition != nullptr && print_logs_condition())
    std::fprintf(stderr, "--- output of pid %d (%s) ---\n%s--- end of pid %d ---\n", pid_,
                 exit_code_ ? ("exit " + std::to_string(*exit_code_)).c_str() : "running",
                 log().c_str(), pid_);
  ::unlink(log_path_.c_str());
}

void Process::signal(int sig) const { ::kill(pid_, sig); }

std::optional<int> Process::wait_exit(Millis limit) {
  wait_until([this] { return !running(); }, limit);
  return exit_code_;
}

bool Process::running() {
  if (exit_code_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

std::string Process::log() const { return read_file(log_path_); }

int Process::count_in_log(const std::string& needle) const {
  const std::string text = log();
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++count;
  return count;
}

bool Process::wait_for_log(const std::string& needle, Millis limit, int occurrences) const {
  return wait_until([&] { return count_in_log(needle) >= occurrences; }, limit);
}

Launch::Launch(std::vector<std::string> options, std::vector<std::string> command,
               std::vector<std::string> env)
    : port(probe_free_port()),
      process(
          [&] {
            std::vector<std::string> argv{kReuserun, "--port", std::to_string(port), "--bind",
                                          "127.0.0.1"};
            argv.insert(argv.end(), options.begin(), options.end());
            argv.push_back("--");
            argv.insert(argv.end(), command.begin(), command.end());
            return argv;
          }(),
          std::move(env)) {}

pid_t Launch::wait_serving(Millis limit) {
  wait_until_serving(process.pid(), limit);
  std::optional<pid_t> pid;
  wait_until([&] { return (pid = serving_pid(port)).has_value(); }, limit);
  return pid.value_or(-1);
}

std::vector<std::string> server_with_args_from(const std::string& args_file) {
  // exec: the shell becomes the server, so LISTEN_PID (the shell's pid) stays right.
  return {"/bin/sh", "-c", "exec " + kTestServer + " $(cat " + args_file + ")"};
}

TwoGenerations::TwoGenerations(std::vector<std::string> options, const std::string& next_args,
                               const std::string& first_args) {
  dir.write("args", first_args);
  launch = std::make_unique<Launch>(options, server_with_args_from(dir.file("args")));
  first = launch->wait_serving();
  dir.write("args", next_args);
}

namespace {

// The NUL-separated words of /proc/PID/FILE: its command line, or its environment.
std::vector<std::string> proc_words(pid_t pid, const std::string& file = "cmdline") {
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/" + file);
  std::vector<std::string> words;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\0', start), text.size());
    words.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

}  // namespace

std::string control_socket_of(pid_t reuserun) {
  const auto words = proc_words(reuserun);
  std::string port;
  for (std::size_t i = 0; i + 1 < words.size() && words[i] != "--"; ++i) {
    if (words[i] == "--control-socket") return words[i + 1];
    if (words[i] == "--port") port = words[i + 1];
  }
  // reuserun's XDG_RUNTIME_DIR, which a test may have set for it alone.
  std::string runtime = "/run";
  for (const auto& entry : proc_words(reuserun, "environ"))
    if (entry.starts_with("XDG_RUNTIME_DIR=") && entry.size() > 16) runtime = entry.substr(16);
  return runtime + "/reuserun/" + port + ".sock";
}

std::optional<RestartView> wait_for_restarts(pid_t reuserun, int ended, Millis limit) {
  const auto status = wait_for_status(
      reuserun, [&](const StatusView& now) { return now.restarts >= ended; }, limit);
  return status ? status->last_restart : std::nullopt;
}

bool restart_ended(pid_t reuserun, Ended expected, Millis limit, int nth) {
  const auto last = wait_for_restarts(reuserun, nth, limit);
  return last && last->succeeded == (expected == Ended::succeeded);
}

bool wait_until_serving(pid_t reuserun, Millis limit) {
  return wait_for_status(
             reuserun, [](const StatusView& status) { return status.serving.has_value(); }, limit)
      .has_value();
}

bool TwoGenerations::restart(Millis limit) {
  const auto before = ctl_status(launch->process.pid());
  launch->process.signal(SIGHUP);
  const auto last =
      wait_for_restarts(launch->process.pid(), (before ? before->restarts : 0) + 1, limit);
  return last && last->succeeded;
}

std::optional<RestartView> TwoGenerations::last_restart() const {
  const auto status = ctl_status(launch->process.pid());
  return status ? status->last_restart : std::nullopt;
}

std::set<unsigned long> listening_inodes(int port) {
  std::set<unsigned long> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long inode = 0;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      const auto colon = local.rfind(':');
      if (state == "0A" && colon != std::string::npos &&
          std::stoi(local.substr(colon + 1), nullptr, 16) == port)
        inodes.insert(inode);
    }
  }
  return inodes;
}

ListenerCount::ListenerCount(int port)
    : thread_([this, port] {
        while (!stop_) {
          const auto count = static_cast<int>(listening_inodes(port).size());
          most_ = std::max(most_.load(), count);
          fewest_ = std::min(fewest_.load(), count);
          std::this_thread::sleep_for(5ms);
        }
      }) {}

void ListenerCount::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

RestartsUnderLoad restart_under_load(Process& reuserun, int port, int restarts, const char* label) {
  RestartsUnderLoad outcome;
  Load load(port);
  load.wait_for_requests(50);
  for (int restart = 1; restart <= restarts; ++restart) {
    load.wait_for_requests(load.sent() + 100);  // traffic between restarts, not only during
    reuserun.signal(SIGHUP);
    const auto last = wait_for_restarts(reuserun.pid(), restart, 30s);
    if (!last || !last->succeeded) break;
    outcome.succeeded = restart;
  }
  outcome.load = load.stop();
  std::printf("%s: %d of %d restarts, %ld requests, %ld failed\n", label, outcome.succeeded,
              restarts, outcome.load.sent, outcome.load.failed);
  for (const auto& [kind, count] : outcome.load.failures)
    std::printf("  failed %s: %ld\n", kind.c_str(), count);
  return outcome;
}

}  // namespace rrtest
