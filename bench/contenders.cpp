#include "contenders.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "harness.hpp"

namespace bench {
namespace {

using rrtest::child_pids;
using rrtest::Process;
using rrtest::process_exists;
using rrtest::serving_pid;
using rrtest::wait_until;
using namespace std::chrono_literals;

constexpr auto kStartLimit = 20s;
constexpr auto kRestartLimit = 60s;
// How long the scripted contenders wait for a new version to answer before giving up on it.
constexpr auto kScriptReadyLimit = 5s;

std::string server_command(const std::string& args_file, const std::string& extra = "") {
  return "exec " + rrtest::kTestServer + " " + extra + " $(cat " + args_file + ")";
}

void wait_for_exit(const std::vector<pid_t>& pids) {
  wait_until(
      [&] {
        return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return process_exists(p); });
      },
      30s);
}

// reuserun in front of the server, with one readiness gate.
class Reuserun final : public Contender {
 public:
  // steady: never restarted, the request-path baseline against "direct". binds_itself: the
  // server is the reuseport contender's, unchanged (it binds the port itself with SO_REUSEPORT),
  // and gets reuserun's socket at its bind() (the bind takeover).
  explicit Reuserun(std::string gate, bool steady = false, bool binds_itself = false)
      : gate_(std::move(gate)), steady_(steady), binds_itself_(binds_itself) {}
  std::string name() const override {
    if (steady_) return "reuserun-steady";
    return binds_itself_ ? "reuserun:binds-itself" : "reuserun:" + gate_;
  }
  bool restarts() const override { return !steady_; }

  bool start(int port, const std::string& args_file) override {
    const std::string own = binds_itself_ ? "--listen " + std::to_string(port) + " --reuseport" : "";
    process_ = std::make_unique<Process>(std::vector<std::string>{
        rrtest::kReuserun, "--port", std::to_string(port), "--bind", "127.0.0.1", "--ready", gate_,
        "--ready-timeout", "5s", "--", "/bin/sh", "-c", server_command(args_file, own)});
    return process_->wait_for_log("serving on", kStartLimit);
  }

  RestartResult restart(const NowUs& now) override {
    RestartResult result;
    result.old_pids = child_pids(process_->pid());
    const int finished = outcomes();
    result.trigger_us = now();
    process_->signal(SIGHUP);
    wait_until([&] { return outcomes() > finished; }, kRestartLimit);
    result.done_us = now();
    result.succeeded = process_->count_in_log("restart succeeded") > succeeded_;
    succeeded_ = process_->count_in_log("restart succeeded");
    if (result.succeeded) wait_for_exit(result.old_pids);
    result.old_exit_us = result.succeeded ? now() : result.done_us;
    return result;
  }

  pid_t launcher_pid() const override { return process_->pid(); }
  std::string log() const override { return process_->log(); }

 private:
  int outcomes() const {
    return process_->count_in_log("restart succeeded") + process_->count_in_log("restart failed");
  }
  std::string gate_;
  bool steady_;
  bool binds_itself_;
  std::unique_ptr<Process> process_;
  int succeeded_ = 0;
};

// A script: the server binds the port itself. naive: stop the old one, then start the new one.
// reuseport: every server binds with SO_REUSEPORT; start the new one, wait until it answers (a
// check better than a port probe: it looks at the pid that answered), then stop the old one.
class Scripted final : public Contender {
 public:
  explicit Scripted(bool reuseport) : reuseport_(reuseport) {}
  std::string name() const override { return reuseport_ ? "reuseport" : "naive"; }

  bool start(int port, const std::string& args_file) override {
    port_ = port;
    args_file_ = args_file;
    current_ = launch();
    return wait_until([&] { return serving_pid(port_) == current_->pid(); }, kStartLimit);
  }

  RestartResult restart(const NowUs& now) override {
    RestartResult result;
    result.old_pids = {current_->pid()};
    result.trigger_us = now();
    if (!reuseport_) {
      current_->signal(SIGTERM);
      current_->wait_exit(30s);
      result.old_exit_us = now();
      current_ = launch();
      result.succeeded = answers_from(current_->pid());
      result.done_us = now();
      return result;
    }
    auto next = launch();
    result.succeeded = answers_from(next->pid());
    if (result.succeeded) {
      current_->signal(SIGTERM);
      current_->wait_exit(30s);
      current_ = std::move(next);
    }
    result.done_us = result.old_exit_us = now();
    return result;
  }

 private:
  std::unique_ptr<Process> launch() {
    const std::string listen =
        "--listen " + std::to_string(port_) + (reuseport_ ? " --reuseport" : "");
    return std::make_unique<Process>(
        std::vector<std::string>{"/bin/sh", "-c", server_command(args_file_, listen)});
  }
  bool answers_from(pid_t pid) {
    return wait_until([&] { return serving_pid(port_) == pid; }, kScriptReadyLimit);
  }

  bool reuseport_;
  int port_ = 0;
  std::string args_file_;
  std::unique_ptr<Process> current_;
};

// Server::Starter (Debian's libserver-starter-perl): on SIGHUP it starts a new worker and, if it
// is still alive after --interval (1 s), sends SIGTERM to the old one.
class ServerStarter final : public Contender {
 public:
  std::string name() const override { return "server-starter"; }

  bool start(int port, const std::string& args_file) override {
    process_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/start_server", "--port=127.0.0.1:" + std::to_string(port), "--interval=1", "--",
        "/bin/sh", "-c", server_command(args_file)});
    port_ = port;
    return wait_until([&] { return serving_pid(port).has_value(); }, kStartLimit);
  }

  RestartResult restart(const NowUs& now) override {
    RestartResult result;
    result.old_pids = child_pids(process_->pid());
    result.trigger_us = now();
    process_->signal(SIGHUP);
    wait_for_exit(result.old_pids);
    result.done_us = result.old_exit_us = now();
    const auto workers = child_pids(process_->pid());
    result.succeeded = !workers.empty() && serving_pid(port_).has_value();
    return result;
  }

  pid_t launcher_pid() const override { return process_->pid(); }
  std::string log() const override { return process_->log(); }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// The server alone, binding the port itself, never restarted: the baseline for the request path.
class Direct final : public Contender {
 public:
  std::string name() const override { return "direct"; }
  bool restarts() const override { return false; }
  bool start(int port, const std::string& args_file) override {
    process_ = std::make_unique<Process>(std::vector<std::string>{
        "/bin/sh", "-c", server_command(args_file, "--listen " + std::to_string(port))});
    return wait_until([&] { return serving_pid(port).has_value(); }, kStartLimit);
  }
  RestartResult restart(const NowUs&) override { return {}; }

 private:
  std::unique_ptr<Process> process_;
};

}  // namespace

std::vector<std::string> all_contender_names() {
  std::vector<std::string> names{"reuserun:auto",   "reuserun:accept",   "reuserun:http:/",
                                 "reuserun:notify", "reuserun:delay:1s", "naive",
                                 "reuseport",      "reuserun:binds-itself"};
  if (::access("/usr/bin/start_server", X_OK) == 0) names.push_back("server-starter");
  names.push_back("reuserun-steady");
  names.push_back("direct");
  return names;
}

std::unique_ptr<Contender> make_contender(const std::string& name) {
  if (name == "reuserun:binds-itself") return std::make_unique<Reuserun>("auto", false, true);
  if (name.starts_with("reuserun:")) return std::make_unique<Reuserun>(name.substr(9));
  if (name == "reuserun-steady") return std::make_unique<Reuserun>("auto", true);
  if (name == "naive") return std::make_unique<Scripted>(false);
  if (name == "reuseport") return std::make_unique<Scripted>(true);
  if (name == "server-starter") return std::make_unique<ServerStarter>();
  if (name == "direct") return std::make_unique<Direct>();
  return nullptr;
}

}  // namespace bench
