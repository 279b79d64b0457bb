#include "notify_channels.hpp"

#include <boost/asio/post.hpp>
#include <optional>

#include "log.hpp"
#include "procfs.hpp"

namespace reuserun {

void NotifyChannels::attach(WorkerKey worker, pid_t pid, std::unique_ptr<NotifySocket> socket) {
  Channel& channel = channels_[worker];
  channel.socket = std::move(socket);
  channel.pid = pid;
  channel.socket->receive(
      [this, worker](const NotifyDatagram& datagram) { on_datagram(worker, datagram); });
}

bool NotifyChannels::watch(WorkerKey worker, Watcher watcher) {
  const auto it = channels_.find(worker);
  if (it == channels_.end()) return false;
  it->second.watcher = std::move(watcher);
  return it->second.spoke;
}

void NotifyChannels::forget(WorkerKey worker) {
  const auto it = channels_.find(worker);
  if (it == channels_.end()) return;
  std::shared_ptr<NotifySocket> closing(std::move(it->second.socket));
  boost::asio::post(io_, [closing] {});
  channels_.erase(it);
}

NotifySocket* NotifyChannels::socket(WorkerKey worker) const {
  const auto it = channels_.find(worker);
  return it == channels_.end() ? nullptr : it->second.socket.get();
}

bool NotifyChannels::may_log(Channel& channel) {
  const auto now = std::chrono::steady_clock::now();
  if (now - channel.second_began >= std::chrono::seconds(1)) {
    channel.second_began = now;
    channel.lines_this_second = 0;
  }
  if (channel.lines_this_second >= kLinesPerSecond) {
    ++channel.left_out;
    return false;
  }
  ++channel.lines_this_second;
  if (channel.left_out > 0) {
    log_info("pid {}: {} sd_notify status line{} not logged (at most {} a second)", channel.pid,
             channel.left_out, channel.left_out == 1 ? "" : "s", kLinesPerSecond);
    channel.left_out = 0;
  }
  return true;
}

void NotifyChannels::on_datagram(WorkerKey worker, const NotifyDatagram& datagram) {
  const Generation generation = worker.generation;
  const auto it = channels_.find(worker);
  if (it == channels_.end()) return;
  Channel& channel = it->second;
  if (!is_descendant(datagram.pid, channel.pid)) {
    log_debug(
        "generation {}: ignored an sd_notify message from pid {}, which is not one of its "
        "processes",
        generation, datagram.pid);
    return;
  }
  channel.spoke = channel.spoke || !only_watchdog(datagram.fields);
  std::optional<bool> pinged;  // WATCHDOG=trigger
  for (const auto& [key, value] : datagram.fields) {
    if (key == "WATCHDOG" && (value == "1" || value == "trigger"))
      pinged = pinged.value_or(false) || value == "trigger";
    if (key == "STATUS") {
      if (value == channel.last_status) continue;
      channel.last_status = value;
      if (may_log(channel))
        log_info("generation {} (pid {}) status: {}", generation, datagram.pid, value);
    } else if (key == "STOPPING" && value == "1") {
      if (may_log(channel))
        log_info("generation {} (pid {}) says it is stopping", generation, datagram.pid);
    } else {
      log_debug("generation {} (pid {}) sd_notify {}={}", generation, datagram.pid, key, value);
    }
  }
  if (channel.watcher) {
    const Watcher watcher = channel.watcher;  // it may unwatch itself
    watcher(datagram.fields);
  }
  if (pinged) pinged_(worker, *pinged);
}

}  // namespace reuserun
