#include "readiness.hpp"

#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "signal_name.hpp"

namespace reuserun {
namespace {

// Passes once the child has been alive for a minimum time. A child that exits earlier never
// gets here: the supervisor sees the exit first and cancels the gate.
class DelayGate final : public Gate {
 public:
  DelayGate(boost::asio::io_context& io, Duration delay) : timer_(io), delay_(delay) {}

  void start(const GateSubject&, GateCallback done) override {
    done_ = std::move(done);
    timer_.expires_after(delay_);
    timer_.async_wait([this](boost::system::error_code error) {
      if (error) return;  // cancelled: `this` may be gone
      elapsed_ = true;
      done_(true, "");
    });
  }
  void cancel() override { timer_.cancel(); }
  std::string progress() const override {
    return fmt::format("delay {}: {}", format_duration(delay_),
                       elapsed_ ? "elapsed" : "not elapsed");
  }

 private:
  boost::asio::steady_timer timer_;
  Duration delay_;
  GateCallback done_;
  bool elapsed_ = false;
};

// Runs the user's command until it exits 0, every `interval`.
class ExecGate final : public Gate {
 public:
  ExecGate(boost::asio::io_context& io, ProbeRunner& probes, std::string command, Duration interval)
      : timer_(io), probes_(probes), command_(std::move(command)), interval_(interval) {}
  ~ExecGate() override { cancel(); }

  void start(const GateSubject& subject, GateCallback done) override {
    subject_ = subject;
    done_ = std::move(done);
    run_probe();
  }
  void cancel() override {
    timer_.cancel();
    if (probe_pid_ > 0) probes_.abandon(probe_pid_);
    probe_pid_ = -1;
  }
  std::string progress() const override {
    return fmt::format("ready-cmd ran {} time{}{}", runs_, runs_ == 1 ? "" : "s",
                       last_result_.empty() ? "" : ", last " + last_result_);
  }

 private:
  void run_probe() {
    ++runs_;
    probe_pid_ = probes_.start_probe(command_,
                                     {{"REUSERUN_CHILD_PID", std::to_string(subject_.pid)},
                                      {"REUSERUN_GENERATION", std::to_string(subject_.generation)}},
                                     [this](int status) { on_probe_exit(status); });
    if (probe_pid_ < 0)
      done_(false, fmt::format("ready-cmd could not be started: {}", std::strerror(errno)));
  }

  void on_probe_exit(int status) {
    probe_pid_ = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      last_result_ = "exited with status 0";
      done_(true, "");
      return;
    }
    last_result_ = WIFEXITED(status)
                       ? fmt::format("exited with status {}", WEXITSTATUS(status))
                       : fmt::format("was killed by {}", signal_name(WTERMSIG(status)));
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code error) {
      if (!error) run_probe();
    });
  }

  boost::asio::steady_timer timer_;
  ProbeRunner& probes_;
  std::string command_;
  Duration interval_;
  GateSubject subject_{};
  GateCallback done_;
  pid_t probe_pid_ = -1;
  int runs_ = 0;
  std::string last_result_;
};

// Runs gates one after the other; passes when the last one passes.
class GateSequence final : public Gate {
 public:
  explicit GateSequence(std::vector<std::unique_ptr<Gate>> gates) : gates_(std::move(gates)) {}

  void start(const GateSubject& subject, GateCallback done) override {
    subject_ = subject;
    done_ = std::move(done);
    start_current();
  }
  void cancel() override {
    if (current_ < gates_.size()) gates_[current_]->cancel();
    current_ = gates_.size();
  }
  std::string progress() const override {
    std::string text;
    for (std::size_t i = 0; i < gates_.size() && i <= current_; ++i)
      text.append(text.empty() ? "" : "; ").append(gates_[i]->progress());
    return text;
  }

 private:
  void start_current() {
    if (current_ == gates_.size()) {
      done_(true, "");
      return;
    }
    gates_[current_]->start(subject_, [this](bool passed, const std::string& reason) {
      if (!passed) {
        done_(false, reason);
        return;
      }
      ++current_;
      start_current();
    });
  }

  std::vector<std::unique_ptr<Gate>> gates_;
  std::size_t current_ = 0;
  GateSubject subject_{};
  GateCallback done_;
};

}  // namespace

std::unique_ptr<Gate> make_gate(const ReadinessConfig& config, boost::asio::io_context& io,
                                ProbeRunner& probes) {
  std::vector<std::unique_ptr<Gate>> gates;
  gates.push_back(std::make_unique<DelayGate>(io, config.delay));
  if (!config.command.empty())
    gates.push_back(std::make_unique<ExecGate>(io, probes, config.command, config.interval));
  return std::make_unique<GateSequence>(std::move(gates));
}

}  // namespace reuserun
