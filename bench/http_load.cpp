#include "http_load.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bench {
namespace {

constexpr int kRequestTimeoutMs = 5000;

struct Answer {
  Outcome outcome = Outcome::other;
  pid_t pid = 0;
  bool server_closes = true;  // "Connection: close" or HTTP/1.0
};

Outcome from_errno(int error) {
  if (error == ECONNREFUSED) return Outcome::refused;
  if (error == ECONNRESET || error == EPIPE) return Outcome::reset;
  return Outcome::other;
}

int connect_to(int port, Outcome& failure) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == -1) {
    failure = from_errno(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends one request on fd and reads one whole answer (Content-Length framed).
Answer exchange(int fd, bool keep_alive) {
  static const std::string kKeepAlive = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  static const std::string kClose = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string& request = keep_alive ? kKeepAlive : kClose;
  Answer answer;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    answer.outcome = from_errno(errno);
    return answer;
  }
  std::string data;
  char buffer[4096];
  std::size_t header_end = std::string::npos;
  std::size_t wanted = 0;
  while (header_end == std::string::npos || data.size() < wanted) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, kRequestTimeoutMs) <= 0) {
      answer.outcome = Outcome::timeout;
      return answer;
    }
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      answer.outcome = n == 0 ? Outcome::reset : from_errno(errno);
      return answer;
    }
    data.append(buffer, static_cast<std::size_t>(n));
    if (header_end == std::string::npos &&
        (header_end = data.find("\r\n\r\n")) != std::string::npos) {
      const std::size_t length = data.find("Content-Length: ");
      wanted = header_end + 4 +
               (length < header_end ? std::strtoul(data.c_str() + length + 16, nullptr, 10) : 0);
    }
  }
  const int status = data.size() > 12 ? std::atoi(data.c_str() + 9) : 0;
  answer.outcome = status >= 200 && status < 300 ? Outcome::ok : Outcome::bad_status;
  const std::size_t pid = data.find("pid=", header_end);
  if (pid != std::string::npos) answer.pid = static_cast<pid_t>(std::atoi(data.c_str() + pid + 4));
  answer.server_closes = !keep_alive || data.find("Connection: close") < header_end;
  return answer;
}

}  // namespace

std::string outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok:
      return "ok";
    case Outcome::refused:
      return "refused";
    case Outcome::reset:
      return "reset";
    case Outcome::timeout:
      return "timeout";
    case Outcome::bad_status:
      return "non-2xx";
    case Outcome::other:
      return "other";
  }
  return "?";
}

HttpLoad::HttpLoad(LoadOptions options)
    : options_(options), epoch_(Clock::now()), records_(static_cast<std::size_t>(options.clients)) {
  for (auto& records : records_) {
    records.reserve(1 << 16);
    threads_.emplace_back([this, &records] { run_client(records); });
  }
}

HttpLoad::~HttpLoad() { stop(); }

std::int64_t HttpLoad::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - epoch_).count();
}

void HttpLoad::run_client(std::vector<Record>& records) {
  const auto deadline = epoch_ + options_.max_time;
  int fd = -1;
  for (long i = 0; i < options_.max_requests_per_client && !stop_ && Clock::now() < deadline; ++i) {
    const std::int64_t start = now_us();
    Outcome failure = Outcome::other;
    if (fd < 0) fd = connect_to(options_.port, failure);
    Answer answer;
    if (fd < 0)
      answer.outcome = failure;
    else
      answer = exchange(fd, options_.keep_alive);
    if (fd >= 0 && (answer.outcome != Outcome::ok || answer.server_closes)) {
      ::close(fd);
      fd = -1;
    }
    records.push_back(
        {start, static_cast<std::int32_t>(now_us() - start), answer.outcome, answer.pid});
  }
  if (fd >= 0) ::close(fd);
}

std::vector<Record> HttpLoad::stop() {
  stop_ = true;
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  std::vector<Record> all;
  for (auto& records : records_) all.insert(all.end(), records.begin(), records.end());
  std::sort(all.begin(), all.end(),
            [](const Record& a, const Record& b) { return a.start_us < b.start_us; });
  records_.clear();
  return all;
}

}  // namespace bench
