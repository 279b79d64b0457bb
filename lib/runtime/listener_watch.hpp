// Watching the shared sockets (docs/DESIGN.md §2), once a second:
//   * is every listener still listening (SO_ACCEPTCONN)? A process that shutdown()s the shared
//     socket breaks it for every holder: a new socket replaces it, and a restart hands it over;
//   * does anyone else listen on its port with a socket of its own (SO_REUSEPORT, same uid)? It
//     takes a share of the connections: reported once.
// The event loop owns the listeners and decides what a replacement means (hooks).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "listener.hpp"

namespace reuserun {

class ListenerWatch {
 public:
  struct Hooks {
    std::function<bool()> paused;                // reuserun is stopping: nothing to watch
    std::function<bool(pid_t)> in_a_generation;  // the adoption check reports those
    std::function<std::string()> describe_serving;
    std::function<void(const std::string& where)> replaced;  // listeners[i] is a new socket
    std::function<void(const std::string& where)> replace_failed;
  };

  ListenerWatch(boost::asio::io_context& io, std::vector<Listener>& listeners, int backlog,
                bool ipv6_only, Hooks hooks);
  void start();
  // One round of checks, now (the timer calls it; tests may too).
  void check();

 private:
  using Clock = std::chrono::steady_clock;
  void replace(std::size_t index);
  void report_strays();
  struct Stray {
    ino_t inode;
    SocketAddress address;
    bool udp;
  };
  void name_strays(const std::vector<Stray>& fresh);

  boost::asio::steady_timer timer_;
  std::vector<Listener>& listeners_;
  int backlog_;
  bool ipv6_only_;
  Hooks hooks_;
  std::optional<Clock::time_point> last_replacement_;
  std::set<ino_t> reported_strays_;
  std::size_t unnamed_strays_ = 0;  // not yet said
  std::optional<Clock::time_point> last_unnamed_report_;
};

}  // namespace reuserun
