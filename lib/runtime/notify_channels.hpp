// Every worker's sd_notify channel (notify_socket.hpp), and what reuserun does with what arrives:
// only the worker's own process tree is heard (its parent chain, checked on the kernel's word);
// READY=1 goes to whoever watches the worker (its readiness gate); WATCHDOG=1 and
// WATCHDOG=trigger to the supervisor (--watchdog); STATUS= and STOPPING=1 go to the log;
// MAINPID= (reuserun supervises the process it started), WATCHDOG_USEC= (the interval is
// reuserun's --watchdog), FDSTORE= and the rest are ignored on purpose.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "notify_socket.hpp"
#include "supervisor.hpp"

namespace reuserun {

class NotifyChannels {
 public:
  using Watcher = std::function<void(const NotifyFields& fields)>;
  // WATCHDOG=1 (trigger false) or WATCHDOG=trigger from `worker`'s processes.
  using Pinged = std::function<void(WorkerKey worker, bool trigger)>;

  NotifyChannels(boost::asio::io_context& io, Pinged pinged)
      : io_(io), pinged_(std::move(pinged)) {}

  // The channel (opened before the child, whose environment names it) of `worker`, whose leader
  // is `pid`, from now on.
  void attach(WorkerKey worker, pid_t pid, std::unique_ptr<NotifySocket> socket);
  // Each datagram the worker's processes send, from now on (nullptr: no longer). True when the
  // worker has spoken already.
  bool watch(WorkerKey worker, Watcher watcher);
  // The channel of a worker that is gone is closed (later: this may run inside one of its own
  // handlers).
  void forget(WorkerKey worker);
  // For an in-place upgrade: the socket of `worker`, or nullptr.
  NotifySocket* socket(WorkerKey worker) const;

 private:
  // STATUS= and STOPPING=1 lines in the log: a child that sent 4 KB datagrams of STATUS= lines
  // wrote 1.18 million lines (100 MB) in 6 s (attack review of issue 25). A repeated value is
  // not logged again; at most kLinesPerSecond lines a second per worker, and how many were left
  // out is said with the next line logged.
  static constexpr int kLinesPerSecond = 10;
  struct Channel {
    std::unique_ptr<NotifySocket> socket;
    pid_t pid = 0;
    bool spoke = false;
    Watcher watcher;
    std::string last_status;
    std::chrono::steady_clock::time_point second_began{};
    int lines_this_second = 0;
    long left_out = 0;
  };
  // Whether `channel` may log one more line now (counting it, or the one left out).
  static bool may_log(Channel& channel);
  void on_datagram(WorkerKey worker, const NotifyDatagram& datagram);

  boost::asio::io_context& io_;
  Pinged pinged_;
  std::map<WorkerKey, Channel> channels_;
};

}  // namespace reuserun
