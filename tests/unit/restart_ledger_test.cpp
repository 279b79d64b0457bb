// `ctl restart` clients and the restart history, without a socket: each client is a Reply that
// records what it was answered.
#include "restart_ledger.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace reuserun {
namespace {

using Clock = RestartLedger::Clock;

struct Answered {
  int code = -1;
  std::string text;
};

ControlServer::Reply client(std::shared_ptr<Answered> answered) {
  return ControlServer::Reply(
      [answered](int code, const std::string& text) {
        answered->code = code;
        answered->text = text;
      },
      [] { return UniqueFd(); });
}

RestartResult result(Generation generation, RestartOutcome outcome) {
  RestartResult r;
  r.generation = generation;
  r.outcome = outcome;
  return r;
}

TEST(RestartLedger, ClientsOfOneRestartGetItsResultAndLaterOnesWaitForTheNext) {
  RestartLedger ledger;
  const auto t0 = Clock::now();
  auto first = std::make_shared<Answered>();
  ledger.wait(false, client(first));
  ledger.began(2, t0);
  auto during = std::make_shared<Answered>();  // asked while generation 2 starts: waits for 3
  ledger.wait(true, client(during));
  ledger.finished(result(2, RestartOutcome::succeeded), t0 + std::chrono::milliseconds(250));
  EXPECT_EQ(first->code, 0);
  EXPECT_EQ(during->code, -1) << "not answered by a restart that began before it asked";
  ledger.began(3, t0 + std::chrono::seconds(1));
  ledger.finished(result(3, RestartOutcome::timed_out), t0 + std::chrono::seconds(2));
  EXPECT_EQ(during->code, kCtlTimedOut);
  EXPECT_EQ(during->text.front(), '{') << "asked for JSON";
}

TEST(RestartLedger, KeepsTheHistoryStatusReports) {
  RestartLedger ledger;
  const auto t0 = Clock::now();
  EXPECT_EQ(ledger.count(), 0u);
  EXPECT_FALSE(ledger.last());
  ledger.began(2, t0);
  const auto& recorded =
      ledger.finished(result(2, RestartOutcome::exited), t0 + std::chrono::milliseconds(500));
  EXPECT_EQ(recorded.duration, std::chrono::milliseconds(500));
  EXPECT_EQ(ledger.count(), 1u);
  ASSERT_TRUE(ledger.last());
  EXPECT_EQ(ledger.last()->outcome, RestartOutcome::exited);
  EXPECT_EQ(ledger.last_at(), t0 + std::chrono::milliseconds(500));
}

TEST(RestartLedger, StoppingRefusesEveryWaiterAndExitAbandonsThem) {
  RestartLedger ledger;
  auto assigned = std::make_shared<Answered>();
  auto queued = std::make_shared<Answered>();
  ledger.wait(false, client(assigned));
  ledger.began(2, Clock::now());
  ledger.wait(false, client(queued));
  ledger.refuse_all(result(0, RestartOutcome::stopped));
  EXPECT_EQ(queued->code, kCtlStopping);
  EXPECT_EQ(assigned->code, -1) << "the restart under way reports its own end";
  ledger.finished(result(2, RestartOutcome::stopped), Clock::now());
  EXPECT_EQ(assigned->code, kCtlStopping);
  auto late = std::make_shared<Answered>();
  ledger.wait(false, client(late));
  ledger.abandon("reuserun exited\n");
  EXPECT_EQ(late->code, kCtlStopping);
  EXPECT_EQ(late->text, "reuserun exited\n");
}

}  // namespace
}  // namespace reuserun
