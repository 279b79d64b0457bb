#include "control.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <istream>
#include <vector>

#include "control_directory.hpp"
#include "exit_code.hpp"
#include "log.hpp"
#include "unique_fd.hpp"
#include "unix_socket.hpp"

namespace reuserun {
namespace {

using boost::asio::local::stream_protocol;

constexpr std::size_t kMaxRequest = 256;
constexpr auto kReadDeadline = std::chrono::seconds(5);
constexpr std::size_t kMaxConnections = 32;
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr ControlRequest::Verb kVerbs[] = {
    ControlRequest::Verb::restart, ControlRequest::Verb::status, ControlRequest::Verb::upgrade};

// One client: reads its request line, hands it to the handler, answers once.
// The answer is a few hundred bytes: it fits the socket buffer, so a non-blocking send either
// takes it whole or the client is gone.
void send_answer(int fd, int code, const std::string& text) {
  const std::string message = std::to_string(code) + "\n" + text;
  std::size_t sent = 0;
  while (sent < message.size()) {
    const ssize_t n =
        ::send(fd, message.data() + sent, message.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) {
      if (n == -1 && errno == EINTR) continue;
      log_debug("control socket: the client went away before its answer");
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
}

class Connection;

}  // namespace

// What the server knows of its connections: how many are open, and which have not sent their
// request yet (the oldest of those is dropped to make room when the cap is reached).
struct ControlConnections {
  std::size_t open = 0;
  std::deque<std::weak_ptr<Connection>> unread;
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(stream_protocol::socket socket, std::shared_ptr<ControlConnections> connections)
      : socket_(std::move(socket)),
        buffer_(kMaxRequest),
        deadline_(socket_.get_executor()),
        connections_(std::move(connections)) {
    ++connections_->open;
  }
  ~Connection() { --connections_->open; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The request is read before anything is answered, refusals included: closing a socket with
  // unread data resets the connection, and the client would lose the answer. A client that
  // sends nothing within kReadDeadline is dropped: an idle one must not hold an fd forever.
  void start(const ControlServer::Handler& handler) {
    auto self = shared_from_this();
    connections_->unread.push_back(self);
    deadline_.expires_after(kReadDeadline);
    deadline_.async_wait([weak = std::weak_ptr<Connection>(self)](boost::system::error_code error) {
      if (auto connection = weak.lock(); connection && !error) connection->drop();
    });
    boost::asio::async_read_until(
        socket_, buffer_, '\n',
        [self, handler](boost::system::error_code error, std::size_t length) {
          self->deadline_.cancel();
          self->forget_unread();
          if (error == boost::asio::error::operation_aborted) return;  // dropped
          if (error) return self->answer(kExitUsage, "reuserun: no request line\n");
          if (!self->peer_allowed()) return;
          std::string line(length - 1, '\0');
          std::istream(&self->buffer_).read(line.data(), static_cast<std::streamsize>(length - 1));
          const auto request = parse_control_request(line);
          if (!request)
            return self->answer(kExitUsage,
                                fmt::format("reuserun: unknown control request '{}'\n", line));
          handler(*request,
                  ControlServer::Reply(
                      [self](int code, const std::string& text) { self->answer(code, text); },
                      [self] { return self->release(); }));
        });
  }

  // Closes a connection whose request never came: the pending read ends with operation_aborted.
  void drop() {
    if (answered_) return;
    answered_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  // Same uid as reuserun, or root: checked on the kernel's word (SO_PEERCRED). Answers a refusal.
  bool peer_allowed() {
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) == -1) {
      answer(kCtlUnreachable,
             fmt::format("reuserun: cannot identify the client: {}\n", std::strerror(errno)));
      return false;
    }
    if (peer.uid == ::geteuid() || peer.uid == 0) return true;
    log_warn("control socket: refused pid {} of uid {} (only uid {} and root are served)", peer.pid,
             peer.uid, ::geteuid());
    answer(kCtlUnreachable, fmt::format("reuserun: permission denied: uid {} may not control "
                                        "reuserun (pid {}, uid {})\n",
                                        peer.uid, ::getpid(), ::geteuid()));
    return false;
  }

  void answer(int code, const std::string& text) {
    if (answered_) return;
    answered_ = true;
    send_answer(socket_.native_handle(), code, text);
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  UniqueFd release() {
    if (answered_) return {};
    answered_ = true;
    return UniqueFd(socket_.release());
  }

 private:
  void forget_unread() {
    std::erase_if(connections_->unread, [this](const std::weak_ptr<Connection>& weak) {
      const auto connection = weak.lock();
      return !connection || connection.get() == this;
    });
  }

  stream_protocol::socket socket_;
  boost::asio::streambuf buffer_;
  boost::asio::steady_timer deadline_;
  std::shared_ptr<ControlConnections> connections_;
  bool answered_ = false;
};

}  // namespace

int ctl_exit_code(RestartOutcome outcome) {
  switch (outcome) {
    case RestartOutcome::succeeded:
      return kExitOk;
    case RestartOutcome::exited:
      return kCtlExited;
    case RestartOutcome::gate_failed:
      return kCtlGateFailed;
    case RestartOutcome::timed_out:
      return kCtlTimedOut;
    case RestartOutcome::spawn_failed:
      return kCtlSpawnFailed;
    case RestartOutcome::stopped:
      return kCtlStopping;
  }
  return kExitFailure;
}

std::string_view verb_name(ControlRequest::Verb verb) {
  switch (verb) {
    case ControlRequest::Verb::restart:
      return "restart";
    case ControlRequest::Verb::status:
      return "status";
    case ControlRequest::Verb::upgrade:
      return "upgrade";
  }
  return "unknown";
}

std::optional<ControlRequest> parse_control_request(std::string_view line) {
  ControlRequest request;
  if (line.ends_with(" json")) {
    request.json = true;
    line.remove_suffix(5);
  }
  for (const auto verb : kVerbs)
    if (line == verb_name(verb)) {
      request.verb = verb;
      return request;
    }
  return std::nullopt;
}

std::string format_control_request(const ControlRequest& request) {
  return std::string(verb_name(request.verb)) + (request.json ? " json" : "") + "\n";
}

std::optional<ControlRequest::Verb> parse_control_verb(std::string_view word) {
  const auto request = parse_control_request(word);
  if (!request || request->json) return std::nullopt;
  return request->verb;
}

void answer_control_client(UniqueFd client, int exit_code, const std::string& text) {
  send_answer(client.get(), exit_code, text);
}

Result<ControlSocket> ControlSocket::bind(std::string path) {
  const std::string directory = default_control_directory();
  if (path.starts_with(directory + "/")) {
    if (auto checked = make_control_directory(directory); !checked) return checked.error();
  }
  auto fd = bind_unix_socket(path, 0600, 16, "control socket");
  if (!fd) return fd.error();
  return ControlSocket(std::move(fd.value()), std::move(path));
}

ControlSocket::~ControlSocket() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

ControlServer::ControlServer(boost::asio::io_context& io, ControlSocket socket, Handler handler)
    : socket_(std::move(socket)),
      acceptor_(io),
      backoff_(io),
      connections_(std::make_shared<ControlConnections>()),
      handler_(std::move(handler)) {
  acceptor_.assign(stream_protocol(), socket_.release_fd());
  accept();
}

ControlServer::~ControlServer() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

std::size_t ControlServer::open_connections() const { return connections_->open; }

void ControlServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code error, stream_protocol::socket socket) {
    if (error == boost::asio::error::operation_aborted) return;  // closed
    if (error) return back_off(error);
    backing_off_ = false;
    make_room();
    // Asio accepts without SOCK_CLOEXEC: a child started meanwhile would inherit the client.
    if (const int failed = set_close_on_exec(socket.native_handle())) {
      log_warn("control socket: dropped a client: {}", std::strerror(failed));
      return accept();
    }
    std::make_shared<Connection>(std::move(socket), connections_)->start(handler_);
    accept();
  });
}

// At the cap, the oldest connection that has not sent its request goes: idle clients cannot lock
// out `ctl`, whose request is there as soon as it connects.
void ControlServer::make_room() {
  while (connections_->open >= kMaxConnections && !connections_->unread.empty()) {
    const auto oldest = connections_->unread.front().lock();
    connections_->unread.pop_front();
    if (oldest) oldest->drop();
  }
}

// Out of fds (EMFILE, ENFILE) or memory: the pending connection stays in the backlog, and an
// accept armed again at once would fail again at once, in a loop. Wait a little, say it once.
void ControlServer::back_off(const boost::system::error_code& error) {
  if (!backing_off_) log_warn("control socket: accept failed: {}; retrying", error.message());
  backing_off_ = true;
  backoff_.expires_after(kAcceptBackoff);
  backoff_.async_wait([this](boost::system::error_code timer_error) {
    if (timer_error) return;
    accept();
  });
}

}  // namespace reuserun
