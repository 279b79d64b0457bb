// The control socket: how `reuserun ctl restart|status` talks to a running reuserun (the
// server here, the client in control_client.hpp).
//
// An AF_UNIX stream socket, mode 0600, at --control-socket PATH or by default PORT.sock in the
// default directory (control_directory.hpp), PORT being the first listener's. Only a peer with
// reuserun's uid, or root, is served: the file mode keeps others from connecting and SO_PEERCRED
// (checked by the kernel) refuses any that do.
//
// Connections: at most 32 open at once (the oldest that has not sent its request is dropped to
// make room); a request must arrive within 5 seconds; accept() failing for lack of fds backs
// off for 100 ms instead of spinning.
//
// One request per connection, one line: "restart", "status" or "upgrade", followed by " json"
// for JSON.
// One answer: the exit status for `reuserun ctl` on a line of its own, then the text it prints
// (stdout for 0 or JSON, stderr otherwise); the server then closes. So every decision, exit
// status included, is made by the server, and the client stays a pipe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "control_directory.hpp"
#include "exit_code.hpp"
#include "result.hpp"
#include "supervisor.hpp"
#include "unique_fd.hpp"

namespace reuserun {


int ctl_exit_code(RestartOutcome outcome);

struct ControlRequest {
  enum class Verb { restart, status, upgrade };
  Verb verb = Verb::status;
  bool json = false;
};
std::optional<ControlRequest> parse_control_request(std::string_view line);
std::string format_control_request(const ControlRequest& request);
std::string_view verb_name(ControlRequest::Verb verb);
// "restart", "status" or "upgrade" alone (the word `reuserun ctl` takes).
std::optional<ControlRequest::Verb> parse_control_verb(std::string_view word);

// The bound, listening socket file; removed when this is destroyed. Bound by run() before the
// port is freed, so that a second reuserun given the same socket stops before it disturbs
// anything.
class ControlSocket {
 public:
  // Binds `path` (creating a missing default directory, 0700) with mode 0600. A socket file left
  // by a dead reuserun is replaced; one a live process answers on is an error, as is any other
  // file.
  static Result<ControlSocket> bind(std::string path);
  // The listening socket an earlier image of reuserun bound (an upgrade): the file stays ours.
  static ControlSocket adopt(UniqueFd fd, std::string path) {
    return {std::move(fd), std::move(path)};
  }
  ControlSocket(ControlSocket&& other) noexcept
      : fd_(std::move(other.fd_)), path_(std::exchange(other.path_, {})) {}
  ControlSocket& operator=(ControlSocket&& other) noexcept {
    if (this != &other) {
      ControlSocket gone(std::move(*this));
      fd_ = std::move(other.fd_);
      path_ = std::exchange(other.path_, {});
    }
    return *this;
  }
  ControlSocket(const ControlSocket&) = delete;
  ~ControlSocket();

  const std::string& path() const { return path_; }
  [[nodiscard]] int release_fd() { return fd_.release(); }

 private:
  ControlSocket(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

class ControlServer {
 public:
  // Answers one request; may be kept and called later (a restart answers when it has ended).
  // Calling it after the server is gone, or twice, is harmless.
  class Reply {
   public:
    using Answer = std::function<void(int exit_code, const std::string& text)>;
    using Release = std::function<UniqueFd()>;
    Reply(Answer answer, Release release)
        : answer_(std::move(answer)), release_(std::move(release)) {}
    void operator()(int exit_code, const std::string& text) const { answer_(exit_code, text); }
    // The client's connection, unanswered and no longer served here: for the new image of an
    // upgrading reuserun to answer (answer_control_client). Invalid when it is answered already.
    UniqueFd release() const { return release_(); }

   private:
    Answer answer_;
    Release release_;
  };
  using Handler = std::function<void(const ControlRequest&, Reply)>;

  // Serves on `socket` until destroyed; then the socket file is removed.
  ControlServer(boost::asio::io_context& io, ControlSocket socket, Handler handler);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();

  const std::string& path() const { return socket_.path(); }
  int fd() { return acceptor_.native_handle(); }
  std::size_t open_connections() const;

 private:
  void accept();
  void make_room();
  void back_off(const boost::system::error_code& error);

  ControlSocket socket_;  // declared first: the file outlives the acceptor
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  bool backing_off_ = false;
  std::shared_ptr<struct ControlConnections> connections_;
  Handler handler_;
};

// Answers a client received from an earlier image of reuserun (Reply::release), then closes it.
void answer_control_client(UniqueFd client, int exit_code, const std::string& text);

}  // namespace reuserun
