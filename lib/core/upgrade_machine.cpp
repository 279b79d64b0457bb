#include "upgrade_machine.hpp"

#include <fmt/format.h>

#include "exit_code.hpp"

namespace reuserun {

UpgradeMachine::Decision UpgradeMachine::requested(bool stopping) {
  if (stopping) return {Step::refuse, "reuserun is stopping", kCtlStopping};
  if (under_way()) return {Step::join, "", 0};
  phase_ = Phase::checking;
  waiting_reported_ = false;
  return {Step::start_check, "", 0};
}

UpgradeMachine::Decision UpgradeMachine::check_ended(const ExitStatus& status,
                                                     const std::string& executable) {
  if (phase_ != Phase::checking) return {};
  if (status.succeeded()) {
    phase_ = Phase::settling;
    return {Step::wait_to_settle, "", 0};
  }
  const int code = status.code().value_or(-1);
  const char* why = code == kExitHandover ? " (it cannot take over this reuserun's handover)"
                    : code == kExitUsage  ? " (it refuses this command line, or it is a "
                                            "reuserun without in-place upgrades)"
                                          : "";
  return fail(fmt::format("the check run of {} {}{}", executable, status.describe(), why),
              kCtlUpgradeFailed);
}

UpgradeMachine::Decision UpgradeMachine::check_timed_out(const std::string& executable,
                                                         Duration limit) {
  if (phase_ != Phase::checking) return {};
  return fail(
      fmt::format("the check run of {} did not end within {}", executable, format_duration(limit)),
      kCtlUpgradeFailed);
}

UpgradeMachine::Decision UpgradeMachine::supervisor_changed(bool settled) {
  if (phase_ != Phase::settling) return {};
  if (settled) {
    phase_ = Phase::committing;
    return {Step::begin_commit, "", 0};
  }
  if (waiting_reported_) return {};
  waiting_reported_ = true;
  return {Step::report_waiting, "", 0};
}

UpgradeMachine::Decision UpgradeMachine::settle_timed_out(Duration limit) {
  if (phase_ != Phase::settling) return {};
  return fail(fmt::format("a restart or a worker start was still under way after {}",
                          format_duration(limit)),
              kCtlUpgradeFailed);
}

UpgradeMachine::Decision UpgradeMachine::commit_due(bool settled) {
  if (phase_ != Phase::committing) return {Step::unblock, "", 0};
  if (settled) return {Step::commit, "", 0};
  phase_ = Phase::settling;  // something started meanwhile: wait for it again
  waiting_reported_ = false;
  return {Step::unblock, "", 0};
}

UpgradeMachine::Decision UpgradeMachine::exec_failed(const std::string& reason) {
  return fail(reason, kCtlUpgradeFailed);
}

UpgradeMachine::Decision UpgradeMachine::stopping() {
  if (!under_way()) return {};
  return fail("reuserun is stopping", kCtlStopping);
}

UpgradeMachine::Decision UpgradeMachine::abort(const std::string& reason) {
  return fail(reason, kCtlUpgradeFailed);
}

UpgradeMachine::Decision UpgradeMachine::fail(std::string reason, int ctl_code) {
  phase_ = Phase::idle;
  return {Step::fail, std::move(reason), ctl_code};
}

}  // namespace reuserun
