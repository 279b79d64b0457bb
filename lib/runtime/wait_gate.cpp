// The waiting gate, the heart of `--ready auto`: a generation is ready when one of its threads
// waits for connections on the shared socket (socket_waiters.hpp). Nothing is sent to the socket,
// so the old generation never sees a probe, and the cost is a few /proc reads of the new
// generation's own process tree however many processes share the socket. Where /proc cannot tell
// (no ptrace access, io_uring), or nothing it recognizes has appeared within kFallbackAfter, the
// attributed accept probe (accept_gate.cpp) runs as well, and whichever decides first decides.
// Without a TCP listener (unix, udp:, unix-dgram: only) there is nothing to probe: /proc decides
// alone (a datagram server waits in recv*() on the socket, or in epoll/poll/select holding it),
// and where it cannot tell the gate fails saying which gate to use instead.
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <utility>

#include "log.hpp"
#include "readiness.hpp"
#include "socket_waiters.hpp"

namespace reuserun {
namespace {

using namespace std::chrono_literals;

// The first look comes 1 ms after the spawn, then 1 ms later each time up to 5 ms: an instantly
// ready server is seen within a few ms, a slow one costs about 200 looks a second.
constexpr auto kFirstStep = 1ms;
constexpr auto kLastStep = 5ms;
// A server that waits in a way /proc does not show (a nested epoll set, an event loop it does not
// know) would otherwise never pass: once it has sat idle in some other wait for this long, probe
// with connections too. A server still starting up (running, reading, sleeping) is left alone,
// so its old generation sees no probe however slow the start.
constexpr auto kFallbackAfter = 1s;
// An idle thread that wakes (a timer tick) reads "running" in /proc until it runs again, which on
// a busy machine is several ms: only this many busy looks in a row end an idle stretch.
constexpr int kBusyLooksThatCount = 3;
// Without a TCP listener "/proc cannot tell" fails the generation (there is no probe to fall back
// on): decided only when this many looks in a row say so, never on one look that may have met a
// process exiting in the middle of it (issue 25, finding 8).
constexpr int kUnknownLooksThatCount = 3;

class WaitGate final : public Gate {
 public:
  WaitGate(GateServices& services, ReadinessConfig config)
      : services_(services), config_(std::move(config)), timer_(services.io()) {}
  ~WaitGate() override { cancel_quietly(*this); }

  void start(const GateSubject& subject, GateCallback done) override {
    subject_ = subject;
    done_ = std::move(done);
    active_ = true;
    idle_since_.reset();
    busy_looks_ = 0;
    unknown_looks_ = 0;
    step_ = kFirstStep;
    look();
  }

  void cancel() override {
    active_ = false;
    timer_.cancel();
    if (fallback_) fallback_->cancel();
  }

  std::string progress() const override {
    std::string text = fmt::format("wait: looked {} time{}", looks_, looks_ == 1 ? "" : "s");
    if (looks_ > 0) text += ", " + last_.describe();
    if (fallback_) text += "; " + fallback_->progress();
    return text;
  }
  std::string hint() const override { return fallback_ ? fallback_->hint() : ""; }

 private:
  void schedule() {
    timer_.expires_after(step_);
    step_ = std::min<Duration>(step_ + kFirstStep, kLastStep);
    timer_.async_wait([this](boost::system::error_code error) {
      if (!error) look();
    });
  }

  void look() {
    if (!active_) return;
    ++looks_;
    const SystemView& system = services_.system();
    last_ = system.socket_waiter(system.process_tree(subject_.pid), services_.listener_inode());
    if (last_.kind == WaitFinding::Kind::waiting) return pass(last_.describe());
    unknown_looks_ = last_.kind == WaitFinding::Kind::unknown ? unknown_looks_ + 1 : 0;
    if (last_.kind == WaitFinding::Kind::unknown) {
      if (!services_.listener_is_tcp()) {
        if (unknown_looks_ < kUnknownLooksThatCount) return schedule();
        cancel();
        done_(false, fmt::format("{}, and a unix or datagram socket cannot be probed: use "
                                 "--ready notify, exec:COMMAND or delay:DURATION",
                                 last_.why));
        return;
      }
      start_fallback(last_.why);
      return;  // /proc will not tell: the probe decides alone
    }
    if (!services_.listener_is_tcp()) {  // no probe to fall back on
      idle_since_.reset();
    } else if (!last_.idle_elsewhere) {
      if (++busy_looks_ >= kBusyLooksThatCount) idle_since_.reset();
    } else {
      busy_looks_ = 0;
      const auto now = std::chrono::steady_clock::now();
      if (!idle_since_) {
        idle_since_ = now;
      } else if (now - *idle_since_ >= kFallbackAfter && !fallback_) {
        // Said in plain words at once, not in the failure line 30 s later (issue 27, finding 4).
        const std::string own =
            services_.listens_elsewhere(WorkerKey{subject_.generation, subject_.slot});
        if (!own.empty())
          log_warn("generation {}: {}", subject_.generation, own);
        start_fallback(fmt::format(
            "it has waited {} for something, but not for connections on reuserun's socket ({}); "
            "a server that does not take the socket it is handed (fd 3, LISTEN_FDS) never will",
            format_duration(kFallbackAfter),
            own.empty() ? "or in a way /proc does not show" : "it listens on a socket of its own"));
      }
    }
    schedule();
  }

  void start_fallback(const std::string& why) {
    if (fallback_) return;
    log_info("generation {} (pid {}): {}; probing with connections as well", subject_.generation,
             subject_.pid, why);
    fallback_ = make_accept_gate(services_, config_, std::nullopt);
    fallback_->start(subject_, [this](bool passed, const std::string& detail) {
      if (!passed) {
        cancel();
        done_(false, detail);
        return;
      }
      pass(detail);
    });
  }

  void pass(const std::string& how) {
    cancel();
    done_(true, how);
  }

  GateServices& services_;
  ReadinessConfig config_;  // a copy: the fallback gate is made later, the caller's may be gone
  boost::asio::steady_timer timer_;
  GateSubject subject_{};
  GateCallback done_;
  bool active_ = false;
  std::optional<std::chrono::steady_clock::time_point> idle_since_;
  int busy_looks_ = 0;  // in a row, since the last idle one
  int unknown_looks_ = 0;  // in a row
  Duration step_ = kFirstStep;
  int looks_ = 0;
  WaitFinding last_;
  std::unique_ptr<Gate> fallback_;
};

}  // namespace

std::unique_ptr<Gate> make_wait_gate(GateServices& services, const ReadinessConfig& config) {
  return std::make_unique<WaitGate>(services, config);
}

}  // namespace reuserun
