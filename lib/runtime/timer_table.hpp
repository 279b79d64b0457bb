// The supervisor's timers as the event loop runs them: one Asio timer per TimerId, armed by
// ArmTimer, dropped by CancelTimer or when it fires. Each generation arms its own, so a timer is
// forgotten once it is done: keeping them would grow with every restart.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "supervisor.hpp"

namespace reuserun {

class TimerTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Fired = std::function<void(TimerId id)>;

  TimerTable(boost::asio::io_context& io, Fired fired) : io_(io), fired_(std::move(fired)) {}

  // (Re)arms `id`: an earlier arming of it never fires.
  void arm(TimerId id, Duration after);
  void cancel(TimerId id) { armed_.erase(id); }
  // When `id` will fire; nullopt when it is not armed.
  std::optional<Clock::time_point> expiry(TimerId id) const;

 private:
  struct Armed {
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::uint64_t serial = 0;  // tells a completion already queued for an earlier arming
  };
  boost::asio::io_context& io_;
  Fired fired_;
  std::map<TimerId, Armed> armed_;
  std::uint64_t serial_ = 0;
};

}  // namespace reuserun
