// The event loop on a fake Host (issue 28): every entry point a real reuserun reaches through
// signals, the control socket, child exits and timers, driven by hand, with no fork. The fake
// records what the loop asked of the system (spawns, signals, execve) and exits children when
// the test says so; the loop routes, the supervisor decides, the test reads the outcome.
#include "event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <filesystem>
#include <sstream>

#include "cli.hpp"
#include "exit_code.hpp"

namespace reuserun {
namespace {

using namespace std::chrono_literals;

constexpr pid_t kSelf = 100;
constexpr pid_t kFirstPid = 1000;

int exited(int code) { return (code & 0xff) << 8; }
int killed(int sig) { return sig & 0x7f; }

// No process is ever looked at: the loop's unix listener needs no /proc (readiness.hpp).
class NoSystem final : public SystemView {
 public:
  bool proc_mounted() const override { return false; }
  std::vector<pid_t> process_tree(pid_t root) const override { return {root}; }
  std::vector<pid_t> all_processes() const override { return {}; }
  pid_t holder_of_socket(ino_t, const std::vector<pid_t>&) const override { return 0; }
  Result<std::optional<ino_t>> accepted_inode(const SocketAddress&,
                                              const SocketAddress&) const override {
    return std::optional<ino_t>{};
  }
  Result<std::vector<ListeningSocket>> listening_sockets(std::uint16_t) const override {
    return std::vector<ListeningSocket>{};
  }
  WaitFinding socket_waiter(const std::vector<pid_t>&, ino_t) const override { return {}; }
};

class FakeHost final : public Host {
 public:
  struct Spawned {
    pid_t pid;
    std::string executable;
    std::vector<std::string> argv;
    std::vector<std::string> env;
  };
  struct Signalled {
    pid_t pid;
    int sig;
    bool operator==(const Signalled&) const = default;
  };

  boost::asio::io_context& io() override { return io_; }
  Clock::time_point now() const override { return now_; }
  pid_t self() const override { return kSelf; }
  void watch_signals(SignalHandler) override {}
  void start_watchdog() override {}

  Result<pid_t> spawn(const SpawnRequest& request) override {
    Spawned spawned{next_pid_++, request.executable, request.argv, {}};
    for (const char* const* entry = request.env->envp(); *entry != nullptr; ++entry)
      spawned.env.emplace_back(*entry);
    spawns.push_back(spawned);
    return spawned.pid;
  }
  Reaper& reaper() override { return reaper_; }
  void signal_worker(pid_t leader, int sig) override { signals.push_back({leader, sig}); }
  void kill_group(pid_t leader) override { signals.push_back({leader, SIGKILL}); }
  Result<std::unique_ptr<NotifySocket>> open_notify(NotifyOwner) override {
    return Error{"no notify channel on a fake host"};
  }
  const SystemdNotifier& systemd() const override { return systemd_; }
  const SystemView& system() const override { return system_; }
  void child_reaped(pid_t pid) override { reaped.push_back(pid); }
  pid_t left_holding(WorkerKey, const std::vector<pid_t>&, const std::set<ino_t>&) override {
    return 0;
  }
  void end_leftovers_of(WorkerKey, pid_t leader, const std::vector<pid_t>&) override {
    leftovers_killed_of.push_back(leader);
  }
  void end_leftovers_of_gone(const std::function<bool(WorkerKey)>&,
                             const std::vector<pid_t>&) override {}
  void signal_leftovers(int sig, const std::vector<pid_t>&) override {
    leftovers_signalled.push_back(sig);
  }
  Sweep sweep_leftovers(const std::vector<pid_t>&, bool, bool) override { return {true, false}; }
  void prepare_crash_recovery(const CrashRecoveryPlan& plan) override { crash_plans.push_back(plan); }
  void end_crash_recovery() override { crash_recovery_ended = true; }
  void note_next_generation(Generation) override {}
  void drain_orphans(int sig, Duration) override { orphans_drained_with.push_back(sig); }
  bool watch_files(const std::vector<std::string>& paths, Duration,
                   std::function<void(const std::string&)> changed) override {
    watched = paths;
    file_changed = std::move(changed);
    return true;
  }
  Error exec_new_image(const std::string& executable, const std::vector<std::string>&, int,
                       const std::vector<int>&) override {
    execs.push_back(executable);
    return Error{"no execve on a fake host"};
  }

  // The test's hand: `pid` has exited with `wait_status`; the loop hears of it at SIGCHLD.
  void exit(pid_t pid, int wait_status) { exits_.push_back({pid, wait_status}); }
  const Spawned& spawn_of(pid_t pid) const {
    for (const Spawned& spawned : spawns)
      if (spawned.pid == pid) return spawned;
    throw std::out_of_range("no spawn of pid " + std::to_string(pid));
  }
  bool signalled(pid_t pid, int sig) const {
    return std::find(signals.begin(), signals.end(), Signalled{pid, sig}) != signals.end();
  }

  std::vector<Spawned> spawns;
  std::vector<Signalled> signals;
  std::vector<pid_t> reaped;
  std::vector<std::string> execs;
  std::vector<CrashRecoveryPlan> crash_plans;
  bool crash_recovery_ended = false;
  std::vector<int> orphans_drained_with;
  std::vector<std::string> watched;
  std::function<void(const std::string&)> file_changed;  // the test's hand: a watched file changed
  std::vector<pid_t> leftovers_killed_of;  // SIGKILL to what the worker of this leader left
  std::vector<int> leftovers_signalled;    // the stop signal to every leftover

 private:
  boost::asio::io_context io_;
  Clock::time_point now_ = Clock::now();
  pid_t next_pid_ = kFirstPid;
  NoSystem system_;
  SystemdNotifier systemd_;  // no NOTIFY_SOCKET: says nothing
  std::deque<std::pair<pid_t, int>> exits_;
  Reaper reaper_{[](pid_t, ExitStatus) {},
                 [this](int* status) -> pid_t {
                   if (exits_.empty()) return 0;
                   *status = exits_.front().second;
                   return exits_.front().first;
                 },
                 [this](pid_t) { exits_.pop_front(); }};
};

struct Answer {
  std::optional<int> code;
  std::string text;
};

class EventLoopTest : public ::testing::Test {
 protected:
  EventLoopTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("reuserun-event-loop-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~EventLoopTest() override {
    loop_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // A loop for `reuserun --listen unix:DIR/s --ready exec:true EXTRA -- /bin/true`, started.
  void start(std::vector<std::string> extra = {}, const Handover* resumed = nullptr,
             bool after_crash = false) {
    std::vector<std::string> args = {"reuserun", "--listen", "unix:" + (dir_ / "s").string(),
                                     "--ready", "exec:true", "--no-bind-takeover"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "/bin/true"});
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    std::ostringstream out, err;
    CommandLine parsed = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
    ASSERT_TRUE(parsed.config) << err.str();
    config_ = std::move(*parsed.config);
    std::vector<Listener> listeners;
    for (const ListenSpec& spec : config_.listen) {
      auto listener = Listener::open(spec, 16);
      ASSERT_TRUE(listener) << listener.error().message;
      listeners.push_back(std::move(listener.value()));
    }
    loop_ = std::make_unique<EventLoop>(host_, config_, std::move(listeners), std::nullopt);
    loop_->start(resumed, after_crash);
  }

  // `pid` exits; the loop hears SIGCHLD.
  void exit(pid_t pid, int wait_status) {
    host_.exit(pid, wait_status);
    loop_->signal(SIGCHLD);
    host_.io().poll();
  }

  // The worker spawned last, and its exec: probe: the probe exits 0 and the worker is ready.
  pid_t pass_gate_of_last_worker() {
    const pid_t probe = host_.spawns.back().pid;
    EXPECT_EQ(host_.spawns.back().executable, "/bin/sh");
    exit(probe, exited(0));
    return host_.spawns.at(host_.spawns.size() - 2).pid;
  }

  // A `ctl` request; the answer fills in when the loop gives it (a restart: once it has ended).
  std::shared_ptr<Answer> ask(ControlRequest::Verb verb, bool json = false) {
    auto answer = std::make_shared<Answer>();
    loop_->control(ControlRequest{verb, json},
                   ControlServer::Reply(
                       [answer](int code, const std::string& text) {
                         answer->code = code;
                         answer->text = text;
                       },
                       [] { return UniqueFd(); }));
    host_.io().poll();
    return answer;
  }

  std::filesystem::path dir_;
  FakeHost host_;
  Config config_;
  std::unique_ptr<EventLoop> loop_;
};

TEST_F(EventLoopTest, FirstStartSpawnsTheCommandThenServesOnceItsExecProbePasses) {
  start();
  ASSERT_EQ(host_.spawns.size(), 2u);  // the worker, then its probe
  EXPECT_EQ(host_.spawns[0].executable, "/bin/true");
  EXPECT_EQ(host_.spawns[1].argv, (std::vector<std::string>{"sh", "-c", "true"}));
  // The probe is told whom it judges.
  const auto& env = host_.spawns[1].env;
  EXPECT_NE(std::find(env.begin(), env.end(), "REUSERUN_CHILD_PID=" + std::to_string(kFirstPid)),
            env.end());
  EXPECT_FALSE(loop_->supervisor().serving());

  EXPECT_EQ(pass_gate_of_last_worker(), kFirstPid);
  EXPECT_EQ(loop_->supervisor().serving(), 1u);
  EXPECT_EQ(host_.reaped, (std::vector<pid_t>{}));  // a probe's exit is routed, not a child's
}

TEST_F(EventLoopTest, CtlRestartStopsTheOldGroupAndAnswersWithTheNewPid) {
  start();
  const pid_t old_worker = pass_gate_of_last_worker();

  const auto answer = ask(ControlRequest::Verb::restart, true);
  EXPECT_FALSE(answer->code);  // answered when the restart has ended
  const pid_t new_worker = host_.spawns.at(2).pid;
  EXPECT_FALSE(host_.signalled(old_worker, SIGTERM));  // not before the new one is ready

  EXPECT_EQ(pass_gate_of_last_worker(), new_worker);
  EXPECT_TRUE(host_.signalled(old_worker, SIGTERM));
  ASSERT_EQ(answer->code, kExitOk) << answer->text;
  EXPECT_NE(answer->text.find("\"pid\":" + std::to_string(new_worker)), std::string::npos)
      << answer->text;
  EXPECT_NE(answer->text.find("\"serving_pid\":" + std::to_string(new_worker)), std::string::npos)
      << answer->text;
  EXPECT_EQ(loop_->supervisor().serving(), 2u);
}

TEST_F(EventLoopTest, ACandidateThatExitsIsRolledBackAndTheOldGenerationServesOn) {
  start();
  const pid_t old_worker = pass_gate_of_last_worker();
  const auto answer = ask(ControlRequest::Verb::restart);
  const pid_t candidate = host_.spawns.at(2).pid;
  const pid_t probe = host_.spawns.at(3).pid;

  exit(candidate, exited(1));
  ASSERT_EQ(answer->code, kCtlExited) << answer->text;
  EXPECT_NE(answer->text.find("exited with status 1"), std::string::npos) << answer->text;
  EXPECT_NE(answer->text.find("generation 1 (pid " + std::to_string(old_worker) + ") is serving"),
            std::string::npos)
      << answer->text;
  EXPECT_EQ(loop_->supervisor().serving(), 1u);
  EXPECT_FALSE(host_.signalled(old_worker, SIGTERM));
  EXPECT_TRUE(host_.signalled(probe, SIGKILL));  // its gate's probe goes with it
  EXPECT_EQ(host_.reaped, (std::vector<pid_t>{candidate}));
}

TEST_F(EventLoopTest, StopSendsTheStopSignalThenASecondSignalKills) {
  start();
  const pid_t worker = pass_gate_of_last_worker();

  loop_->signal(SIGTERM);
  EXPECT_TRUE(host_.signalled(worker, SIGTERM));
  EXPECT_FALSE(host_.signalled(worker, SIGKILL));
  EXPECT_TRUE(loop_->supervisor().stopping());
  EXPECT_EQ(ask(ControlRequest::Verb::restart)->code, kCtlStopping);

  loop_->signal(SIGTERM);
  EXPECT_TRUE(host_.signalled(worker, SIGKILL));
  EXPECT_FALSE(loop_->exit_code());
  exit(worker, killed(SIGKILL));
  EXPECT_EQ(loop_->exit_code(), kExitForcedStop);
}

TEST_F(EventLoopTest, AStopThatEveryWorkerObeysExitsZero) {
  start();
  const pid_t worker = pass_gate_of_last_worker();
  loop_->signal(SIGINT);
  exit(worker, exited(0));
  EXPECT_EQ(loop_->exit_code(), kExitOk);
}

TEST_F(EventLoopTest, AWorkerGoneWhileServingHasItsLeftoversKilled) {
  start();
  const pid_t worker = pass_gate_of_last_worker();
  exit(worker, exited(1));
  EXPECT_EQ(host_.leftovers_killed_of, (std::vector<pid_t>{worker}));
  EXPECT_TRUE(host_.leftovers_signalled.empty());
}

// The worker's exit makes the first start give up: reuserun stops in the same event, so what the
// worker left gets the stop signal and the stop timeout, as in any stop, not SIGKILL at once.
TEST_F(EventLoopTest, AFirstStartThatGivesUpStopsLeftoversGently) {
  start({"--start-attempts", "1"});
  exit(kFirstPid, exited(1));
  EXPECT_TRUE(loop_->supervisor().stopping());
  EXPECT_TRUE(host_.leftovers_killed_of.empty());
  EXPECT_EQ(host_.leftovers_signalled, (std::vector<int>{SIGTERM}));
  EXPECT_EQ(loop_->exit_code(), kExitStartFailed);
}

TEST_F(EventLoopTest, AFailedUpgradeCheckAnswers15AndNothingIsExecuted) {
  start({"--reexec-as", "/bin/true"});
  pass_gate_of_last_worker();
  const auto answer = ask(ControlRequest::Verb::upgrade);
  const FakeHost::Spawned& check = host_.spawns.back();
  EXPECT_EQ(check.executable, "/bin/true");
  EXPECT_NE(std::find(check.argv.begin(), check.argv.end(), "--upgrade-check"), check.argv.end());
  EXPECT_FALSE(answer->code);

  exit(check.pid, exited(1));
  ASSERT_EQ(answer->code, kCtlUpgradeFailed) << answer->text;
  EXPECT_NE(answer->text.find("upgrade failed"), std::string::npos) << answer->text;
  EXPECT_TRUE(host_.execs.empty());
  EXPECT_EQ(loop_->supervisor().serving(), 1u);
}

TEST_F(EventLoopTest, ATimerHandedOverFiresInTheNewImage) {
  // The earlier image: generation 1 drains (its deadline 5 s away), generation 2 serves.
  Handover handover;
  handover.supervisor.next_generation = 3;
  handover.supervisor.serving = 2;
  handover.supervisor.ever_ready = true;
  handover.supervisor.children = {{1, 501, Phase::draining, 0}, {2, 502, Phase::serving, 0}};
  const TimerId drain{TimerKind::drain_deadline, 1, 0};
  handover.supervisor.armed = {drain};
  const auto deadline = host_.now() + 5s;
  handover.timer_expiries_ns[drain] = nanoseconds(deadline);
  handover.workers[WorkerKey{1, 0}] = HandedWorker{};
  handover.workers[WorkerKey{2, 0}] = HandedWorker{};
  start({}, &handover);

  EXPECT_TRUE(host_.spawns.empty());  // nothing started: the children carry on
  EXPECT_EQ(loop_->supervisor().serving(), 2u);
  const auto expiry = loop_->timer_expiry(drain);
  ASSERT_TRUE(expiry);
  EXPECT_GT(*expiry, deadline - 1s);
  EXPECT_LT(*expiry, deadline + 1s);

  loop_->timer_fired(drain);  // the drain deadline: the old generation is killed
  EXPECT_TRUE(host_.signalled(501, SIGKILL));
  EXPECT_FALSE(host_.signalled(502, SIGKILL));
}

TEST_F(EventLoopTest, AWatchedFileThatChangedRestartsAsSighupWouldAndStatusSaysWhy) {
  start({"--watch", "/srv/app/bin/server"});
  EXPECT_EQ(host_.watched, std::vector<std::string>{"/srv/app/bin/server"});
  pass_gate_of_last_worker();
  const std::size_t spawned = host_.spawns.size();
  ASSERT_TRUE(host_.file_changed);
  host_.file_changed("/srv/app/bin/server");
  ASSERT_GT(host_.spawns.size(), spawned) << "generation 2 started";
  const std::string status = ask(ControlRequest::Verb::status, true)->text;
  EXPECT_NE(status.find(R"j("restart_trigger":"/srv/app/bin/server changed (--watch)")j"),
            std::string::npos)
      << status;
  EXPECT_NE(status.find(R"("watching":["/srv/app/bin/server"])"), std::string::npos) << status;
}

TEST_F(EventLoopTest, TheCrashRecoveryKeepsTheListenersAndEndsWhenAStopBegins) {
  start();
  ASSERT_EQ(host_.crash_plans.size(), 1u) << "prepared before anything can crash";
  const CrashRecoveryPlan& plan = host_.crash_plans.front();
  EXPECT_EQ(plan.argv.front(), "reuserun");
  ASSERT_EQ(plan.keep_fds.size(), 1u);
  const auto state = decode_handover(plan.state);
  ASSERT_TRUE(state) << state.error().message;
  ASSERT_EQ(state.value().listeners.size(), 1u);
  EXPECT_EQ(state.value().listeners.front().fd, plan.keep_fds.front());
  EXPECT_TRUE(state.value().supervisor.children.empty()) << "children are read from the kernel";

  const pid_t worker = pass_gate_of_last_worker();
  EXPECT_FALSE(host_.crash_recovery_ended);
  loop_->signal(SIGTERM);
  EXPECT_TRUE(host_.crash_recovery_ended) << "a crash while stopping is not turned into a restart";
  exit(worker, exited(0));
}

TEST_F(EventLoopTest, AfterACrashEveryChildServesUntilAFreshGenerationIsReady) {
  // What the kernel showed the new image: two workers, of generations 1 and 2, both serving as
  // far as anyone can tell (run.cpp, add_children_of_crashed_image).
  Handover handover;
  handover.supervisor.next_generation = 3;
  handover.supervisor.serving = 2;
  handover.supervisor.ever_ready = true;
  handover.supervisor.children = {{1, 501, Phase::serving, 0}, {2, 502, Phase::serving, 0}};
  handover.workers[WorkerKey{1, 0}] = HandedWorker{};
  handover.workers[WorkerKey{2, 0}] = HandedWorker{};
  start({}, &handover, true);

  ASSERT_EQ(host_.spawns.size(), 2u) << "generation 3 and its exec probe";
  EXPECT_FALSE(host_.signalled(501, SIGTERM));
  EXPECT_FALSE(host_.signalled(502, SIGTERM));
  const pid_t fresh = pass_gate_of_last_worker();
  EXPECT_EQ(loop_->supervisor().serving(), 3u);
  EXPECT_TRUE(host_.signalled(501, SIGTERM)) << "drained once generation 3 serves";
  EXPECT_TRUE(host_.signalled(502, SIGTERM));
  EXPECT_FALSE(host_.signalled(fresh, SIGTERM));
}

}  // namespace
}  // namespace reuserun
