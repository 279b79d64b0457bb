// The generation a killed reuserun left (orphans.hpp), and after a crash the children whose
// worker the new image cannot tell, drained once this reuserun's own generation serves: the stop
// signal to each, SIGKILL to those still there after the timeout. Orphans are not reuserun's
// children (no SIGCHLD): their pidfds turn readable when they exit, looked at every 100 ms.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <vector>

#include "duration.hpp"
#include "orphans.hpp"

namespace reuserun {

class OrphanDrain {
 public:
  explicit OrphanDrain(boost::asio::io_context& io) : timer_(io) {}
  void adopt(std::vector<Orphan> orphans) { orphans_ = std::move(orphans); }
  // Once: later calls (a stop after the drain began) change nothing.
  void begin(int sig, Duration timeout);

 private:
  void look();

  std::vector<Orphan> orphans_;
  bool begun_ = false;
  std::chrono::steady_clock::time_point deadline_;
  boost::asio::steady_timer timer_;
};

}  // namespace reuserun
