// When an in-place upgrade may commit and how it ends, without a binary, a fork or an execve.
#include "upgrade_machine.hpp"

#include <gtest/gtest.h>

#include "control.hpp"
#include "exit_code.hpp"

namespace reuserun {
namespace {

using Step = UpgradeMachine::Step;
using Phase = UpgradeMachine::Phase;
using namespace std::chrono_literals;

ExitStatus exited(int code) { return ExitStatus::exited(code); }

// Requested and checked: waiting for the supervisor to settle.
UpgradeMachine checked() {
  UpgradeMachine machine;
  EXPECT_EQ(machine.requested(false).step, Step::start_check);
  EXPECT_EQ(machine.check_ended(exited(0), "/new").step,
            Step::wait_to_settle);
  return machine;
}

TEST(UpgradeMachine, ARequestStartsTheCheckAndASecondOneJoinsIt) {
  UpgradeMachine machine;
  EXPECT_EQ(machine.requested(false).step, Step::start_check);
  EXPECT_EQ(machine.phase(), Phase::checking);
  EXPECT_EQ(machine.requested(false).step, Step::join);
}

TEST(UpgradeMachine, NothingStartsWhileReuserunStops) {
  UpgradeMachine machine;
  const auto refused = machine.requested(true);
  EXPECT_EQ(refused.step, Step::refuse);
  EXPECT_EQ(refused.ctl_code, kCtlStopping);
  EXPECT_FALSE(machine.under_way());
}

TEST(UpgradeMachine, AFailedCheckSaysWhyAndLeavesNothingUnderWay) {
  UpgradeMachine machine;
  machine.requested(false);
  const auto failed = machine.check_ended(exited(kExitHandover), "/new");
  EXPECT_EQ(failed.step, Step::fail);
  EXPECT_EQ(failed.ctl_code, kCtlUpgradeFailed);
  EXPECT_EQ(failed.reason,
            "the check run of /new exited with status 6 (it cannot take over this reuserun's "
            "handover)");
  EXPECT_FALSE(machine.under_way());
  EXPECT_EQ(machine.requested(false).step, Step::start_check) << "a new request starts over";
}

TEST(UpgradeMachine, ACheckThatHangsFailsAtItsDeadline) {
  UpgradeMachine machine;
  machine.requested(false);
  const auto failed = machine.check_timed_out("/new", 10s);
  EXPECT_EQ(failed.step, Step::fail);
  EXPECT_EQ(failed.reason, "the check run of /new did not end within 10s");
  EXPECT_EQ(machine.check_timed_out("/new", 10s).step, Step::none) << "a stale deadline";
}

TEST(UpgradeMachine, ItCommitsOnlyOnceTheSupervisorIsSettledAndStillIsWhenDue) {
  UpgradeMachine machine = checked();
  EXPECT_EQ(machine.supervisor_changed(false).step, Step::report_waiting);
  EXPECT_EQ(machine.supervisor_changed(false).step, Step::none) << "said once";
  EXPECT_EQ(machine.supervisor_changed(true).step, Step::begin_commit);
  EXPECT_EQ(machine.phase(), Phase::committing);
  // A restart began during the last turn of the loop: back to waiting, signals unblocked.
  EXPECT_EQ(machine.commit_due(false).step, Step::unblock);
  EXPECT_EQ(machine.phase(), Phase::settling);
  EXPECT_EQ(machine.supervisor_changed(false).step, Step::report_waiting);
  EXPECT_EQ(machine.supervisor_changed(true).step, Step::begin_commit);
  EXPECT_EQ(machine.commit_due(true).step, Step::commit);
}

TEST(UpgradeMachine, NotSettledInTimeStoppingOrAFailedExecveEndIt) {
  UpgradeMachine settling = checked();
  EXPECT_EQ(settling.settle_timed_out(31s).reason,
            "a restart or a worker start was still under way after 31s");
  UpgradeMachine stopping = checked();
  const auto stopped = stopping.stopping();
  EXPECT_EQ(stopped.step, Step::fail);
  EXPECT_EQ(stopped.ctl_code, kCtlStopping);
  EXPECT_EQ(UpgradeMachine().stopping().step, Step::none) << "nothing under way";
  UpgradeMachine committing = checked();
  committing.supervisor_changed(true);
  const auto failed = committing.exec_failed("Failed to execute /new: Permission denied");
  EXPECT_EQ(failed.step, Step::fail);
  EXPECT_FALSE(committing.under_way());
}

}  // namespace
}  // namespace reuserun
