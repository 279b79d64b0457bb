// When an in-place upgrade may commit, what it waits for, and how it ends, as a pure state
// machine (the syscalls are event_loop_upgrade.cpp's and upgrade.hpp's):
//
//   idle --request--> checking --check passed--> settling --supervisor settled--> committing
//     committing --still settled when due--> (execve: this image is gone)
//     committing --something started meanwhile--> settling
//   any phase but idle --check failed, a deadline, stopping, execve failed--> idle (failed)
//
// Why settling: the handover describes workers that run, serve or drain and wait for nothing
// but their timers; a worker still starting would need its gate handed over too.
#pragma once

#include <string>

#include "duration.hpp"
#include "exit_status.hpp"

namespace reuserun {

class UpgradeMachine {
 public:
  enum class Phase { idle, checking, settling, committing };

  // What the event loop must do now.
  enum class Step {
    none,
    refuse,          // this request fails at once (reuserun is stopping): reason, ctl_code
    join,            // an upgrade is under way: the client waits for it too
    start_check,     // run the new binary's check (bounded: check_timed_out)
    wait_to_settle,  // arm the settling deadline (settle_timed_out)
    report_waiting,  // say once that the upgrade waits for a restart or worker start
    begin_commit,    // block the handled signals, one more turn of the loop, then commit_due
    commit,          // execve the new image
    unblock,         // a commit was not due after all: unblock the signals, keep waiting
    fail             // the upgrade failed: reason, ctl_code; this image runs on as it was
  };
  struct Decision {
    Step step = Step::none;
    std::string reason;
    int ctl_code = 0;
  };

  Phase phase() const { return phase_; }
  bool under_way() const { return phase_ != Phase::idle; }

  Decision requested(bool stopping);
  // The check run ended: exit 0 passes; other statuses fail, named (`executable` the new
  // binary).
  Decision check_ended(const ExitStatus& status, const std::string& executable);
  Decision check_timed_out(const std::string& executable, Duration limit);
  // After every event the supervisor handled: is it settled now?
  Decision supervisor_changed(bool settled);
  Decision settle_timed_out(Duration limit);
  // The turn of the loop after begin_commit.
  Decision commit_due(bool settled);
  Decision exec_failed(const std::string& reason);
  Decision stopping();
  // Failed before it could start (no binary, no handover file): back to idle.
  Decision abort(const std::string& reason);

 private:
  Decision fail(std::string reason, int ctl_code);

  Phase phase_ = Phase::idle;
  bool waiting_reported_ = false;
};

}  // namespace reuserun
