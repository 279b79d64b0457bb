#include "real_host.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "group_signal.hpp"
#include "log.hpp"
#include "upgrade.hpp"

namespace reuserun {

RealHost::RealHost()
    : self_(::getpid()), signals_(io_, SIGHUP, SIGTERM, SIGINT), leftovers_(self_) {
  for (int sig : {SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU}) signals_.add(sig);
}

void RealHost::watch_signals(SignalHandler handler) {
  on_signal_ = std::move(handler);
  wait_for_signal();
}

void RealHost::wait_for_signal() {
  signals_.async_wait([this](boost::system::error_code error, int sig) {
    if (error) return;
    on_signal_(sig);
    wait_for_signal();
  });
}

// WATCHDOG=1 from the loop itself, so a loop that stops turning stops pinging and systemd acts.
void RealHost::start_watchdog() {
  const auto interval =
      watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), self_);
  if (!interval || !systemd_.enabled()) return;
  watchdog_.emplace(WatchdogPing{boost::asio::steady_timer(io_),
                                 std::max<Duration>(*interval / 2, std::chrono::milliseconds(1))});
  log_info("systemd watchdog: WATCHDOG=1 every {}", format_duration(watchdog_->every));
  ping_watchdog();
}

void RealHost::ping_watchdog() {
  systemd_.send("WATCHDOG=1");
  watchdog_->timer.expires_after(watchdog_->every);
  watchdog_->timer.async_wait([this](boost::system::error_code error) {
    if (!error) ping_watchdog();
  });
}

Result<pid_t> RealHost::spawn(const SpawnRequest& request) { return spawn_process(io_, request); }

// The leader is unreaped here (alive, or the zombie whose exit is being handled: reaper.hpp), so
// its group id is still ours.
void RealHost::signal_worker(pid_t leader, int sig) { (void)reuserun::signal_worker(leader, sig); }

void RealHost::kill_group(pid_t leader) { ::kill(-leader, SIGKILL); }

Result<std::unique_ptr<NotifySocket>> RealHost::open_notify(NotifyOwner owner) {
  return NotifySocket::open(io_, owner);
}

Error RealHost::exec_new_image(const std::string& executable, const std::vector<std::string>& argv,
                               int handover_fd, const std::vector<int>& inherited) {
  return reuserun::exec_new_image(executable, argv, handover_fd, inherited);
}

}  // namespace reuserun
