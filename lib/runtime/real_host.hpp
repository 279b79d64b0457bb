// The Host (host.hpp) that the system gives: fork and exec (spawn.hpp), waitid (reaper.hpp),
// kill, /proc, sd_notify, Asio's signal set and its clock.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "host.hpp"
#include "file_watch.hpp"
#include "leftovers.hpp"
#include "orphan_drain.hpp"

namespace reuserun {

class RealHost final : public Host {
 public:
  RealHost();

  boost::asio::io_context& io() override { return io_; }
  Clock::time_point now() const override { return Clock::now(); }
  pid_t self() const override { return self_; }
  void watch_signals(SignalHandler handler) override;
  void start_watchdog() override;

  Result<pid_t> spawn(const SpawnRequest& request) override;
  Reaper& reaper() override { return reaper_; }
  void signal_worker(pid_t leader, int sig) override;
  void kill_group(pid_t leader) override;

  Result<std::unique_ptr<NotifySocket>> open_notify(NotifyOwner owner) override;
  const SystemdNotifier& systemd() const override { return systemd_; }
  const SystemView& system() const override { return real_system(); }

  void child_reaped(pid_t pid) override { leftovers_.reaped(pid); }
  pid_t left_holding(WorkerKey worker, const std::vector<pid_t>& known,
                     const std::set<ino_t>& sockets) override {
    return leftovers_.holding(worker, known, sockets);
  }
  void end_leftovers_of(WorkerKey worker, pid_t leader, const std::vector<pid_t>& known) override {
    leftovers_.end_of(worker, leader, known);
  }
  void end_leftovers_of_gone(const std::function<bool(WorkerKey)>& running,
                             const std::vector<pid_t>& known) override {
    leftovers_.end_of_gone(running, known);
  }
  void signal_leftovers(int sig, const std::vector<pid_t>& known) override {
    leftovers_.signal_all(sig, known);
  }
  Sweep sweep_leftovers(const std::vector<pid_t>& known, bool kill, bool give_up) override {
    return leftovers_.sweep(known, kill, give_up);
  }

  void prepare_crash_recovery(const CrashRecoveryPlan& plan) override {
    arm_crash_recovery(plan);
  }
  void end_crash_recovery() override { disarm_crash_recovery(); }
  void note_next_generation(Generation next) override { reuserun::note_next_generation(next); }
  // The generation a killed reuserun left (orphans.hpp), found before the loop started.
  void adopt_orphans(std::vector<Orphan> orphans) { orphans_.adopt(std::move(orphans)); }
  void drain_orphans(int sig, Duration timeout) override { orphans_.begin(sig, timeout); }
  bool watch_files(const std::vector<std::string>& paths, Duration settle,
                   std::function<void(const std::string&)> changed) override {
    return files_.start(paths, settle, std::move(changed));
  }
  Error exec_new_image(const std::string& executable, const std::vector<std::string>& argv,
                       int handover_fd, const std::vector<int>& inherited) override;

 private:
  void wait_for_signal();
  void ping_watchdog();

  pid_t self_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  SignalHandler on_signal_;
  SystemdNotifier systemd_ = SystemdNotifier::from_environment();
  Reaper reaper_{[](pid_t, ExitStatus) {}};
  Leftovers leftovers_;
  OrphanDrain orphans_{io_};
  FileWatch files_{io_};
  // systemd's watchdog for reuserun itself (WATCHDOG_USEC): pinged at half the interval.
  struct WatchdogPing {
    boost::asio::steady_timer timer;
    Duration every;
  };
  std::optional<WatchdogPing> watchdog_;
};

}  // namespace reuserun
