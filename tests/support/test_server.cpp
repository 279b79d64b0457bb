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
// SERVER_STARTER_PORT, EINHORN_FD_*, NGINX or --fd N, and serves every one of them; GET /info
// ends with "protocol=<the one it used>". A datagram socket (udp:, unix-dgram:) is served too:
// each datagram comes back to its sender with " pid=<pid>" appended.
// --listen PORT [--reuseport]: bind 127.0.0.1:PORT itself instead (a stale server in the way, or
// a server that knows nothing of LISTEN_FDS); --listen6 PORT: [::1]:PORT. --also-listen PORT:
// besides the sockets it is given, bind 127.0.0.1:PORT itself and serve it too (an admin port).
// --nonblocking: the socket it binds itself is non-blocking, as Go's, libuv's and asyncio's are.
// --defer-accept S: TCP_DEFER_ACCEPT S on the socket it binds itself, set before bind().
// --notify: send READY=1 (and a STATUS=) to $NOTIFY_SOCKET once it starts accepting.
// --no-accept: never accept (a server stuck at start-up). --status N: answer with status N.
// --require-host H: answer 400 to a request whose Host header is not H.
// --shutdown-on-term: shutdown() the listening socket on SIGTERM (breaking it for its other
// holders).
// --count-file PATH: on exit, write the number of connections it accepted there.
// --wait poll|epoll|select|accept: how it waits for connections (default poll: ppoll on
// non-blocking sockets; accept: a thread per socket blocked in accept4, or in recvfrom for a
// datagram socket).
// --watchdog-for MS: when WATCHDOG_USEC is set and WATCHDOG_PID is its own pid, send WATCHDOG=1
// every WATCHDOG_USEC/2 for MS milliseconds (-1: for ever), then stop pinging but keep serving
// (a server whose main loop hung while its accept threads still work).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
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
  bool listen_ipv6 = false;
  int also_listen_port = -1;
  bool reuseport = false;
  bool nonblocking = false;
  int defer_accept = 0;
  bool notify = false;
  bool accept = true;
  int status = 200;
  std::string required_host;
  bool shutdown_on_term = false;
  int fd = -1;  // --fd N: the socket is fd N (argv substitution: --fd {fd})
  std::string wait = "poll";
  std::string count_file;
  int watchdog_for_ms = -2;  // -2: no pinging; -1: for ever
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
  for (const char* name : {"WATCHDOG_USEC", "WATCHDOG_PID", "EINHORN_FD_COUNT", "EINHORN_FD_0", "EINHORN_FD_1",
                           "SERVER_STARTER_PORT", "SERVER_STARTER_GENERATION", "NGINX"})
    if (std::getenv(name) != nullptr) report += std::string(name) + "=" + env_or(name, "") + "\n";
  report += "pgid=" + std::to_string(getpgid(0)) + "\n";
  report += "uid=" + std::to_string(getuid()) + " gid=" + std::to_string(getgid()) + "\n";
  char cwd[4096] = {};
  report += std::string("cwd=") + (getcwd(cwd, sizeof cwd) != nullptr ? cwd : "?") + "\n";
  for (char** entry = environ; *entry != nullptr; ++entry)
    if (std::string_view(*entry).starts_with("APP_")) report += std::string(*entry) + "\n";
  std::vector<std::string> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    const int own = dirfd(dir);
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.' || std::atoi(entry->d_name) == own) continue;
      char target[256] = {};
      const std::string link = std::string("/proc/self/fd/") + entry->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
      std::string line = std::string(entry->d_name) + " " + (n > 0 ? target : "?");
      int type = 0;
      socklen_t length = sizeof type;
      if (getsockopt(std::atoi(entry->d_name), SOL_SOCKET, SO_TYPE, &type, &length) == 0)
        line += type == SOCK_DGRAM ? " dgram" : type == SOCK_SEQPACKET ? " seqpacket" : " stream";
      fds.push_back(line);
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
    else if (arg == "--listen6") {
      options.listen_port = next();
      options.listen_ipv6 = true;
    } else if (arg == "--also-listen")
      options.also_listen_port = next();
    else if (arg == "--nonblocking")
      options.nonblocking = true;
    else if (arg == "--defer-accept")
      options.defer_accept = next();
    else if (arg == "--reuseport")
      options.reuseport = true;
    else if (arg == "--notify")
      options.notify = true;
    else if (arg == "--no-accept")
      options.accept = false;
    else if (arg == "--status")
      options.status = next();
    else if (arg == "--fd")
      options.fd = next();
    else if (arg == "--shutdown-on-term")
      options.shutdown_on_term = true;
    else if (arg == "--watchdog-for")
      options.watchdog_for_ms = next();
    else if (arg == "--wait" && i + 1 < argc) {
      options.wait = argv[++i];
      if (options.wait != "poll" && options.wait != "epoll" && options.wait != "select" &&
          options.wait != "accept") {
        std::fprintf(stderr, "test_server: --wait poll|epoll|select|accept\n");
        std::exit(64);
      }
    } else if (arg == "--count-file" && i + 1 < argc)
      options.count_file = argv[++i];
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
std::atomic<long> g_accepted{0};
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
    ++g_accepted;
    std::thread(serve_connection, client, std::cref(report), std::cref(options)).detach();
  }
}

// A datagram socket (udp:, unix-dgram:): every query waiting is answered with itself and
// " pid=<pid>\n", to the sender. It stops reading at SIGTERM: what it has not read stays queued
// in the shared socket for the next generation.
void answer_datagrams(int fd) {
  char query[2048];
  while (!g_stop) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const ssize_t n = recvfrom(fd, query, sizeof query, MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return;  // EAGAIN: none left (or another generation took it)
    ++g_accepted;
    std::string answer(query, static_cast<std::size_t>(n));
    answer += " pid=" + std::to_string(getpid()) + "\n";
    sendto(fd, answer.data(), answer.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
           length);
  }
}

bool is_datagram_socket(int fd) {
  int type = 0;
  socklen_t length = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_DGRAM;
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

std::vector<int> numbers_in(const std::string& list, char separator) {
  std::vector<int> numbers;
  std::size_t start = 0;
  while (start < list.size()) {
    const std::size_t end = std::min(list.find(separator, start), list.size());
    if (end > start) numbers.push_back(std::atoi(list.c_str() + start));
    start = end + 1;
  }
  return numbers;
}

// The listening sockets, by whichever protocol the launcher speaks, and its name ("systemd",
// "einhorn", "server-starter", "nginx", "fd"): each consumed the way its real users do.
std::vector<int> take_sockets(const Options& options, std::string& protocol) {
  std::vector<int> fds;
  if (options.fd >= 0) {
    protocol = "fd";
    return {options.fd};
  }
  const int listen_fds = std::atoi(env_or("LISTEN_FDS", "0").c_str());
  if (listen_fds > 0 && env_or("LISTEN_PID", "") == std::to_string(getpid())) {
    protocol = "systemd";
    for (int i = 0; i < listen_fds; ++i) fds.push_back(3 + i);
    return fds;
  }
  if (const int count = std::atoi(env_or("EINHORN_FD_COUNT", "0").c_str()); count > 0) {
    protocol = "einhorn";
    for (int i = 0; i < count; ++i)
      fds.push_back(std::atoi(env_or(("EINHORN_FD_" + std::to_string(i)).c_str(), "-1").c_str()));
    return fds;
  }
  // SERVER_STARTER_PORT="127.0.0.1:8080=3;/path/to.sock=4".
  const std::string starter = env_or("SERVER_STARTER_PORT", "");
  if (!starter.empty()) {
    protocol = "server-starter";
    for (std::size_t at = starter.find('='); at != std::string::npos;
         at = starter.find('=', at + 1))
      fds.push_back(std::atoi(starter.c_str() + at + 1));
    return fds;
  }
  const std::string nginx = env_or("NGINX", "");  // "3;4;"
  if (!nginx.empty()) {
    protocol = "nginx";
    return numbers_in(nginx, ';');
  }
  return fds;
}

// The listening socket of a server that binds by itself: loopback, IPv4 or IPv6.
int listen_by_itself(const Options& options, int port, bool ipv6) {
  const int fd = socket(ipv6 ? AF_INET6 : AF_INET,
                        SOCK_STREAM | (options.nonblocking ? SOCK_NONBLOCK : 0), 0);
  const int on = 1;
  if (options.reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (options.defer_accept > 0)
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &options.defer_accept,
               sizeof options.defer_accept);
  sockaddr_storage storage{};
  socklen_t length = sizeof(sockaddr_in);
  if (ipv6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    address->sin6_addr = in6addr_loopback;
    address->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&storage);
    address->sin_family = AF_INET;
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address->sin_port = htons(static_cast<uint16_t>(port));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) == -1 ||
      listen(fd, SOMAXCONN) == -1) {
    std::perror("test_server: bind");
    return -1;
  }
  return fd;
}

bool exit_due(const Options& options, std::chrono::steady_clock::time_point started) {
  return options.exit_after_ms >= 0 && std::chrono::steady_clock::now() - started >=
                                           std::chrono::milliseconds(options.exit_after_ms);
}

void on_wake(int) {}

// --wait accept: a thread per socket blocked in accept4 (the socket stays blocking); SIGURG
// (unblocked in these threads only, no SA_RESTART) interrupts them when the server stops.
void serve_blocking(const std::vector<int>& fds, const std::string& report, const Options& options,
                    std::chrono::steady_clock::time_point started, const sigset_t& unblocked) {
  struct sigaction wake {};
  wake.sa_handler = on_wake;
  sigaction(SIGURG, &wake, nullptr);
  std::atomic<int> running{0};
  std::vector<pthread_t> threads;
  for (const int fd : fds) {
    ++running;
    std::thread thread([fd, &report, &options, &running] {
      sigset_t urgent;
      sigemptyset(&urgent);
      sigaddset(&urgent, SIGURG);
      pthread_sigmask(SIG_UNBLOCK, &urgent, nullptr);
      const bool datagrams = is_datagram_socket(fd);
      while (!g_stop) {
        if (datagrams) {  // blocked in recvfrom, then every datagram waiting is answered
          char byte;
          if (recv(fd, &byte, 1, MSG_PEEK) >= 0) answer_datagrams(fd);
          continue;
        }
        const int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;  // EINTR: look at g_stop
        ++g_connections;
        ++g_accepted;
        std::thread(serve_connection, client, std::cref(report), std::cref(options)).detach();
      }
      --running;
    });
    threads.push_back(thread.native_handle());
    thread.detach();
  }
  while (!g_stop) {
    if (exit_due(options, started)) std::_Exit(3);
    const timespec tick{0, 20 * 1000 * 1000};
    ppoll(nullptr, 0, &tick, &unblocked);
  }
  while (running > 0) {
    for (const pthread_t thread : threads) pthread_kill(thread, SIGURG);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Waits with ppoll, epoll_pwait or pselect on non-blocking sockets, as event-driven servers do:
// with old and new generation watching one socket, the other may take the connection between
// the wake-up and accept. SIGTERM is unblocked only while waiting.
void serve(const std::vector<int>& fds, const std::string& report, const Options& options,
           std::chrono::steady_clock::time_point started, const sigset_t& unblocked) {
  if (options.wait == "accept" && options.accept)
    return serve_blocking(fds, report, options, started, unblocked);
  std::vector<pollfd> polled;
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  for (const int fd : fds) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    polled.push_back({fd, POLLIN, 0});
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (options.wait == "epoll" && options.accept) epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  }
  while (!g_stop) {
    if (exit_due(options, started)) std::_Exit(3);  // a crash: open connections die with it
    const timespec tick{0, 20 * 1000 * 1000};
    std::vector<int> ready;
    if (!options.accept) {
      ppoll(nullptr, 0, &tick, &unblocked);
    } else if (options.wait == "epoll") {
      epoll_event events[8];
      const int count = epoll_pwait(epoll_fd, events, 8, 20, &unblocked);
      for (int i = 0; i < count; ++i) ready.push_back(events[i].data.fd);
    } else if (options.wait == "select") {
      fd_set readable;
      FD_ZERO(&readable);
      int highest = 0;
      for (const int fd : fds) {
        FD_SET(fd, &readable);
        highest = std::max(highest, fd);
      }
      if (pselect(highest + 1, &readable, nullptr, nullptr, &tick, &unblocked) > 0)
        for (const int fd : fds)
          if (FD_ISSET(fd, &readable)) ready.push_back(fd);
    } else if (ppoll(polled.data(), polled.size(), &tick, &unblocked) > 0) {
      for (const pollfd& entry : polled)
        if (entry.revents & POLLIN) ready.push_back(entry.fd);
    }
    for (const int fd : ready) {
      if (is_datagram_socket(fd))
        answer_datagrams(fd);
      else
        accept_all(fd, report, options);
    }
  }
  close(epoll_fd);
}

// sd_watchdog_enabled(3) by hand: pings from a thread of its own for --watchdog-for.
void ping_watchdog(const Options& options) {
  const long usec = std::atol(env_or("WATCHDOG_USEC", "0").c_str());
  if (options.watchdog_for_ms < -1 || usec <= 0 ||
      env_or("WATCHDOG_PID", "") != std::to_string(getpid()))
    return;
  std::thread([usec, for_ms = options.watchdog_for_ms] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(for_ms);
    while (for_ms < 0 || std::chrono::steady_clock::now() < until) {
      notify_systemd("WATCHDOG=1");
      std::this_thread::sleep_for(std::chrono::microseconds(usec / 2));
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string report = startup_report();
  const Options options = parse_options(argc, argv);
  std::string protocol = "own";
  std::vector<int> listen_fds;
  if (options.listen_port >= 0)
    listen_fds.push_back(listen_by_itself(options, options.listen_port, options.listen_ipv6));
  else
    listen_fds = take_sockets(options, protocol);
  if (options.also_listen_port >= 0)
    listen_fds.push_back(listen_by_itself(options, options.also_listen_port, false));
  if (listen_fds.empty() || std::count(listen_fds.begin(), listen_fds.end(), -1) > 0) {
    std::fprintf(stderr, "test_server: no socket for me (LISTEN_FDS=%s LISTEN_PID=%s pid=%d)\n",
                 env_or("LISTEN_FDS", "").c_str(), env_or("LISTEN_PID", "").c_str(), getpid());
    return 2;
  }
  const std::string full_report = report + "protocol=" + protocol + "\n";
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
  if (options.notify && options.accept) notify_systemd("STATUS=accepting connections\nREADY=1");
  ping_watchdog(options);
  serve(listen_fds, full_report, options, started, unblocked);
  for (const int fd : listen_fds) {
    // What some servers do when they stop, and what breaks a shared socket for every holder.
    if (options.shutdown_on_term) shutdown(fd, SHUT_RDWR);
    close(fd);  // our copy: an inherited shared socket stays open in its other holders
  }
  drain();
  if (!options.count_file.empty()) std::ofstream(options.count_file) << g_accepted.load() << "\n";
  std::_Exit(0);  // connection threads may still be blocked on idle clients
}
