#include "timer_table.hpp"

namespace reuserun {

void TimerTable::arm(TimerId id, Duration after) {
  Armed& armed = armed_[id];
  if (!armed.timer) armed.timer = std::make_unique<boost::asio::steady_timer>(io_);
  armed.serial = ++serial_;
  armed.timer->expires_after(after);
  armed.timer->async_wait([this, id, serial = armed.serial](boost::system::error_code error) {
    const auto it = armed_.find(id);
    if (error || it == armed_.end() || it->second.serial != serial) return;
    armed_.erase(it);
    fired_(id);
  });
}

std::optional<TimerTable::Clock::time_point> TimerTable::expiry(TimerId id) const {
  const auto it = armed_.find(id);
  if (it == armed_.end()) return std::nullopt;
  return it->second.timer->expiry();
}

}  // namespace reuserun
