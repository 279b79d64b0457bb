#include "restart_ledger.hpp"

#include <utility>

namespace reuserun {

void RestartLedger::wait(bool json, ControlServer::Reply reply) {
  waiters_.push_back({std::nullopt, json, std::move(reply)});
}

void RestartLedger::began(Generation generation, Clock::time_point now) {
  began_ = now;
  for (auto& waiter : waiters_)
    if (!waiter.generation) waiter.generation = generation;
}

const RestartResult& RestartLedger::finished(RestartResult result, Clock::time_point now) {
  if (began_) result.duration = std::chrono::duration_cast<std::chrono::microseconds>(now - *began_);
  began_.reset();
  last_ = std::move(result);
  last_at_ = now;
  ++count_;
  answer(*last_, true);
  return *last_;
}

void RestartLedger::refuse_all(const RestartResult& result) { answer(result, false); }

void RestartLedger::abandon(const std::string& text) {
  for (auto& waiter : std::exchange(waiters_, {})) waiter.reply(kCtlStopping, text);
}

void RestartLedger::restore(unsigned long count, std::optional<RestartResult> last,
                            Clock::time_point last_at) {
  count_ = count;
  last_ = std::move(last);
  last_at_ = last_at;
}

// Answers the waiters of result.generation, or (only_assigned false) also those still waiting
// for a restart to begin. Taken out of the list first: an answer may queue a new waiter.
void RestartLedger::answer(const RestartResult& result, bool only_assigned) {
  std::vector<Waiter> answering;
  std::erase_if(waiters_, [&](Waiter& waiter) {
    const bool mine = waiter.generation ? *waiter.generation == result.generation : !only_assigned;
    if (mine) answering.push_back(std::move(waiter));
    return mine;
  });
  for (auto& waiter : answering)
    waiter.reply(ctl_exit_code(result.outcome),
                 waiter.json ? render_restart_json(result) : render_restart_text(result));
}

}  // namespace reuserun
