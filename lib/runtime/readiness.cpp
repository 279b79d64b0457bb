#include "readiness.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "log.hpp"

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
      done_(true, "delay " + format_duration(delay_));
    });
  }
  void cancel() override { timer_.cancel(); }
  std::string progress() const override {
    return fmt::format("delay: {} {}", format_duration(delay_),
                       elapsed_ ? "elapsed" : "not elapsed yet");
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
  ExecGate(GateServices& services, std::string command, Duration interval)
      : timer_(services.io()),
        services_(services),
        command_(std::move(command)),
        interval_(interval) {}
  ~ExecGate() override { cancel_quietly(*this); }

  void start(const GateSubject& subject, GateCallback done) override {
    subject_ = subject;
    done_ = std::move(done);
    run_probe();
  }
  void cancel() override {
    timer_.cancel();
    if (probe_pid_ > 0) services_.abandon_probe(probe_pid_);
    probe_pid_ = -1;
  }
  std::string progress() const override {
    return fmt::format("exec: ran {} time{}{}", runs_, runs_ == 1 ? "" : "s",
                       last_result_.empty() ? "" : ", last " + last_result_);
  }

 private:
  void run_probe() {
    ++runs_;
    const auto probe =
        services_.start_probe(command_, subject_, [this](const ExitStatus& status) { on_probe_exit(status); });
    if (!probe) {
      probe_pid_ = -1;
      return done_(false, "exec: could not start the probe: " + probe.error().message);
    }
    probe_pid_ = probe.value();
  }

  void on_probe_exit(const ExitStatus& status) {
    probe_pid_ = -1;
    last_result_ = status.describe();
    if (status.succeeded()) {
      done_(true, fmt::format("exec probe passed (run {})", runs_));
      return;
    }
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code error) {
      if (!error) run_probe();
    });
  }

  boost::asio::steady_timer timer_;
  GateServices& services_;
  std::string command_;
  Duration interval_;
  GateSubject subject_{};
  GateCallback done_;
  pid_t probe_pid_ = -1;
  int runs_ = 0;
  std::string last_result_;
};

// READY=1 from the generation's own processes (the event loop drops everyone else's).
class NotifyGate final : public Gate {
 public:
  explicit NotifyGate(GateServices& services) : services_(services) {}
  ~NotifyGate() override { cancel(); }

  void start(const GateSubject& subject, GateCallback done) override {
    generation_ = subject.generation;
    worker_ = WorkerKey{subject.generation, subject.slot};
    done_ = std::move(done);
    services_.watch_notify(worker_, [this](const NotifyFields& fields) {
      ++messages_;
      const std::string* ready = notify_field(fields, "READY");
      if (ready == nullptr || *ready != "1") return;
      cancel();
      done_(true, "READY=1");
    });
  }
  void cancel() override {
    if (generation_ != 0) services_.watch_notify(worker_, nullptr);
    generation_ = 0;
  }
  std::string progress() const override {
    return fmt::format("notify: no READY=1 from the new generation ({} other message{})", messages_,
                       messages_ == 1 ? "" : "s");
  }

 private:
  GateServices& services_;
  Generation generation_ = 0;
  WorkerKey worker_{0};
  GateCallback done_;
  int messages_ = 0;
};

// Attributed accept; once the generation shows it speaks sd_notify, its READY=1 too. gunicorn,
// for one, sends READY=1 from its arbiter before any worker accepts: either alone is early for
// some server, both together are not. Without /proc (a chroot) nobody can be seen waiting or
// accepting: READY=1 alone decides, as `notify` would (issue 25, finding 11: waiting for what
// could never be seen failed a serving generation at every --ready-timeout).
class AutoGate final : public Gate {
 public:
  AutoGate(GateServices& services, const ReadinessConfig& config)
      : services_(services), accept_(make_wait_gate(services, config)) {}
  ~AutoGate() override { cancel(); }

  void start(const GateSubject& subject, GateCallback done) override {
    generation_ = subject.generation;
    worker_ = WorkerKey{subject.generation, subject.slot};
    done_ = std::move(done);
    notify_only_ = !services_.system().proc_mounted();
    spoke_ = services_.watch_notify(worker_, [this](const NotifyFields& fields) {
      spoke_ = spoke_ || !only_watchdog(fields);
      const std::string* ready = notify_field(fields, "READY");
      if (ready != nullptr && *ready == "1") ready_ = true;
      pass_when_complete();
    });
    if (notify_only_) return;
    accept_->start(subject, [this](bool passed, const std::string& detail) {
      if (!passed) {
        cancel();
        done_(false, detail);
        return;
      }
      accepted_ = true;
      how_ = detail;
      pass_when_complete();
    });
  }
  void cancel() override {
    accept_->cancel();
    if (generation_ != 0) services_.watch_notify(worker_, nullptr);
    generation_ = 0;
  }
  std::string hint() const override { return accepted_ ? "" : accept_->hint(); }
  std::string progress() const override {
    if (notify_only_)
      return std::string(ready_ ? "notify: READY=1 received" : "notify: no READY=1 yet") +
             " (/proc is not mounted: auto decides on READY=1 alone; a server that does not "
             "send it needs --ready exec:COMMAND or delay:DURATION)";
    std::string text = accepted_ ? "wait: passed (" + how_ + ")" : accept_->progress();
    if (spoke_)
      text += ready_ ? "; notify: READY=1 received"
                     : "; notify: spoke sd_notify, "
                       "no READY=1 yet";
    return text;
  }

 private:
  void pass_when_complete() {
    if (generation_ == 0) return;
    if (notify_only_) {
      if (!ready_) return;
      cancel();
      done_(true, "READY=1 (without /proc)");
      return;
    }
    if (!accepted_ || (spoke_ && !ready_)) return;
    cancel();
    done_(true, spoke_ ? how_ + " and READY=1" : how_);
  }

  GateServices& services_;
  std::unique_ptr<Gate> accept_;
  Generation generation_ = 0;
  WorkerKey worker_{0};
  GateCallback done_;
  bool spoke_ = false;
  bool ready_ = false;
  bool accepted_ = false;
  bool notify_only_ = false;  // no /proc: READY=1 alone
  std::string how_;  // how the waiting gate decided
};

// Passes once every gate has passed; fails as soon as one fails. Then checks adoption.
class AllGates final : public Gate {
 public:
  AllGates(GateServices& services, std::vector<std::unique_ptr<Gate>> gates, bool strict)
      : services_(services),
        gates_(std::move(gates)),
        passed_(gates_.size(), false),
        strict_adoption_(strict) {}

  void start(const GateSubject& subject, GateCallback done) override {
    subject_ = subject;
    done_ = std::move(done);
    for (std::size_t i = 0; i < gates_.size() && !finished_; ++i)
      gates_[i]->start(subject, [this, i](bool passed, const std::string& detail) {
        on_result(i, passed, detail);
      });
    if (gates_.empty()) check_adoption();
  }
  void cancel() override {
    finished_ = true;
    for (auto& gate : gates_) gate->cancel();
  }
  std::string progress() const override {
    std::string text;
    for (std::size_t i = 0; i < gates_.size(); ++i)
      if (!passed_[i]) text.append(text.empty() ? "" : "; ").append(gates_[i]->progress());
    return text;
  }
  std::string hint() const override {
    for (std::size_t i = 0; i < gates_.size(); ++i)
      if (!passed_[i] && !gates_[i]->hint().empty()) return gates_[i]->hint();
    return "";
  }

 private:
  void on_result(std::size_t index, bool passed, const std::string& detail) {
    if (finished_) return;
    if (!passed) {
      cancel();
      done_(false, detail);
      return;
    }
    passed_[index] = true;
    if (!detail.empty()) how_.append(how_.empty() ? "" : "; ").append(detail);
    if (std::all_of(passed_.begin(), passed_.end(), [](bool p) { return p; })) check_adoption();
  }

  // A child that binds the port itself instead of adopting fd 3 joins the SO_REUSEPORT group and
  // takes a share of the connections, even after it is told to stop (docs/DESIGN.md §2).
  void check_adoption() {
    finished_ = true;
    if (!services_.listener_is_tcp()) {  // a UDP port's TCP listeners are another service's
      done_(true, how_);
      return;
    }
    const ino_t shared = services_.listener_inode();
    const SystemView& system = services_.system();
    auto listeners = system.listening_sockets(services_.listener_address().port());
    if (!listeners) {
      log_warn("adoption check skipped: {}", listeners.error().message);
      done_(true, how_);
      return;
    }
    const auto tree = system.process_tree(subject_.pid);
    for (const auto& socket : listeners.value()) {
      if (socket.inode == shared) continue;
      const pid_t holder = system.holder_of_socket(socket.inode, tree);
      if (holder == 0) continue;
      const std::string what = fmt::format(
          "adoption: pid {} of generation {} listens on {} with a socket of its own instead of "
          "the inherited fd 3; it takes a share of the connections",
          holder, subject_.generation, format_address(socket.address));
      if (strict_adoption_) {
        done_(false, what + " (--strict-adoption)");
        return;
      }
      log_warn("{}", what);
    }
    done_(true, how_);
  }

  GateServices& services_;
  std::vector<std::unique_ptr<Gate>> gates_;
  std::vector<bool> passed_;
  bool strict_adoption_;
  bool finished_ = false;
  GateSubject subject_{};
  GateCallback done_;
  std::string how_;  // how each gate decided, in the order they passed
};

std::unique_ptr<Gate> make_one_gate(const GateSpec& spec, const ReadinessConfig& config,
                                    GateServices& services) {
  switch (spec.kind) {
    case GateKind::automatic:
      return std::make_unique<AutoGate>(services, config);
    case GateKind::notify:
      return std::make_unique<NotifyGate>(services);
    case GateKind::accept:
      return make_accept_gate(services, config, std::nullopt);
    case GateKind::http:
      return make_accept_gate(services, config, spec.argument);
    case GateKind::exec:
      return std::make_unique<ExecGate>(services, spec.argument, config.interval);
    case GateKind::delay:
      return std::make_unique<DelayGate>(services.io(), spec.delay);
  }
  return nullptr;
}

}  // namespace

void cancel_quietly(Gate& gate) noexcept {
  try {
    gate.cancel();
  } catch (...) {  // nothing to do about a broken reactor here
  }
}

std::unique_ptr<Gate> make_gate(const ReadinessConfig& config, GateServices& services) {
  std::vector<std::unique_ptr<Gate>> gates;
  for (const auto& spec : config.gates) gates.push_back(make_one_gate(spec, config, services));
  return std::make_unique<AllGates>(services, std::move(gates), config.strict_adoption);
}

}  // namespace reuserun
