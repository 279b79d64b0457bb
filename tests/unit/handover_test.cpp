// The handover an upgrading reuserun writes for its new image: every field survives the trip,
// and anything else than this version's well-formed text is refused before it is used.
#include "handover.hpp"

#include <gtest/gtest.h>

#include "aggregate_fields.hpp"

namespace reuserun {
namespace {

Handover sample() {
  Handover handover;
  handover.started_at_ns = 1'000'000'000;
  handover.upgrade_began_ns = 5'000'000'000;
  handover.previous_executable = "/opt/reuserun 1.0/bin/reuserun";
  handover.upgrades = 2;
  handover.listeners = {{3, false, "http"}, {4, true, "admin api"}};
  handover.control_fd = 5;
  handover.control_path = "/run/reuserun/8080.sock";
  SupervisorSnapshot& supervisor = handover.supervisor;
  supervisor.next_generation = 4;
  supervisor.serving = 3;
  supervisor.ever_ready = true;
  supervisor.failures_in_a_row = 1;
  supervisor.repairs_in_a_row = {{1, 2}};
  supervisor.children = {{2, 200, Phase::draining, 0}, {3, 300, Phase::serving, 0}};
  handover.workers = {{WorkerKey{2}, {2'000'000'000, 7, "@reuserun/1/g2/ab", 10, "[::]:8000"}},
                      {WorkerKey{3}, {3'000'000'000, -1, "", -1, ""}}};
  supervisor.armed = {{TimerKind::drain_deadline, 2, 0}, {TimerKind::stable, 3, 0}};
  handover.timer_expiries_ns = {{{TimerKind::drain_deadline, 2, 0}, 9'000'000'000},
                                {{TimerKind::stable, 3, 0}, 8'000'000'000}};
  handover.restarts = 2;
  RestartResult last;
  last.generation = 3;
  last.outcome = RestartOutcome::succeeded;
  last.reason = "line one\nline two \\ with spaces";
  last.duration = std::chrono::microseconds(125'100);
  last.pids = {300, 301};
  last.pid = 300;
  last.serving = 3;
  last.serving_pid = 300;
  handover.last_restart = last;
  handover.last_restart_at_ns = 4'000'000'000;
  handover.waiters = {{9, true}};
  return handover;
}

TEST(Handover, EveryFieldSurvivesTheRoundTrip) {
  const Handover in = sample();
  const auto out = decode_handover(encode_handover(in));
  ASSERT_TRUE(out) << out.error().message;
  const Handover& h = out.value();
  EXPECT_EQ(h.started_at_ns, in.started_at_ns);
  EXPECT_EQ(h.upgrade_began_ns, in.upgrade_began_ns);
  EXPECT_EQ(h.previous_executable, in.previous_executable);
  EXPECT_EQ(h.upgrades, 2u);
  ASSERT_EQ(h.listeners.size(), 2u);
  EXPECT_EQ(h.listeners[1].fd, 4);
  EXPECT_TRUE(h.listeners[1].owns_path);
  EXPECT_EQ(h.listeners[1].name, "admin api");
  EXPECT_EQ(h.control_fd, 5);
  EXPECT_EQ(h.control_path, in.control_path);
  EXPECT_EQ(h.supervisor.next_generation, 4u);
  EXPECT_EQ(h.supervisor.serving, 3u);
  EXPECT_TRUE(h.supervisor.ever_ready);
  EXPECT_EQ(h.supervisor.failures_in_a_row, 1);
  EXPECT_EQ(h.supervisor.repairs_in_a_row, in.supervisor.repairs_in_a_row);
  ASSERT_EQ(h.supervisor.children.size(), 2u);
  EXPECT_EQ(h.supervisor.children[0].pid, 200);
  EXPECT_EQ(h.supervisor.children[0].phase, Phase::draining);
  EXPECT_EQ(h.supervisor.children[1].pid, 300);
  ASSERT_EQ(h.workers.size(), 2u);
  EXPECT_EQ(h.workers.at(WorkerKey{2}).notify_fd, 7);
  EXPECT_EQ(h.workers.at(WorkerKey{2}).notify_address, "@reuserun/1/g2/ab");
  EXPECT_EQ(h.workers.at(WorkerKey{3}).notify_fd, -1);
  EXPECT_EQ(h.workers.at(WorkerKey{3}).notify_address, "");
  EXPECT_EQ(h.workers.at(WorkerKey{2}).takeover_fd, 10);
  EXPECT_EQ(h.workers.at(WorkerKey{2}).bound_itself, "[::]:8000");
  EXPECT_EQ(h.workers.at(WorkerKey{3}).takeover_fd, -1);
  ASSERT_EQ(h.supervisor.armed.size(), 2u);
  EXPECT_EQ(h.supervisor.armed[0], (TimerId{TimerKind::drain_deadline, 2, 0}));
  EXPECT_EQ(h.supervisor.armed[1].kind, TimerKind::stable);
  EXPECT_EQ(h.timer_expiries_ns.at(h.supervisor.armed[0]), 9'000'000'000);
  EXPECT_EQ(h.restarts, 2u);
  ASSERT_TRUE(h.last_restart);
  EXPECT_EQ(h.last_restart->reason, in.last_restart->reason);
  EXPECT_EQ(h.last_restart->pids, in.last_restart->pids);
  EXPECT_EQ(h.last_restart->duration, std::chrono::microseconds(125'100));
  EXPECT_EQ(h.last_restart->serving_pid, 300);
  EXPECT_EQ(h.last_restart_at_ns, in.last_restart_at_ns);
  ASSERT_EQ(h.waiters.size(), 1u);
  EXPECT_EQ(h.waiters[0].fd, 9);
  EXPECT_TRUE(h.waiters[0].json);
  EXPECT_EQ(encode_handover(h), encode_handover(in));
}

// The fuzzer's finding (tests/fuzz/seeds/handover-roundtrip-0f500649, less its selector byte): a
// restart of 125100 us was kept as 0.1251 s and re-encoded as 125099, one microsecond shorter at
// every upgrade. The reason's NUL bytes travel untouched.
TEST(Handover, ARestartDurationAndAReasonWithNulBytesSurviveTwoRoundTrips) {
  const std::string reason = "a " + std::string(20, '\0') + "b";
  const std::string text = "reuserun-handover 1\nstarted 1\nupgrade 2 0 /bin/x\nlistener 3 0 http\n"
                           "control 5 /runsock\nsupervisor 4 3 1 0\nrepairs 0 1\n"
                           "worker 3 0 300 serving 3 -1 \\e\n"
                           "worker 0 0 200 draining 2 7 @reuserun/1/g\ntimer stable 3 0 9\n"
                           "restarts 2\nlast-restart 3 succeeded 125100 43 0 300 300,301 a\\s" +
                           std::string(20, '\0') + "b\nwaiter 9 1\nend\n";
  const auto first = decode_handover(text);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first.value().last_restart);
  EXPECT_EQ(first.value().last_restart->duration, std::chrono::microseconds(125'100));
  EXPECT_EQ(first.value().last_restart->reason, reason);
  const std::string encoded = encode_handover(first.value());
  EXPECT_EQ(encoded, text);
  const auto second = decode_handover(encoded);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(encode_handover(second.value()), encoded);
}

// The supervisor's snapshot is described once (SupervisorSnapshot::describe), and encode and
// decode walk that description. Here each described field is set in the sample (one left at its
// default would go unchecked) and comes back; a field of SupervisorSnapshot left out of the
// description does not compile (kFieldCount).
TEST(Handover, EveryDescribedFieldOfTheSupervisorIsSetInTheSampleAndComesBack) {
  const Handover in = sample();
  const auto out = decode_handover(encode_handover(in));
  ASSERT_TRUE(out) << out.error().message;
  std::size_t checked = 0;
  for_each_zipped(
      [&](auto sent, auto received, auto initial) {
        EXPECT_NE(sent.value, initial.value) << sent.name << ": the sample leaves it at its default";
        EXPECT_EQ(sent.value, received.value) << sent.name << ": lost in the handover";
        ++checked;
      },
      in.supervisor.fields(), out.value().supervisor.fields(), SupervisorSnapshot{}.fields());
  EXPECT_EQ(checked, kFieldCount<SupervisorSnapshot>);
}

// The description counts against the compiler's count of the fields (aggregate_fields.hpp).
struct TwoNumbersAndAList {
  int first = 0;
  std::optional<Generation> second;
  std::vector<ChildState> list;
};
static_assert(kFieldCount<TwoNumbersAndAList> == 3);
static_assert(kFieldCount<HandedWorker> == 5);
static_assert(kFieldCount<Handover> == 14, "a member that is itself a struct counts once");

TEST(Handover, AnotherVersionIsRefusedAndNamed) {
  std::string text = encode_handover(sample());
  text.replace(0, text.find('\n'), "reuserun-handover 2");
  const auto decoded = decode_handover(text);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().message,
            "handover format version 2 is not supported: this reuserun reads version 1 only");
}

TEST(Handover, SomethingElseIsRefused) {
  for (const char* text : {"", "hello\n", "reuserun-handover\n", "reuserun-handover x\n",
                           "reuserun-handover 1 extra\n"}) {
    const auto decoded = decode_handover(text);
    ASSERT_FALSE(decoded) << text;
    EXPECT_NE(decoded.error().message.find("not a reuserun handover"), std::string::npos);
  }
}

TEST(Handover, ATruncatedOrMalformedHandoverIsRefusedNamingTheLine) {
  std::string text = encode_handover(sample());
  const auto truncated = decode_handover(text.substr(0, text.rfind("end")));
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("truncated"), std::string::npos);

  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"worker 3 0 300 serving", "worker 3 0 300 starting"},  // would need its gate
           {"worker 3 0 300 serving", "worker 3 0 300 dancing"},
           {"timer stable", "timer snooze"},
           {"listener 3 0 http", "listener -3 0 http"},
           {"restarts 2", "restarts 2 3"},
           {"restarts 2", "restarts two"},
           {"control 5 /run", "control 5 \\q/run"},
           {"restarts 2", "unknown 2"},
           {"takeover 2 0 10", "takeover 5 0 10"},  // no such worker
           {"takeover 2 0 10", "takeover 2 0 -1"}}) {
    std::string changed = text;
    ASSERT_NE(changed.find(from), std::string::npos) << from;
    changed.replace(changed.find(from), from.size(), to);
    const auto decoded = decode_handover(changed);
    ASSERT_FALSE(decoded) << to;
    EXPECT_NE(decoded.error().message.find("malformed handover line"), std::string::npos) << to;
  }
  EXPECT_FALSE(decode_handover(text + "extra\n"));
}

TEST(Handover, OneWithoutListenersIsRefused) {
  Handover empty = sample();
  empty.listeners.clear();
  const auto decoded = decode_handover(encode_handover(empty));
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("no listening socket"), std::string::npos);
}

}  // namespace
}  // namespace reuserun
