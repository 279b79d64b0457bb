// The attributed accept gate (and http, its stricter form). With one shared socket, connect()
// always succeeds (the kernel completes the handshake into the backlog) and whichever generation
// accepts answers, usually the old one, so a plain port probe proves nothing. This gate connects
// to the shared socket and asks the kernel who accepted the connection: it passes only when a
// process of the new generation did (and, for http, answered GET PATH with 2xx or 3xx).
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <map>

#include "log.hpp"
#include "readiness.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

using namespace std::chrono_literals;

constexpr auto kAcceptWait = 1s;      // how long one probe waits for anybody to accept it
constexpr auto kFirstPollStep = 1ms;  // sock_diag polls, doubling up to kLastPollStep
constexpr auto kLastPollStep = 20ms;
constexpr auto kAnswerWait = 2s;  // http: how long the new generation may take to answer
// How long a probe that another generation accepted stays open while the next probe waits: long
// enough for an accepting new generation to take the next one, short enough that an old server
// with a single one-at-a-time worker still serves most of the time while the new one starts.
constexpr auto kHoldLimit = 10ms;

// Where to connect: the listener's address, or the loopback of its family for a wildcard.
SocketAddress probe_target(const SocketAddress& listener) {
  if (!listener.is_wildcard()) return listener;
  auto loopback = parse_ip_address(listener.family() == AF_INET ? "127.0.0.1" : "::1");
  loopback->set_port(listener.port());
  return *loopback;
}

class AcceptGate final : public Gate {
 public:
  AcceptGate(GateServices& services, const ReadinessConfig& config,
             std::optional<std::string> http_path)
      : services_(services),
        timer_(services.io()),
        interval_(config.interval),
        http_path_(std::move(http_path)),
        target_(probe_target(services.listener_address())),
        host_(config.http_host.empty() ? format_address(target_) : config.http_host) {}
  ~AcceptGate() override { cancel_quietly(*this); }

  void start(const GateSubject& subject, GateCallback done) override {
    subject_ = subject;
    done_ = std::move(done);
    active_ = true;
    probe();
  }

  void cancel() override {
    active_ = false;
    timer_.cancel();
    close_probe();
    close_held();
  }

  std::string hint() const override {
    if (!http_path_ || !last_answer_.starts_with("HTTP/")) return "";
    return fmt::format("GET {} answered \"{}\": --ready http:PATH needs a path the server "
                       "answers with 2xx or 3xx",
                       *http_path_, escape_foreign(last_answer_));
  }

  std::string progress() const override {
    std::string text = fmt::format("{}: {} probe{}", name(), probes_, probes_ == 1 ? "" : "s");
    for (const auto& [pid, count] : taken_by_others_)
      text += fmt::format(", {} accepted by pid {} (not generation {})", count, pid,
                          subject_.generation);
    if (not_accepted_ > 0)
      text += fmt::format(", {} not accepted by anyone within {}", not_accepted_,
                          format_duration(kAcceptWait));
    if (!last_answer_.empty()) text += ", last answer from the new generation: " + last_answer_;
    return text;
  }

 private:
  std::string name() const { return http_path_ ? "http " + *http_path_ : "accept"; }

  void probe() {
    if (!active_) return;
    ++probes_;
    UniqueFd fd(::socket(target_.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd ||
        (::connect(fd.get(), target_.get(), target_.length()) == -1 && errno != EINPROGRESS)) {
      return fail(system_error("connect to " + format_address(target_), errno).message);
    }
    socklen_t length = sizeof client_.storage;
    // The 4-tuple is how the kernel finds the accepted side: without our own address, no probe.
    if (::getsockname(fd.get(), client_.get(), &length) == -1)
      return fail(
          system_error("read the address of a probe to " + format_address(target_), errno).message);
    connection_.emplace(services_.io(), fd.release());
    probe_started_ = std::chrono::steady_clock::now();
    poll_step_ = kFirstPollStep;
    check_who_accepted();
  }

  void check_who_accepted() {
    if (!active_) return;
    const SystemView& system = services_.system();
    auto inode = system.accepted_inode(target_, client_);
    if (!inode) return fail(name() + ": " + inode.error().message);
    if (!inode.value() || *inode.value() == 0) {  // still in the accept queue
      const auto waited = std::chrono::steady_clock::now() - probe_started_;
      if (waited >= kHoldLimit) close_held();
      if (waited >= kAcceptWait) {
        ++not_accepted_;
        return next_probe();
      }
      timer_.expires_after(poll_step_);
      poll_step_ = std::min<Duration>(poll_step_ * 2, kLastPollStep);
      timer_.async_wait([this](boost::system::error_code error) {
        if (!error) check_who_accepted();
      });
      return;
    }
    close_held();  // this probe is decided: the previous one has done its job
    accepted_by_ = system.holder_of_socket(*inode.value(), system.process_tree(subject_.pid));
    if (accepted_by_ != 0) {
      if (http_path_) return ask_http();
      return pass();
    }
    // Somebody else took it, usually the old generation (a child of ours, so look there before
    // scanning every process); try again.
    pid_t taker = system.holder_of_socket(*inode.value(), system.process_tree(::getpid()));
    if (taker == 0) taker = system.holder_of_socket(*inode.value(), system.all_processes());
    ++taken_by_others_[taker];
    log_debug("generation {}: {} probe {} was accepted by pid {}", subject_.generation, name(),
              probes_, taker);
    // Keep it open until the next probe is decided: an old worker that serves one connection
    // at a time (gunicorn sync, many threaded servers) waits on it instead of taking the next
    // probe too; an asynchronous one just holds an idle connection for one interval.
    held_ = std::move(connection_);
    connection_.reset();
    next_probe();
  }

  void ask_http() {
    request_ = fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: reuserun\r\n"
        "Connection: close\r\n\r\n",
        *http_path_, host_);
    timer_.expires_after(kAnswerWait);
    timer_.async_wait([this](boost::system::error_code error) {
      if (error) return;
      last_answer_ = "none within " + format_duration(kAnswerWait);
      next_probe();
    });
    boost::asio::async_write(*connection_, boost::asio::buffer(request_),
                             [this](boost::system::error_code error, std::size_t) {
                               if (error == boost::asio::error::operation_aborted) return;
                               if (error) return answer_failed(error);
                               read_status_line();
                             });
  }

  void read_status_line() {
    boost::asio::async_read_until(
        *connection_, answer_, "\r\n", [this](boost::system::error_code error, std::size_t) {
          if (error == boost::asio::error::operation_aborted) return;  // `this` may be gone
          if (error) return answer_failed(error);
          std::istream lines(&answer_);
          std::string status_line;
          std::getline(lines, status_line);
          if (!status_line.empty() && status_line.back() == '\r') status_line.pop_back();
          last_answer_ = status_line;
          int status = 0;
          if (status_line.starts_with("HTTP/1.") && status_line.size() >= 12)
            parse_number(std::string_view(status_line).substr(9, 3), status);
          if (status >= 200 && status < 400) return pass();
          say_answer();
          next_probe();
        });
  }

  // A wrong answer is said at once, not only when --ready-timeout ends the wait (issue 27,
  // finding 7): when it first comes, when it changes, and every 10th time it repeats.
  void say_answer() {
    ++same_answers_;
    if (last_answer_ == said_answer_ && same_answers_ % 10 != 0) return;
    if (last_answer_ != said_answer_) same_answers_ = 1;
    said_answer_ = last_answer_;
    log_warn("generation {} (pid {}): GET {} answered \"{}\"{}; asking again every {} until "
             "--ready-timeout",
             subject_.generation, subject_.pid, *http_path_, escape_foreign(last_answer_),
             same_answers_ > 1 ? fmt::format(" ({} times)", same_answers_) : "",
             format_duration(interval_));
  }

  void answer_failed(boost::system::error_code error) {
    last_answer_ = "connection ended: " + error.message();
    next_probe();
  }

  void next_probe() {
    timer_.cancel();
    close_probe();
    if (!active_) return;
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code error) {
      if (!error) probe();
    });
  }

  void close_probe() {
    boost::system::error_code ignored;
    if (connection_) connection_->close(ignored);
    connection_.reset();
    answer_.consume(answer_.size());
  }

  void close_held() {
    boost::system::error_code ignored;
    if (held_) held_->close(ignored);
    held_.reset();
  }

  void pass() {
    log_info("generation {} (pid {}): {} passed after {} probe{}", subject_.generation,
             subject_.pid, name(), probes_, probes_ == 1 ? "" : "s");
    cancel();
    done_(true, fmt::format("{} probe {} accepted by pid {}", name(), probes_, accepted_by_));
  }

  void fail(const std::string& reason) {
    cancel();
    done_(false, reason);
  }

  GateServices& services_;
  boost::asio::steady_timer timer_;
  Duration interval_;
  std::optional<std::string> http_path_;
  SocketAddress target_;
  std::string host_;
  GateSubject subject_{};
  GateCallback done_;
  bool active_ = false;
  std::optional<boost::asio::posix::stream_descriptor> connection_;
  std::optional<boost::asio::posix::stream_descriptor> held_;  // taken by another generation
  SocketAddress client_;
  std::chrono::steady_clock::time_point probe_started_;
  Duration poll_step_ = kFirstPollStep;
  std::string request_;
  boost::asio::streambuf answer_;
  int probes_ = 0;
  pid_t accepted_by_ = 0;  // of the new generation, once one of its processes took a probe
  int not_accepted_ = 0;
  std::map<pid_t, int> taken_by_others_;
  std::string last_answer_;
  std::string said_answer_;  // the wrong answer last logged
  int same_answers_ = 0;     // how many times in a row it came
};

}  // namespace

std::unique_ptr<Gate> make_accept_gate(GateServices& services, const ReadinessConfig& config,
                                       std::optional<std::string> http_path) {
  return std::make_unique<AcceptGate>(services, config, std::move(http_path));
}

}  // namespace reuserun
