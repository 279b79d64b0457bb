// A small HTTP server that takes its listening socket the systemd way (fd 3, LISTEN_FDS,
// LISTEN_PID) and nothing else: the test double for "an unmodified server" in the integration
// tests and the demo.
//
//   GET /      -> "pid=<pid> generation=<REUSERUN_GENERATION>\n"
//   GET /info  -> what it saw at start-up: its fds, LISTEN_* variables, signal masks, pgid
//   GET /signals -> how many USR1, USR2, WINCH, TTIN, TTOU it has received
//
// One thread per connection, HTTP/1.0 and HTTP/1.1 keep-alive. SIGTERM: stop accepting, answer
// each open connection's next request with "Connection: close", exit 0 once they are closed.
// Options: --start-delay MS (before accepting), --exit-after MS (exit 3 then), --ignore-term,
// --slow MS (per request). Takes its socket from LISTEN_FDS (checking LISTEN_PID) or
// SERVER_STARTER_PORT; serves the first socket (fd 3) of several.
// --listen PORT [--reuseport]: bind 127.0.0.1:PORT itself instead (a stale server in the way).
// --notify: send READY=1 (and a STATUS=) to $NOTIFY_SOCKET once it starts accepting.
// --no-accept: never accept (a server stuck at start-up). --status N: answer with status N.
// --require-host H: answer 400 to a request whose Host header is not H.
// --shutdown-on-term: shutdown() the listening socket on SIGTERM (breaking it for its other
// holders).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int) { g_stop = 1; }

// Signals a launcher may forward, counted: GET /signals -> "USR1=1 USR2=0 WINCH=0 ...".
constexpr int kCountedSignals[] = {SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU};
constexpr const char* kCountedNames[] = {"USR1", "USR2", "WINCH", "TTIN", "TTOU"};
std::atomic<int> g_signal_counts[5];
void on_counted(int sig) {
  for (int i = 0; i < 5; ++i)
    if (kCountedSignals[i] == sig) ++g_signal_counts[i];
}
std::string signal_counts() {
  std::string counts;
  for (int i = 0; i < 5; ++i)
    counts += std::string(i == 0 ? "" : " ") + kCountedNames[i] + "=" +
              std::to_string(g_signal_counts[i].load());
  return counts + "\n";
}

struct Options {
  int start_delay_ms = 0;
  int exit_after_ms = -1;
  int slow_ms = 0;
  bool ignore_term = false;
  int listen_port = -1;
  bool reuseport = false;
  bool notify = false;
  bool accept = true;
  int status = 200;
  std::string required_host;
  bool shutdown_on_term = false;
};

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

// Recorded before anything else opens an fd.
std::string startup_report() {
  std::string report = "pid=" + std::to_string(getpid()) + "\n";
  report += "LISTEN_FDS=" + env_or("LISTEN_FDS", "") + "\n";
  report += "LISTEN_PID=" + env_or("LISTEN_PID", "") + "\n";
  report += "LISTEN_FDNAMES=" + env_or("LISTEN_FDNAMES", "") + "\n";
  report += "NOTIFY_SOCKET=" + env_or("NOTIFY_SOCKET", "") + "\n";
  report += "pgid=" + std::to_string(getpgid(0)) + "\n";
  std::vector<std::string> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    const int own = dirfd(dir);
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.' || std::atoi(entry->d_name) == own) continue;
      char target[256] = {};
      const std::string link = std::string("/proc/self/fd/") + entry->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
      fds.push_back(std::string(entry->d_name) + " " + (n > 0 ? target : "?"));
    }
    closedir(dir);
  }
  std::sort(fds.begin(), fds.end());
  for (const auto& fd : fds) report += "fd " + fd + "\n";
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("SigBlk:") || line.starts_with("SigIgn:")) report += line + "\n";
  return report;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (arg == "--start-delay")
      options.start_delay_ms = next();
    else if (arg == "--exit-after")
      options.exit_after_ms = next();
    else if (arg == "--slow")
      options.slow_ms = next();
    else if (arg == "--ignore-term")
      options.ignore_term = true;
    else if (arg == "--listen")
      options.listen_port = next();
    else if (arg == "--reuseport")
      options.reuseport = true;
    else if (arg == "--notify")
      options.notify = true;
    else if (arg == "--no-accept")
      options.accept = false;
    else if (arg == "--status")
      options.status = next();
    else if (arg == "--shutdown-on-term")
      options.shutdown_on_term = true;
    else if (arg == "--require-host" && i + 1 < argc)
      options.required_host = argv[++i];
    else {
      std::fprintf(stderr, "test_server: unknown option %s\n", argv[i]);
      std::exit(64);
    }
  }
  return options;
}

std::atomic<int> g_connections{0};
std::atomic<bool> g_draining{false};

bool write_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = write(fd, data.data() + sent, data.size() - sent);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::string respond(const std::string& request, const std::string& report, const Options& options,
                    bool keep_alive) {
  std::string body = "pid=" + std::to_string(getpid()) +
                     " generation=" + env_or("REUSERUN_GENERATION", "?") + "\n";
  if (request.starts_with("GET /info ")) body = report;
  if (request.starts_with("GET /signals ")) body = signal_counts();
  const bool wrong_host =
      !options.required_host.empty() &&
      request.find("\r\nHost: " + options.required_host + "\r\n") == std::string::npos;
  const std::string version = request.find(" HTTP/1.1\r\n") != std::string::npos ? "1.1" : "1.0";
  return "HTTP/" + version + " " + std::to_string(wrong_host ? 400 : options.status) +
         " Status\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: " + (keep_alive ? "keep-alive" : "close") + "\r\n\r\n" + body;
}

// One connection, on its own thread: requests until the client closes or asks to, or the server
// drains, in which case the next request is answered with "Connection: close" (an idle
// keep-alive connection is never closed under a client that may be sending on it).
void serve_connection(int client, const std::string& report, const Options& options) {
  std::string buffer;
  char chunk[4096];
  while (true) {
    std::size_t end = 0;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = read(client, chunk, sizeof chunk);
      if (n <= 0) {
        close(client);
        --g_connections;
        return;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string request = buffer.substr(0, end + 4);
    buffer.erase(0, end + 4);
    if (options.slow_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(options.slow_ms));
    const bool keep_alive = request.find(" HTTP/1.1\r\n") != std::string::npos &&
                            request.find("\r\nConnection: close\r\n") == std::string::npos &&
                            !g_draining;
    if (!write_all(client, respond(request, report, options, keep_alive)) || !keep_alive) break;
  }
  close(client);
  --g_connections;
}

// Accepts everything waiting, as event-driven servers do, one thread per connection.
void accept_all(int listen_fd, const std::string& report, const Options& options) {
  while (true) {
    const int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;  // EAGAIN: the queue is empty (or another process took it)
    ++g_connections;
    std::thread(serve_connection, client, std::cref(report), std::cref(options)).detach();
  }
}

// Once stopped: connections finish (each gets one more answer, with Connection: close), bounded.
void drain() {
  g_draining = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (g_connections > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// sd_notify(3) by hand: one datagram to $NOTIFY_SOCKET ("@name" is an abstract address).
void notify_systemd(const std::string& message) {
  const std::string path = env_or("NOTIFY_SOCKET", "");
  if (path.empty()) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), std::min(path.size(), sizeof address.sun_path - 1));
  if (path[0] == '@') address.sun_path[0] = '\0';
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&address),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size()));
  close(fd);
}

// Server::Starter hands the socket over as SERVER_STARTER_PORT="127.0.0.1:8080=5;...".
bool take_server_starter_socket() {
  const std::string ports = env_or("SERVER_STARTER_PORT", "");
  const std::size_t equals = ports.find('=');
  if (equals == std::string::npos) return false;
  const int fd = std::atoi(ports.c_str() + equals + 1);
  return fd == 3 || dup2(fd, 3) == 3;
}

// The listening socket of a server that binds by itself, placed at fd 3.
bool listen_by_itself(const Options& options) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  if (options.reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(options.listen_port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == -1 ||
      listen(fd, SOMAXCONN) == -1) {
    std::perror("test_server: bind");
    return false;
  }
  return dup2(fd, 3) == 3;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string report = startup_report();
  const Options options = parse_options(argc, argv);
  if (options.listen_port >= 0) {
    if (!listen_by_itself(options)) return 2;
  } else if (take_server_starter_socket()) {
  } else if (std::atoi(env_or("LISTEN_FDS", "0").c_str()) < 1 ||
             env_or("LISTEN_PID", "") != std::to_string(getpid())) {
    std::fprintf(stderr, "test_server: no socket for me (LISTEN_FDS=%s LISTEN_PID=%s pid=%d)\n",
                 env_or("LISTEN_FDS", "").c_str(), env_or("LISTEN_PID", "").c_str(), getpid());
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = options.ignore_term ? SIG_IGN : on_term;  // no SA_RESTART: poll wakes up
  sigaction(SIGTERM, &action, nullptr);
  struct sigaction count {};
  count.sa_handler = on_counted;
  count.sa_flags = SA_RESTART;
  for (const int sig : kCountedSignals) sigaction(sig, &count, nullptr);
  sigset_t term, unblocked;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &unblocked);  // SIGTERM only in ppoll (threads inherit the block)
  sigdelset(&unblocked, SIGTERM);
  signal(SIGPIPE, SIG_IGN);

  const auto started = std::chrono::steady_clock::now();
  if (options.start_delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(options.start_delay_ms));
  constexpr int kListenFd = 3;
  // Non-blocking, as real servers do: with old and new generation polling one socket, the other
  // may take the connection between poll and accept.
  fcntl(kListenFd, F_SETFL, fcntl(kListenFd, F_GETFL) | O_NONBLOCK);
  if (options.notify && options.accept) notify_systemd("STATUS=accepting connections\nREADY=1");
  while (!g_stop) {
    if (options.exit_after_ms >= 0 && std::chrono::steady_clock::now() - started >=
                                          std::chrono::milliseconds(options.exit_after_ms))
      std::_Exit(3);  // a crash: open connections die with it
    pollfd fd{kListenFd, POLLIN, 0};
    const timespec tick{0, 20 * 1000 * 1000};
    if (ppoll(options.accept ? &fd : nullptr, options.accept ? 1 : 0, &tick, &unblocked) <= 0)
      continue;
    accept_all(kListenFd, report, options);
  }
  // What some servers do when they stop, and what breaks a shared socket for every holder.
  if (options.shutdown_on_term) shutdown(kListenFd, SHUT_RDWR);
  close(kListenFd);  // our copy: an inherited shared socket stays open in its other holders
  drain();
  std::_Exit(0);  // connection threads may still be blocked on idle clients
}
