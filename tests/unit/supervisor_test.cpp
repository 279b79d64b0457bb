// Every policy row of docs/DESIGN.md §4, driven through the pure Supervisor: no fork, no sleep.
#include "supervisor.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>

#include "exit_code.hpp"

namespace reuserun {
namespace {

using namespace std::chrono_literals;

template <typename T>
std::vector<T> all_of(const Actions& actions) {
  std::vector<T> found;
  for (const auto& action : actions)
    if (const T* typed = std::get_if<T>(&action)) found.push_back(*typed);
  return found;
}

template <typename T>
std::optional<T> first_of(const Actions& actions) {
  const auto found = all_of<T>(actions);
  return found.empty() ? std::nullopt : std::optional<T>(found.front());
}

bool sends(const Actions& actions, pid_t pid, int sig) {
  const auto signals = all_of<SignalGroup>(actions);
  return std::find(signals.begin(), signals.end(), SignalGroup{pid, sig}) != signals.end();
}

bool arms(const Actions& actions, TimerKind kind, Generation generation, Duration after) {
  for (const auto& arm : all_of<ArmTimer>(actions))
    if (arm.id == TimerId{kind, generation} && arm.after == after) return true;
  return false;
}

ExitStatus exited(int code) { return ExitStatus::exited(code); }
ExitStatus killed(int sig) { return ExitStatus::killed(sig); }

class SupervisorTest : public ::testing::Test {
 protected:
  // The supervisor is built from this configuration from the start: a test that never calls
  // serve_first() must not run with the defaults instead.
  static SupervisorConfig test_config() {
    SupervisorConfig config;
    config.ready_timeout = 30s;
    config.drain_timeout = 20s;
    config.stop_timeout = 10s;
    config.backoff_initial = 100ms;
    config.backoff_max = 1s;
    config.stable_uptime = 10s;
    return config;
  }

  Actions send(const Event& event) { return supervisor_->handle(event); }

  // Generation `generation` spawned as `pid` and passed its gate.
  Actions start_serving(Generation generation, pid_t pid) {
    send(ChildSpawned{generation, pid});
    return send(GatePassed{generation});
  }

  // The first generation (pid 100) is serving.
  void serve_first() {
    supervisor_ = std::make_unique<Supervisor>(config_);
    send(StartRequested{});
    start_serving(1, 100);
  }

  SupervisorConfig config_ = test_config();
  std::unique_ptr<Supervisor> supervisor_ = std::make_unique<Supervisor>(config_);
};

TEST_F(SupervisorTest, FirstStartSpawnsGatesAndReportsReady) {
  const auto start = send(StartRequested{});
  ASSERT_TRUE(first_of<SpawnChild>(start));
  EXPECT_EQ(first_of<SpawnChild>(start)->generation, 1u);

  const auto spawned = send(ChildSpawned{1, 100});
  ASSERT_TRUE(first_of<StartGate>(spawned));
  EXPECT_EQ(first_of<StartGate>(spawned)->pid, 100);
  EXPECT_TRUE(arms(spawned, TimerKind::ready_deadline, 1, 30s));
  EXPECT_FALSE(first_of<ServiceReady>(spawned));

  const auto ready = send(GatePassed{1});
  EXPECT_TRUE(first_of<ServiceReady>(ready));
  EXPECT_TRUE(all_of<SignalGroup>(ready).empty());
  EXPECT_FALSE(first_of<RestartFinished>(ready)) << "the first start is not a restart";
  EXPECT_EQ(supervisor_->serving(), 1u);
}

TEST_F(SupervisorTest, RestartStopsTheOldGenerationOnlyAfterTheNewOneIsReady) {
  serve_first();
  const auto hup = send(SignalReceived{SIGHUP});
  ASSERT_TRUE(first_of<SpawnChild>(hup));
  EXPECT_EQ(first_of<SpawnChild>(hup)->generation, 2u);

  const auto spawned = send(ChildSpawned{2, 200});
  EXPECT_TRUE(all_of<SignalGroup>(spawned).empty()) << "the old one must keep serving";

  const auto ready = send(GatePassed{2});
  EXPECT_TRUE(sends(ready, 100, SIGTERM));
  EXPECT_TRUE(arms(ready, TimerKind::drain_deadline, 1, 20s));
  ASSERT_TRUE(first_of<RestartFinished>(ready));
  EXPECT_TRUE(first_of<RestartFinished>(ready)->succeeded());
  EXPECT_EQ(first_of<RestartFinished>(ready)->serving, 2u);  // what `ctl restart` answers with
  EXPECT_EQ(first_of<RestartFinished>(ready)->serving_pid, 200);
  EXPECT_FALSE(first_of<ServiceReady>(ready)) << "READY is reported once, for the first start";
  EXPECT_EQ(supervisor_->serving(), 2u);
  EXPECT_EQ(supervisor_->children().at(WorkerKey{1}).phase, Phase::draining);
}

TEST_F(SupervisorTest, RestartAndStopAreAnnouncedForSystemd) {
  serve_first();
  const auto hup = send(SignalReceived{SIGHUP});
  ASSERT_TRUE(first_of<RestartStarted>(hup)) << "RELOADING=1 goes out when a restart begins";
  EXPECT_EQ(first_of<RestartStarted>(hup)->generation, 2u);
  EXPECT_FALSE(first_of<RestartStarted>(send(SignalReceived{SIGHUP})))
      << "a coalesced SIGHUP starts nothing yet";
  EXPECT_TRUE(first_of<Stopping>(send(SignalReceived{SIGTERM})));
}

TEST_F(SupervisorTest, AtMostMaxDrainingGenerationsDrainTheOldestIsKilled) {
  config_.max_draining = 2;
  serve_first();
  // Generations 1, 2 and 3 are replaced in turn and none of them finishes draining.
  for (Generation generation = 2; generation <= 3; ++generation) {
    send(SignalReceived{SIGHUP});
    const auto promoted = start_serving(generation, static_cast<pid_t>(generation * 100));
    EXPECT_TRUE(all_of<SignalGroup>(promoted).size() == 1) << "only the stop signal so far";
  }
  send(SignalReceived{SIGHUP});
  const auto third = start_serving(4, 400);
  EXPECT_TRUE(sends(third, 300, SIGTERM));
  EXPECT_TRUE(sends(third, 100, SIGKILL)) << "the oldest of three draining generations";
  EXPECT_FALSE(sends(third, 200, SIGKILL));
  // Its drain deadline is gone with it; its exit is only logged.
  EXPECT_TRUE(send(TimerFired{{TimerKind::drain_deadline, 1}}).empty());
  EXPECT_TRUE(all_of<SignalGroup>(send(ChildExited{100, killed(SIGKILL)})).size() == 1);
  EXPECT_EQ(supervisor_->serving(), 4u);
}

TEST_F(SupervisorTest, DrainTimeoutKillsTheOldGeneration) {
  serve_first();
  send(SignalReceived{SIGHUP});
  start_serving(2, 200);
  const auto deadline = send(TimerFired{{TimerKind::drain_deadline, 1}});
  EXPECT_TRUE(sends(deadline, 100, SIGKILL));
}

TEST_F(SupervisorTest, OldGenerationExitingInTimeCancelsItsDrainTimerAndCleansItsGroup) {
  serve_first();
  send(SignalReceived{SIGHUP});
  start_serving(2, 200);
  const auto gone = send(ChildExited{100, exited(0)});
  bool cancelled = false;
  for (const auto& cancel : all_of<CancelTimer>(gone))
    cancelled |= cancel.id == TimerId{TimerKind::drain_deadline, 1};
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(sends(gone, 100, SIGKILL)) << "leftovers in the old process group are killed";
  EXPECT_TRUE(all_of<SpawnChild>(gone).empty()) << "a drained generation is not respawned";
  // A late timer for a generation that is gone does nothing.
  EXPECT_TRUE(send(TimerFired{{TimerKind::drain_deadline, 1}}).empty());
}

TEST_F(SupervisorTest, SighupsDuringARestartAreCoalescedIntoOne) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  EXPECT_TRUE(all_of<SpawnChild>(send(SignalReceived{SIGHUP})).empty());
  EXPECT_TRUE(all_of<SpawnChild>(send(SignalReceived{SIGHUP})).empty());
  EXPECT_TRUE(supervisor_->restart_pending());

  const auto ready = send(GatePassed{2});
  const auto spawns = all_of<SpawnChild>(ready);
  ASSERT_EQ(spawns.size(), 1u);
  EXPECT_EQ(spawns.front().generation, 3u);
  EXPECT_FALSE(supervisor_->restart_pending());
  // And no more after that one.
  EXPECT_TRUE(all_of<SpawnChild>(start_serving(3, 300)).empty());
}

TEST_F(SupervisorTest, PendingRestartRunsAfterAFailedRestartToo) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  send(SignalReceived{SIGHUP});
  const auto failed = send(ChildExited{200, exited(1)});
  ASSERT_EQ(all_of<SpawnChild>(failed).size(), 1u);
  EXPECT_EQ(all_of<SpawnChild>(failed).front().generation, 3u);
}

TEST_F(SupervisorTest, ARestartRequestOverTheControlSocketIsASighup) {
  serve_first();
  const auto restart = send(RestartRequested{});
  ASSERT_TRUE(first_of<RestartStarted>(restart));
  EXPECT_EQ(first_of<RestartStarted>(restart)->generation, 2u);
  EXPECT_TRUE(first_of<SpawnChild>(restart));
  send(ChildSpawned{2, 200});
  EXPECT_TRUE(all_of<SpawnChild>(send(RestartRequested{})).empty()) << "queued, not started";
  EXPECT_TRUE(supervisor_->restart_pending());
}

TEST_F(SupervisorTest, NewGenerationThatExitsBeforeReadyIsRolledBack) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto failed = send(ChildExited{200, exited(1)});
  EXPECT_FALSE(sends(failed, 100, SIGTERM));
  EXPECT_TRUE(first_of<CancelGate>(failed));
  ASSERT_TRUE(first_of<RestartFinished>(failed));
  EXPECT_EQ(first_of<RestartFinished>(failed)->outcome, RestartOutcome::exited);
  EXPECT_NE(first_of<RestartFinished>(failed)->reason.find("exited with status 1"),
            std::string::npos);
  EXPECT_EQ(first_of<RestartFinished>(failed)->serving, 1u);
  EXPECT_EQ(first_of<RestartFinished>(failed)->serving_pid, 100);
  EXPECT_EQ(supervisor_->serving(), 1u);
  EXPECT_TRUE(all_of<SpawnChild>(failed).empty()) << "a failed deploy is not retried";
}

TEST_F(SupervisorTest, NewGenerationThatMissesTheReadyTimeoutIsKilledAndTheOldKeepsServing) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto expired = send(TimerFired{{TimerKind::ready_deadline, 2}});
  ASSERT_TRUE(first_of<ExpireGate>(expired)) << "the gate is asked what it saw";
  EXPECT_EQ(first_of<ExpireGate>(expired)->reason, "not ready within 30s (--ready-timeout)");
  EXPECT_TRUE(all_of<SignalGroup>(expired).empty());
  const auto late =
      send(GateFailed{2, first_of<ExpireGate>(expired)->reason + ": accept: 9 probes", true});
  EXPECT_TRUE(sends(late, 200, SIGTERM));
  EXPECT_FALSE(sends(late, 100, SIGTERM));
  EXPECT_TRUE(arms(late, TimerKind::kill_deadline, 2, 10s));
  ASSERT_TRUE(first_of<RestartFinished>(late));
  EXPECT_EQ(first_of<RestartFinished>(late)->outcome, RestartOutcome::timed_out);
  EXPECT_EQ(first_of<RestartFinished>(late)->reason,
            "not ready within 30s (--ready-timeout): accept: 9 probes");
  EXPECT_EQ(supervisor_->serving(), 1u);
  EXPECT_TRUE(sends(send(TimerFired{{TimerKind::kill_deadline, 2}}), 200, SIGKILL));
  // A gate result that arrives after the deadline changes nothing.
  EXPECT_TRUE(all_of<SignalGroup>(send(GatePassed{2})).empty());
}

TEST_F(SupervisorTest, FailedGateRollsBackWithItsReason) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto failed = send(GateFailed{2, "ready-cmd could not be started"});
  EXPECT_TRUE(sends(failed, 200, SIGTERM));
  ASSERT_TRUE(first_of<RestartFinished>(failed));
  EXPECT_EQ(first_of<RestartFinished>(failed)->reason, "ready-cmd could not be started");
  EXPECT_EQ(first_of<RestartFinished>(failed)->outcome, RestartOutcome::gate_failed);
  EXPECT_EQ(supervisor_->serving(), 1u);
}

// A generation that binds reuserun's port itself with a socket of the other family
// (bind_takeover.hpp): at the very first start nothing will change by retrying.
TEST_F(SupervisorTest, ABindOfTheOtherFamilyAtFirstStartStopsWithTheListenStatus) {
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  const auto refused = send(BindRefused{1, 0, "binds [::1]:8080 with an IPv6 socket itself"});
  EXPECT_TRUE(sends(refused, 100, SIGTERM)) << "the running child is stopped";
  EXPECT_TRUE(all_of<SpawnChild>(refused).empty()) << "and not retried";
  const auto gone = send(ChildExited{100, killed(SIGTERM)});
  ASSERT_TRUE(first_of<Exit>(gone));
  EXPECT_EQ(first_of<Exit>(gone)->code, kExitListen);
}

TEST_F(SupervisorTest, ABindOfTheOtherFamilyInARestartRollsBack) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto refused = send(BindRefused{2, 0, "binds [::1]:8080 with an IPv6 socket itself"});
  EXPECT_TRUE(sends(refused, 200, SIGTERM));
  EXPECT_FALSE(sends(refused, 100, SIGTERM));
  ASSERT_TRUE(first_of<RestartFinished>(refused));
  EXPECT_EQ(first_of<RestartFinished>(refused)->outcome, RestartOutcome::gate_failed);
  EXPECT_EQ(first_of<RestartFinished>(refused)->reason,
            "it binds [::1]:8080 with an IPv6 socket itself");
  EXPECT_EQ(supervisor_->serving(), 1u);
}

// ---- rows of the worker lifecycle table (supervisor.cpp, kLifecycle) ----

TEST_F(SupervisorTest, ALateGateResultForAWorkerAlreadyFailedIsIgnored) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  send(GateFailed{2, "probe failed"});  // generation 2 is told to stop: phase failed
  const auto late = send(GatePassed{2});
  EXPECT_TRUE(late.empty()) << "a failed worker does not come back by passing late";
  EXPECT_TRUE(send(GateFailed{2, "again"}).empty());
  EXPECT_EQ(supervisor_->serving(), 1u);
}

TEST_F(SupervisorTest, EveryPhaseChangeIsReported) {
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  const auto ready = send(GatePassed{1});
  bool reported = false;
  for (const auto& report : all_of<Report>(ready))
    reported |= report.level == LogLevel::debug &&
                report.text == "generation 1 (pid 100): starting -> serving";
  EXPECT_TRUE(reported);
}

TEST_F(SupervisorTest, ARestartsResultNamesItsWorkersEvenOnesAlreadyGone) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto failed = send(ChildExited{200, exited(1)});
  ASSERT_TRUE(first_of<RestartFinished>(failed));
  EXPECT_EQ(first_of<RestartFinished>(failed)->pids, std::vector<pid_t>{200});
}

TEST_F(SupervisorTest, AnExitedWorkerIsForgottenOnceItsLeftoversAreKilled) {
  serve_first();
  const auto gone = send(ChildExited{100, killed(SIGSEGV)});
  EXPECT_TRUE(sends(gone, 100, SIGKILL)) << "its process group, while it is a zombie";
  ASSERT_TRUE(first_of<ForgetWorker>(gone));
  EXPECT_EQ(first_of<ForgetWorker>(gone)->pid, 100);
  EXPECT_EQ(first_of<ForgetWorker>(gone)->generation, 1u);
  EXPECT_TRUE(send(ChildExited{4242, exited(0)}).empty()) << "not a worker: nothing to forget";
}

TEST_F(SupervisorTest, AWorkerKeepsWhenItWasSpawnedAsTheLoopSaid) {
  send(StartRequested{});
  send(ChildSpawned{1, 100, 0, 123456789});
  EXPECT_EQ(supervisor_->children().at(WorkerKey{1}).spawned_at_ns, 123456789);
  EXPECT_EQ(supervisor_->snapshot().children.at(0).spawned_at_ns, 123456789);
}

TEST_F(SupervisorTest, SpawnFailureDuringARestartKeepsTheOldGeneration) {
  serve_first();
  send(SignalReceived{SIGHUP});
  const auto failed = send(SpawnFailed{2, ENOENT, "Failed to execute ./srv: No such file"});
  EXPECT_FALSE(first_of<Exit>(failed));
  ASSERT_TRUE(first_of<RestartFinished>(failed));
  EXPECT_EQ(first_of<RestartFinished>(failed)->outcome, RestartOutcome::spawn_failed);
  EXPECT_EQ(supervisor_->serving(), 1u);
}

TEST_F(SupervisorTest, CommandThatCannotRunAtFirstStartExitsWithShellCodes) {
  send(StartRequested{});
  const auto missing = send(SpawnFailed{1, ENOENT, "not found"});
  ASSERT_TRUE(first_of<Exit>(missing));
  EXPECT_EQ(first_of<Exit>(missing)->code, kExitNotFound);

  supervisor_ = std::make_unique<Supervisor>(config_);
  send(StartRequested{});
  const auto denied = send(SpawnFailed{1, EACCES, "permission denied"});
  ASSERT_TRUE(first_of<Exit>(denied));
  EXPECT_EQ(first_of<Exit>(denied)->code, kExitNotExecutable);
}

TEST_F(SupervisorTest, CrashedServingGenerationIsRespawnedWithExponentialBackoff) {
  serve_first();
  const auto crash = send(ChildExited{100, killed(SIGSEGV)});
  EXPECT_TRUE(arms(crash, TimerKind::backoff, 0, 100ms));
  EXPECT_TRUE(all_of<SpawnChild>(crash).empty()) << "not at once: the backoff comes first";

  Generation generation = 2;
  for (Duration expected : {200ms, 400ms, 800ms, 1000ms, 1000ms}) {
    const auto respawn = send(TimerFired{{TimerKind::backoff, 0}});
    ASSERT_EQ(all_of<SpawnChild>(respawn).size(), 1u);
    EXPECT_EQ(all_of<SpawnChild>(respawn).front().generation, generation);
    send(ChildSpawned{generation, static_cast<pid_t>(100 + generation)});
    const auto again = send(ChildExited{static_cast<pid_t>(100 + generation), exited(1)});
    EXPECT_TRUE(arms(again, TimerKind::backoff, 0, expected)) << "generation " << generation;
    ++generation;
  }
}

// --watchdog: a serving worker that stops pinging is hung, and is treated as one that crashed.
TEST_F(SupervisorTest, AServingWorkerThatStopsPingingItsWatchdogIsAbortedAndReplaced) {
  config_.watchdog = 2s;
  supervisor_ = std::make_unique<Supervisor>(config_);
  send(StartRequested{});
  const auto spawned = send(ChildSpawned{1, 100});
  EXPECT_FALSE(arms(spawned, TimerKind::watchdog, 1, 2s)) << "not while starting";
  EXPECT_TRUE(send(WatchdogPinged{1}).empty()) << "a ping before ready means nothing yet";
  const auto ready = send(GatePassed{1});
  EXPECT_TRUE(arms(ready, TimerKind::watchdog, 1, 2s));
  EXPECT_TRUE(arms(send(WatchdogPinged{1}), TimerKind::watchdog, 1, 2s)) << "a ping re-arms";

  const auto missed = send(TimerFired{{TimerKind::watchdog, 1}});
  EXPECT_TRUE(sends(missed, 100, SIGABRT));
  EXPECT_TRUE(arms(missed, TimerKind::kill_deadline, 1, 10s));
  ASSERT_TRUE(first_of<Report>(missed));
  EXPECT_EQ(first_of<Report>(missed)->event, "watchdog-missed");
  EXPECT_TRUE(send(WatchdogPinged{1}).empty()) << "a late ping does not undo it";

  EXPECT_TRUE(sends(send(TimerFired{{TimerKind::kill_deadline, 1}}), 100, SIGKILL));
  const auto gone = send(ChildExited{100, killed(SIGKILL)});
  EXPECT_TRUE(arms(gone, TimerKind::backoff, 0, 100ms)) << "replaced as a crash is";
}

TEST_F(SupervisorTest, WatchdogTriggerCountsAsAMissedPingAtOnce) {
  config_.watchdog = 2s;
  serve_first();
  EXPECT_TRUE(sends(send(WatchdogPinged{1, 0, true}), 100, SIGABRT));
}

TEST_F(SupervisorTest, TheWatchdogWatchesOnlyServingWorkers) {
  config_.watchdog = 2s;
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto ready = send(GatePassed{2});
  EXPECT_TRUE(sends(ready, 100, SIGTERM));
  const auto cancels = all_of<CancelTimer>(ready);
  EXPECT_TRUE(std::any_of(cancels.begin(), cancels.end(), [](const CancelTimer& cancel) {
    return cancel.id == TimerId{TimerKind::watchdog, 1};
  })) << "the draining generation is not watched";
  EXPECT_TRUE(arms(ready, TimerKind::watchdog, 2, 2s));
  EXPECT_TRUE(send(WatchdogPinged{1}).empty());
}

TEST_F(SupervisorTest, WithoutWatchdogNoPingMatters) {
  serve_first();
  EXPECT_TRUE(send(WatchdogPinged{1}).empty());
  EXPECT_TRUE(send(WatchdogPinged{1, 0, true}).empty());
}

// The first thing many people try: a server that binds the port itself, and so never starts.
// The hints said when a first start fails, one per failed start.
std::vector<std::string> hints(const Actions& actions) {
  std::vector<std::string> said;
  for (const auto& report : all_of<Report>(actions))
    if (report.text.starts_with("hint: ")) said.push_back(report.text);
  return said;
}

// One hint for every cause was often wrong (issue 27, finding 3): the hint names the cause.
TEST_F(SupervisorTest, AFirstStartThatExitsWithAnErrorIsHintedAtItsOwnErrorOnce) {
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  const auto first = send(ChildExited{100, exited(3)});
  ASSERT_EQ(hints(first).size(), 1U);
  EXPECT_NE(hints(first).front().find("exited with status 3"), std::string::npos);
  EXPECT_NE(hints(first).front().find("the server's own error"), std::string::npos);
  EXPECT_TRUE(arms(first, TimerKind::backoff, 0, 100ms)) << "retried, with backoff";
  ASSERT_EQ(all_of<SpawnChild>(send(TimerFired{{TimerKind::backoff, 0}})).size(), 1U);
  send(ChildSpawned{2, 200});
  EXPECT_TRUE(hints(send(ChildExited{200, exited(3)})).empty()) << "said once";
}

TEST_F(SupervisorTest, AFirstStartThatExitsWithStatus0IsHintedAtDaemonizing) {
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  const auto first = send(ChildExited{100, exited(0)});
  ASSERT_EQ(hints(first).size(), 1U);
  EXPECT_NE(hints(first).front().find("foreground"), std::string::npos) << hints(first).front();
}

// A generation that ran until its gate gave up was not refused the port: no word about binding
// it (issue 25, finding 11). What the gate knows is the hint; without it, what to look at.
TEST_F(SupervisorTest, AFirstStartWhoseGateFailedIsHintedWithWhatTheGateSaw) {
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  const auto failed = send(GateFailed{1, "not ready within 1s (--ready-timeout)", true});
  ASSERT_EQ(hints(failed).size(), 1U);
  EXPECT_EQ(hints(failed).front().find("Address already in use"), std::string::npos);
  EXPECT_NE(hints(failed).front().find("never ready"), std::string::npos);
  EXPECT_TRUE(arms(failed, TimerKind::backoff, 0, 100ms)) << "retried all the same";

  supervisor_ = std::make_unique<Supervisor>(config_);
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  GateFailed http{1, "not ready", true};
  http.hint = "GET /health answered 404";
  EXPECT_EQ(hints(send(http)), std::vector<std::string>{"hint: GET /health answered 404"});
}

TEST_F(SupervisorTest, AFirstStartGivesUpAfterStartAttemptsFailuresAndExits7) {
  config_.start_attempts = 2;
  supervisor_ = std::make_unique<Supervisor>(config_);
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  EXPECT_FALSE(first_of<Exit>(send(ChildExited{100, exited(1)})));
  send(TimerFired{{TimerKind::backoff, 0}});
  send(ChildSpawned{2, 200});
  const auto second = send(ChildExited{200, exited(1)});
  ASSERT_TRUE(first_of<Exit>(second)) << "the second failure in a row is the last";
  EXPECT_EQ(first_of<Exit>(second)->code, kExitStartFailed);
  EXPECT_TRUE(all_of<ArmTimer>(second).empty()) << "no retry is scheduled";
  bool named = false;
  for (const auto& report : all_of<Report>(second))
    named = named || report.text.find("exited with status 1") != std::string::npos;
  EXPECT_TRUE(named) << "the summary names the last cause";
}

TEST_F(SupervisorTest, StartAttemptsCountOnlyUntilTheServiceWasReady) {
  config_.start_attempts = 1;
  serve_first();
  const auto crash = send(ChildExited{100, exited(1)});
  EXPECT_FALSE(first_of<Exit>(crash));
  EXPECT_TRUE(arms(crash, TimerKind::backoff, 0, 100ms)) << "a crash later is always retried";
}

// fork, setsid, fork, exit 0: each retry would leave one more server behind (issue 27,
// finding 1). A first start stops at once; a restart is rolled back like any exit.
TEST_F(SupervisorTest, ACommandThatDaemonizesAtItsFirstStartIsNotRetried) {
  send(StartRequested{});
  send(ChildSpawned{1, 100});
  const auto gone = send(ChildExited{100, exited(0), 555});
  ASSERT_EQ(all_of<Exit>(gone).size(), 1U);
  EXPECT_EQ(first_of<Exit>(gone)->code, kExitStartFailed);
  bool named = false;
  for (const auto& report : all_of<Report>(gone))
    named = named || (report.text.find("daemonized") != std::string::npos &&
                      report.text.find("pid 555") != std::string::npos);
  EXPECT_TRUE(named);
}

TEST_F(SupervisorTest, ARestartThatDaemonizesIsRolledBack) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto gone = send(ChildExited{200, exited(0), 777});
  ASSERT_TRUE(first_of<RestartFinished>(gone));
  EXPECT_EQ(first_of<RestartFinished>(gone)->outcome, RestartOutcome::exited);
  EXPECT_NE(first_of<RestartFinished>(gone)->reason.find("daemonized"), std::string::npos);
  EXPECT_FALSE(first_of<Exit>(gone));
  EXPECT_EQ(supervisor_->serving(), 1u);
}

TEST_F(SupervisorTest, ACrashAfterTheServiceWasReadyGivesNoHint) {
  serve_first();
  for (const auto& report : all_of<Report>(send(ChildExited{100, exited(1)})))
    EXPECT_FALSE(report.text.starts_with("hint:")) << report.text;
}

TEST_F(SupervisorTest, BackoffStartsOverAfterAStableUptime) {
  serve_first();
  send(ChildExited{100, exited(1)});
  send(TimerFired{{TimerKind::backoff, 0}});
  start_serving(2, 200);
  send(ChildExited{200, exited(1)});  // second failure in a row: 200ms
  send(TimerFired{{TimerKind::backoff, 0}});
  const auto ready = start_serving(3, 300);
  EXPECT_TRUE(arms(ready, TimerKind::stable, 3, 10s));
  send(TimerFired{{TimerKind::stable, 3}});
  EXPECT_TRUE(arms(send(ChildExited{300, exited(1)}), TimerKind::backoff, 0, 100ms));
}

TEST_F(SupervisorTest, SighupWhileWaitingForABackoffStartsAtOnce) {
  serve_first();
  send(ChildExited{100, exited(1)});
  const auto hup = send(SignalReceived{SIGHUP});
  ASSERT_EQ(all_of<SpawnChild>(hup).size(), 1u);
  EXPECT_TRUE(send(TimerFired{{TimerKind::backoff, 0}}).empty()) << "the backoff was cancelled";
}

TEST_F(SupervisorTest, ServingGenerationDyingDuringARestartLetsTheNewOneTakeOver) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto crash = send(ChildExited{100, exited(1)});
  EXPECT_TRUE(all_of<SpawnChild>(crash).empty());
  EXPECT_FALSE(first_of<ArmTimer>(crash) &&
               first_of<ArmTimer>(crash)->id.kind == TimerKind::backoff);
  send(GatePassed{2});
  EXPECT_EQ(supervisor_->serving(), 2u);
}

TEST_F(SupervisorTest, StopSignalsEveryGenerationOnceAndExitsZero) {
  serve_first();
  send(SignalReceived{SIGHUP});
  start_serving(2, 200);  // 1 is draining, 2 serving
  const auto stop = send(SignalReceived{SIGTERM});
  EXPECT_TRUE(sends(stop, 200, SIGTERM));
  EXPECT_FALSE(sends(stop, 100, SIGTERM)) << "a draining generation was already told";
  EXPECT_TRUE(arms(stop, TimerKind::stop_deadline, 0, 10s));
  EXPECT_FALSE(first_of<Exit>(send(ChildExited{100, exited(0)})));
  const auto last = send(ChildExited{200, exited(0)});
  ASSERT_TRUE(first_of<Exit>(last));
  EXPECT_EQ(first_of<Exit>(last)->code, kExitOk);
}

TEST_F(SupervisorTest, SecondStopSignalKillsAtOnce) {
  serve_first();
  send(SignalReceived{SIGTERM});
  EXPECT_TRUE(sends(send(SignalReceived{SIGINT}), 100, SIGKILL));
  const auto gone = send(ChildExited{100, killed(SIGKILL)});
  ASSERT_TRUE(first_of<Exit>(gone));
  EXPECT_EQ(first_of<Exit>(gone)->code, kExitForcedStop);
}

TEST_F(SupervisorTest, StopTimeoutEscalatesToSigkill) {
  serve_first();
  send(SignalReceived{SIGINT});
  EXPECT_TRUE(sends(send(TimerFired{{TimerKind::stop_deadline, 0}}), 100, SIGKILL));
  EXPECT_EQ(first_of<Exit>(send(ChildExited{100, killed(SIGKILL)}))->code, kExitForcedStop);
}

TEST_F(SupervisorTest, StopDuringARestartStopsTheCandidateAndReportsTheRestartFailed) {
  serve_first();
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200});
  const auto stop = send(SignalReceived{SIGTERM});
  EXPECT_TRUE(sends(stop, 100, SIGTERM));
  EXPECT_TRUE(sends(stop, 200, SIGTERM));
  ASSERT_TRUE(first_of<RestartFinished>(stop));
  EXPECT_EQ(first_of<RestartFinished>(stop)->outcome, RestartOutcome::stopped);
  EXPECT_FALSE(first_of<RestartFinished>(stop)->serving) << "nothing serves once it stops";
  EXPECT_FALSE(first_of<RestartFinished>(stop)->serving_pid);
  EXPECT_TRUE(all_of<SpawnChild>(send(SignalReceived{SIGHUP})).empty()) << "no restart now";
}

TEST_F(SupervisorTest, StopWhileNothingRunsExitsAtOnce) {
  serve_first();
  send(ChildExited{100, exited(1)});  // waiting for the backoff
  const auto stop = send(SignalReceived{SIGTERM});
  ASSERT_TRUE(first_of<Exit>(stop));
  EXPECT_EQ(first_of<Exit>(stop)->code, kExitOk);
}

TEST_F(SupervisorTest, ForwardsDocumentedSignalsToTheServingGeneration) {
  serve_first();
  EXPECT_TRUE(sends(send(SignalReceived{SIGUSR1}), 100, SIGUSR1));
  EXPECT_TRUE(sends(send(SignalReceived{SIGWINCH}), 100, SIGWINCH));
  EXPECT_TRUE(sends(send(SignalReceived{SIGTTIN}), 100, SIGTTIN));
  EXPECT_TRUE(sends(send(SignalReceived{SIGTTOU}), 100, SIGTTOU));
}

TEST_F(SupervisorTest, ARestartSignalOfOnesChoiceRestartsAndHupIsThenIgnored) {
  // --restart-signal USR1: for setups where SIGHUP is taken (a terminal that closes, a process
  // manager that sends it for its own reasons).
  config_.restart_signal = SIGUSR1;
  serve_first();
  const auto hup = send(SignalReceived{SIGHUP});
  EXPECT_FALSE(sends(hup, 100, SIGHUP)) << "taken by a terminal or a process manager: ignored";
  EXPECT_FALSE(first_of<RestartStarted>(hup));
  const auto usr1 = send(SignalReceived{SIGUSR1});
  ASSERT_TRUE(first_of<RestartStarted>(usr1));
  EXPECT_FALSE(sends(usr1, 100, SIGUSR1));
  ASSERT_TRUE(first_of<SpawnChild>(usr1));
  EXPECT_EQ(first_of<SpawnChild>(usr1)->generation, 2u);
}

TEST_F(SupervisorTest, Sigusr2IsNotForwarded) {
  // It upgrades reuserun itself (the event loop's business): the children never see it.
  serve_first();
  const auto usr2 = send(SignalReceived{SIGUSR2});
  EXPECT_TRUE(all_of<SignalGroup>(usr2).empty());
  EXPECT_FALSE(first_of<Exit>(usr2));
}

TEST_F(SupervisorTest, SettledOnlyWhenNothingIsStartingOrStopping) {
  EXPECT_TRUE(supervisor_->settled());  // nothing at all yet
  send(StartRequested{});
  EXPECT_FALSE(supervisor_->settled());  // spawn asked for
  send(ChildSpawned{1, 100});
  EXPECT_FALSE(supervisor_->settled());  // gating
  send(GatePassed{1});
  EXPECT_TRUE(supervisor_->settled());
  send(SignalReceived{SIGHUP});
  EXPECT_FALSE(supervisor_->settled());
  start_serving(2, 200);
  EXPECT_TRUE(supervisor_->settled()) << "generation 1 drains: only a timer is left";
  send(SignalReceived{SIGTERM});
  EXPECT_FALSE(supervisor_->settled());
}

TEST_F(SupervisorTest, ARestoredSupervisorCarriesOnWhereTheSnapshotWasTaken) {
  serve_first();
  send(SignalReceived{SIGHUP});
  start_serving(2, 200);  // generation 1 (pid 100) drains
  const SupervisorSnapshot snapshot = supervisor_->snapshot();
  ASSERT_EQ(snapshot.children.size(), 2u);
  EXPECT_EQ(snapshot.serving, 2u);
  EXPECT_EQ(snapshot.next_generation, 3u);

  Supervisor restored(config_, snapshot);
  EXPECT_EQ(restored.serving(), 2u);
  EXPECT_EQ(restored.children().at(WorkerKey{1}).phase, Phase::draining);
  EXPECT_TRUE(restored.settled());
  // The drain deadline armed before the snapshot still kills the old generation.
  EXPECT_TRUE(sends(restored.handle(TimerFired{{TimerKind::drain_deadline, 1}}), 100, SIGKILL));
  restored.handle(ChildExited{100, killed(SIGKILL)});
  // The next restart is generation 3, and drains generation 2.
  const auto restart = restored.handle(SignalReceived{SIGHUP});
  ASSERT_TRUE(first_of<SpawnChild>(restart));
  EXPECT_EQ(first_of<SpawnChild>(restart)->generation, 3u);
  restored.handle(ChildSpawned{3, 300});
  EXPECT_TRUE(sends(restored.handle(GatePassed{3}), 200, SIGTERM));
  // A crash of the serving generation is respawned after the backoff.
  const auto crash = restored.handle(ChildExited{300, killed(SIGSEGV)});
  EXPECT_TRUE(arms(crash, TimerKind::backoff, 0, config_.backoff_initial));
}

// A restore and a snapshot walk one description (SupervisorSnapshot::describe): every field,
// set to something other than its default, comes back.
TEST_F(SupervisorTest, ARestoredSupervisorGivesBackEveryFieldOfItsSnapshot) {
  SupervisorSnapshot in;
  in.next_generation = 5;
  in.serving = 4;
  in.ever_ready = true;
  in.failures_in_a_row = 2;
  in.repairs_in_a_row = {{0, 1}, {1, 3}};
  in.children = {{3, 300, Phase::draining, 0, 7, {}}, {4, 400, Phase::serving, 0, 8, "epoll"}};
  in.armed = {{TimerKind::drain_deadline, 3, 0}, {TimerKind::stable, 4, 0}};
  const SupervisorSnapshot out = Supervisor(config_, in).snapshot();
  std::size_t checked = 0;
  for_each_zipped(
      [&](auto sent, auto received, auto initial) {
        EXPECT_NE(sent.value, initial.value) << sent.name << ": left at its default here";
        EXPECT_EQ(sent.value, received.value) << sent.name << ": not given back";
        ++checked;
      },
      in.fields(), out.fields(), SupervisorSnapshot{}.fields());
  EXPECT_EQ(checked, kFieldCount<SupervisorSnapshot>);
}

TEST_F(SupervisorTest, ATimerNotInTheSnapshotDoesNothingAfterARestore) {
  serve_first();
  send(SignalReceived{SIGHUP});
  start_serving(2, 200);
  SupervisorSnapshot snapshot = supervisor_->snapshot();
  snapshot.armed.clear();
  Supervisor restored(config_, snapshot);
  EXPECT_TRUE(restored.handle(TimerFired{{TimerKind::drain_deadline, 1}}).empty());
}

TEST_F(SupervisorTest, ExitOfAnUnknownPidIsIgnored) {
  serve_first();
  EXPECT_TRUE(send(ChildExited{4242, exited(0)}).empty());
  EXPECT_EQ(supervisor_->serving(), 1u);
}

}  // namespace
}  // namespace reuserun

// ---- --workers ----

namespace reuserun {
namespace {

class WorkersTest : public SupervisorTest {
 protected:
  // Generation 1 with `workers` workers (pids 100, 101, ...) serving.
  void serve_workers(Slot workers, Slot max_surge = 1) {
    config_.workers = workers;
    config_.max_surge = max_surge;
    supervisor_ = std::make_unique<Supervisor>(config_);
    const auto start = send(StartRequested{});
    ASSERT_EQ(all_of<SpawnChild>(start).size(), workers) << "a first start starts them all";
    for (Slot slot = 0; slot < workers; ++slot)
      send(ChildSpawned{1, static_cast<pid_t>(100 + slot), slot});
    for (Slot slot = 0; slot + 1 < workers; ++slot) {
      const auto ready = send(GatePassed{1, slot});
      EXPECT_FALSE(first_of<ServiceReady>(ready)) << "not before every worker is ready";
    }
    EXPECT_TRUE(first_of<ServiceReady>(send(GatePassed{1, workers - 1})));
    EXPECT_EQ(supervisor_->serving(), 1u);
  }
  static std::vector<Slot> spawned_slots(const Actions& actions) {
    std::vector<Slot> slots;
    for (const auto& spawn : all_of<SpawnChild>(actions)) slots.push_back(spawn.slot);
    return slots;
  }
};

TEST_F(WorkersTest, ARestartReplacesOneWorkerAtATimeOldOnlyAfterNewIsReady) {
  serve_workers(3);
  EXPECT_EQ(spawned_slots(send(SignalReceived{SIGHUP})), std::vector<Slot>{0});
  send(ChildSpawned{2, 200, 0});
  const auto first = send(GatePassed{2, 0});
  EXPECT_TRUE(sends(first, 100, SIGTERM)) << "slot 0's old worker drains";
  EXPECT_FALSE(sends(first, 101, SIGTERM));
  EXPECT_EQ(spawned_slots(first), std::vector<Slot>{1});
  EXPECT_FALSE(first_of<RestartFinished>(first));
  send(ChildSpawned{2, 201, 1});
  EXPECT_EQ(spawned_slots(send(GatePassed{2, 1})), std::vector<Slot>{2});
  send(ChildSpawned{2, 202, 2});
  const auto last = send(GatePassed{2, 2});
  EXPECT_TRUE(sends(last, 102, SIGTERM));
  ASSERT_TRUE(first_of<RestartFinished>(last));
  EXPECT_TRUE(first_of<RestartFinished>(last)->succeeded());
  EXPECT_EQ(supervisor_->serving(), 2u);
}

TEST_F(WorkersTest, MaxSurgeStartsThatManyNewWorkersAtOnce) {
  serve_workers(4, 2);
  EXPECT_EQ(spawned_slots(send(SignalReceived{SIGHUP})), (std::vector<Slot>{0, 1}));
  send(ChildSpawned{2, 200, 0});
  send(ChildSpawned{2, 201, 1});
  EXPECT_EQ(spawned_slots(send(GatePassed{2, 1})), std::vector<Slot>{2});
}

TEST_F(WorkersTest, AFailedNewWorkerStopsTheRolloutAndTheOtherSlotsKeepTheirOldWorkers) {
  serve_workers(3);
  send(SignalReceived{SIGHUP});
  send(ChildSpawned{2, 200, 0});
  send(GatePassed{2, 0});  // slot 0 replaced
  send(ChildSpawned{2, 201, 1});
  const auto failed = send(ChildExited{201, exited(1)});
  ASSERT_TRUE(first_of<RestartFinished>(failed));
  EXPECT_EQ(first_of<RestartFinished>(failed)->outcome, RestartOutcome::exited);
  EXPECT_TRUE(all_of<SpawnChild>(failed).empty()) << "slot 2 is not started";
  EXPECT_FALSE(sends(failed, 101, SIGTERM));
  EXPECT_FALSE(sends(failed, 102, SIGTERM));
  EXPECT_FALSE(sends(failed, 200, SIGTERM)) << "the new worker that was ready keeps its slot";
  EXPECT_EQ(supervisor_->serving(), 1u);
  EXPECT_EQ(supervisor_->children().at(WorkerKey{2, 0}).phase, Phase::serving);
}

TEST_F(WorkersTest, ACrashedWorkerIsRespawnedAloneAfterABackoff) {
  serve_workers(3);
  const auto crash = send(ChildExited{101, killed(SIGSEGV)});
  EXPECT_TRUE(all_of<SpawnChild>(crash).empty());
  const auto timer = first_of<ArmTimer>(crash);
  ASSERT_TRUE(timer);
  EXPECT_EQ(timer->id, (TimerId{TimerKind::repair, 1, 1}));
  EXPECT_EQ(spawned_slots(send(TimerFired{timer->id})), std::vector<Slot>{1});
  send(ChildSpawned{1, 111, 1});
  const auto ready = send(GatePassed{1, 1});
  EXPECT_TRUE(all_of<SignalGroup>(ready).empty()) << "nobody else is touched";
  EXPECT_EQ(supervisor_->children().at(WorkerKey{1, 1}).phase, Phase::serving);
  EXPECT_EQ(supervisor_->serving(), 1u);
}

TEST_F(WorkersTest, WhenTheLastWorkerIsGoneAWholeGenerationIsStarted) {
  serve_workers(2);
  send(ChildExited{100, exited(1)});
  const auto last = send(ChildExited{101, exited(1)});
  EXPECT_TRUE(arms(last, TimerKind::backoff, 0, 100ms)) << "the respawn backoff, as with one";
}

TEST_F(WorkersTest, StopReachesEveryWorker) {
  serve_workers(3);
  const auto stop = send(SignalReceived{SIGTERM});
  for (pid_t pid : {100, 101, 102}) EXPECT_TRUE(sends(stop, pid, SIGTERM)) << pid;
  send(ChildExited{100, exited(0)});
  send(ChildExited{101, exited(0)});
  EXPECT_TRUE(first_of<Exit>(send(ChildExited{102, exited(0)})));
}

}  // namespace
}  // namespace reuserun
