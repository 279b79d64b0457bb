// The in-place upgrade, the event loop's part (man/reuserun.1, UPGRADE): SIGUSR2 or `reuserun ctl
// upgrade` -> the new binary's check run -> wait until the supervisor is settled -> execve with
// the handover; the new image resumes from it. A failure before execve returns leaves this image
// running as it was.
#include <fcntl.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "child_env.hpp"
#include "event_loop.hpp"
#include "exit_code.hpp"
#include "log.hpp"
#include "signal_name.hpp"
#include "spawn.hpp"
#include "upgrade.hpp"

namespace reuserun {
namespace {

constexpr auto kCheckTimeout = std::chrono::seconds(10);
// With the signals blocked, one more turn of the loop: a signal that reached Asio's handler
// just before is dispatched now, not lost with this image.
constexpr auto kCommitDelay = std::chrono::milliseconds(10);

std::chrono::steady_clock::time_point time_point(std::int64_t nanoseconds) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(nanoseconds));
}

std::string render(const UpgradeResult& result, bool json) {
  return json ? render_upgrade_json(result) : render_upgrade_text(result);
}

}  // namespace

void EventLoop::request_upgrade(std::optional<UpgradeWaiter> waiter) {
  const auto decision = upgrade_.machine.requested(lifetime_.stopping);
  if (decision.step == UpgradeMachine::Step::refuse) {
    log_warn("upgrade refused: {}", decision.reason);
    if (waiter)
      waiter->reply(decision.ctl_code,
                    render(upgrade_failure(decision.reason, upgrade_.running), waiter->json));
    return;
  }
  if (waiter) upgrade_.waiters.push_back(std::move(*waiter));
  if (decision.step == UpgradeMachine::Step::join)
    return log_info("upgrade requested while one is under way: it answers both");
  upgrade_.began = host_.now();
  upgrade_.executable = config_.reexec_as.empty() ? upgrade_.running : config_.reexec_as;
  auto executable = upgrade_executable(config_.reexec_as, upgrade_.running);
  if (!executable) return carry_out(upgrade_.machine.abort(executable.error().message));
  upgrade_.executable = executable.value();
  start_upgrade_check();
}

// The new binary, run as `BINARY --upgrade-check 3 ARGS...` with a handover of the state now at
// fd 3: only whether it can take over matters. A worker still starting is left out: the commit
// waits until none is.
void EventLoop::start_upgrade_check() {
  host_.systemd().reloading("upgrading reuserun: checking " + upgrade_.executable,
                     kCheckTimeout + config_.ready_timeout + std::chrono::seconds(1));
  Handover state = handover();
  std::erase_if(state.supervisor.children,
                [](const ChildState& child) { return child.phase == Phase::starting; });
  auto file = write_handover_file(encode_handover(state));
  if (!file) return carry_out(upgrade_.machine.abort(file.error().message));
  ChildEnv env(environ, {});
  SpawnRequest check;
  check.executable = upgrade_.executable;
  check.argv = config_.arguments;
  check.argv.insert(check.argv.begin() + 1, {kUpgradeCheckOption, std::to_string(kListenFdsStart)});
  check.env = &env;
  check.listen_fds = {file.value().get()};
  const auto spawned = host_.spawn(check);
  if (!spawned)
    return carry_out(upgrade_.machine.abort(fmt::format("cannot run {}: {}", upgrade_.executable,
                                                        std::strerror(spawned.error().code))));
  log_info("upgrade: checking {} (pid {})", upgrade_.executable, spawned.value());
  upgrade_.check_pid = spawned.value();
  host_.reaper().route(spawned.value(), [this](pid_t, ExitStatus status) {
    upgrade_.check_pid = 0;
    upgrade_.timer.cancel();
    carry_out(upgrade_.machine.check_ended(status, upgrade_.executable));
  });
  upgrade_.timer.expires_after(kCheckTimeout);
  upgrade_.timer.async_wait([this](boost::system::error_code error) {
    if (!error) carry_out(upgrade_.machine.check_timed_out(upgrade_.executable, kCheckTimeout));
  });
}

// What the upgrade machine decided, done.
void EventLoop::carry_out(const UpgradeMachine::Decision& decision) {
  using Step = UpgradeMachine::Step;
  switch (decision.step) {
    case Step::wait_to_settle: {
      log_info("upgrade: {} passed its check", upgrade_.executable);
      const Duration settle = config_.ready_timeout + std::chrono::seconds(1);
      upgrade_.timer.expires_after(settle);
      upgrade_.timer.async_wait([this, settle](boost::system::error_code error) {
        if (!error) carry_out(upgrade_.machine.settle_timed_out(settle));
      });
      return commit_upgrade_when_settled();
    }
    case Step::report_waiting:
      return log_info("upgrade: waiting for the restart or worker start under way to end");
    case Step::begin_commit:
      // With the signals blocked, one more turn of the loop: a signal that reached Asio's
      // handler just before is dispatched now, not lost with this image.
      block_upgrade_signals(true);
      upgrade_.commit_timer.expires_after(kCommitDelay);
      upgrade_.commit_timer.async_wait([this](boost::system::error_code error) {
        if (!error) carry_out(upgrade_.machine.commit_due(supervisor_.settled()));
      });
      return;
    case Step::unblock:
      block_upgrade_signals(false);
      return commit_upgrade_when_settled();
    case Step::commit:
      return commit_upgrade();
    case Step::fail:
      return fail_upgrade(decision.reason, decision.ctl_code);
    case Step::none:
    case Step::refuse:
    case Step::join:
    case Step::start_check:
      return;
  }
}

// Called after every event: the upgrade commits as soon as nothing is starting.
void EventLoop::commit_upgrade_when_settled() {
  carry_out(upgrade_.machine.supervisor_changed(supervisor_.settled()));
}

void EventLoop::commit_upgrade() {
  Handover state = handover();
  std::vector<std::pair<UniqueFd, bool>> clients;  // released: the new image answers them
  for (UpgradeWaiter& waiter : upgrade_.waiters) {
    UniqueFd client = waiter.reply.release();
    if (client) clients.emplace_back(std::move(client), waiter.json);
  }
  std::vector<int> inherited;
  for (const auto& [client, json] : clients) {
    state.waiters.push_back({client.get(), json});
    inherited.push_back(client.get());
  }
  for (const HandedListener& listener : state.listeners) inherited.push_back(listener.fd);
  if (state.control_fd >= 0) inherited.push_back(state.control_fd);
  for (const auto& [key, worker] : state.workers) {
    if (worker.notify_fd >= 0) inherited.push_back(worker.notify_fd);
    if (worker.takeover_fd >= 0) inherited.push_back(worker.takeover_fd);
  }
  log_info("upgrade: executing {}; pid {}, its sockets and its children ({}) carry on",
           upgrade_.executable, host_.self(), state.supervisor.children.size());
  auto file = write_handover_file(encode_handover(state));
  const Error error =
      file ? host_.exec_new_image(upgrade_.executable, config_.arguments, file.value().get(), inherited)
           : file.error();
  // Still here: execve failed, and this image runs on.
  const auto decision = upgrade_.machine.exec_failed(error.message);
  fail_upgrade(decision.reason, decision.ctl_code, std::move(clients));
}

UpgradeResult EventLoop::upgrade_failure(const std::string& reason,
                                         const std::string& executable) const {
  UpgradeResult result;
  result.reason = reason;
  result.pid = host_.self();
  result.executable = executable;
  result.previous_executable = upgrade_.running;
  result.upgrades = upgrade_.count;
  result.serving = supervisor_.serving();
  return result;
}

// The machine is idle again: answer every client, and those already released for the new image
// (`released`: their connection and whether they asked for JSON) when execve failed.
void EventLoop::fail_upgrade(const std::string& reason, int ctl_code,
                             std::vector<std::pair<UniqueFd, bool>>&& released) {
  block_upgrade_signals(false);  // a commit may have been about to happen
  upgrade_.timer.cancel();
  upgrade_.commit_timer.cancel();
  if (upgrade_.check_pid > 0) abandon_probe(std::exchange(upgrade_.check_pid, 0));
  const auto waiters = std::exchange(upgrade_.waiters, {});
  log_error("upgrade failed: {}; this reuserun runs on as it was", reason);
  if (!lifetime_.stopping)
    host_.systemd().ready(fmt::format("upgrade failed ({}); serving: {}", reason, describe_serving()));
  UpgradeResult result = upgrade_failure(reason, upgrade_.executable);
  result.duration_seconds = std::chrono::duration<double>(host_.now() - upgrade_.began).count();
  for (const UpgradeWaiter& waiter : waiters) waiter.reply(ctl_code, render(result, waiter.json));
  for (auto& [client, json] : released)
    answer_control_client(std::move(client), ctl_code, render(result, json));
}

Handover EventLoop::handover_of_sockets() const {
  Handover out;
  out.started_at_ns = nanoseconds(lifetime_.started_at);
  out.upgrade_began_ns = nanoseconds(upgrade_.machine.under_way() ? upgrade_.began : host_.now());
  out.previous_executable = upgrade_.running;
  out.upgrades = upgrade_.count;
  for (const Listener& listener : listeners_)
    out.listeners.push_back({listener.fd(), listener.owns_path(), listener.name()});
  if (control_) {
    out.control_fd = control_->fd();
    out.control_path = control_->path();
  }
  return out;
}

Handover EventLoop::handover() const {
  Handover out = handover_of_sockets();
  out.supervisor = supervisor_.snapshot();
  for (const ChildState& child : out.supervisor.children) {
    const WorkerKey key{child.generation, child.slot};
    HandedWorker& worker = out.workers[key];
    worker.spawned_at_ns = child.spawned_at_ns;
    if (NotifySocket* socket = channels_.notify.socket(key)) {
      worker.notify_fd = socket->fd();
      worker.notify_address = socket->address();
    }
    worker.takeover_fd = channels_.takeovers.fd(key);
    worker.bound_itself = channels_.takeovers.bound_itself(key);
  }
  for (const TimerId& id : out.supervisor.armed) {
    out.timer_expiries_ns[id] = nanoseconds(timers_.expiry(id).value_or(host_.now()));
  }
  out.restarts = restarts_.count();
  out.last_restart = restarts_.last();
  out.last_restart_at_ns = nanoseconds(restarts_.last_at());
  return out;
}

// The new image: the handover's sockets are this loop's already (run.cpp); the children, their
// notify channels and timers, the counters and the waiting `ctl upgrade` clients are taken here.
void EventLoop::resume(const Handover& handover) {
  upgrade_.count = handover.upgrades + 1;
  restore(handover);
  UpgradeResult result;
  result.succeeded = true;
  result.pid = host_.self();
  result.executable = upgrade_.running;
  result.previous_executable = handover.previous_executable;
  result.duration_seconds =
      std::chrono::duration<double>(host_.now() - time_point(handover.upgrade_began_ns)).count();
  result.upgrades = upgrade_.count;
  result.serving = handover.supervisor.serving;
  log_info("upgraded in place in {}ms: pid {} runs {} (was {}); serving: {}",
           static_cast<long>(result.duration_seconds * 1000), result.pid, upgrade_.running,
           handover.previous_executable, describe_serving());
  for (const HandedWaiter& waiter : handover.waiters)
    answer_control_client(UniqueFd(waiter.fd), kExitOk, render(result, waiter.json));
  host_.systemd().ready(fmt::format("upgraded in place; serving: {}", describe_serving()));
  block_upgrade_signals(false);
  host_.reaper().reap();  // children that exited while no image was listening
}

// The children, counters and timers of a handover, for an upgrade's new image or a crash's.
void EventLoop::restore(const Handover& handover) {
  lifetime_.started_at = time_point(handover.started_at_ns);
  restarts_.restore(handover.restarts, handover.last_restart,
                    time_point(handover.last_restart_at_ns));
  // decode_handover gives every child its worker entry and every timer its expiry.
  SupervisorSnapshot snapshot = handover.supervisor;
  for (ChildState& child : snapshot.children)
    child.spawned_at_ns =
        handover.workers.at(WorkerKey{child.generation, child.slot}).spawned_at_ns;
  supervisor_ = Supervisor(supervisor_config(config_), snapshot);
  lifetime_.served = snapshot.ever_ready;
  for (const ChildState& child : handover.supervisor.children) {
    const WorkerKey key{child.generation, child.slot};
    const HandedWorker& worker = handover.workers.at(key);
    if (worker.takeover_fd >= 0) {
      (void)::fcntl(worker.takeover_fd, F_SETFD, FD_CLOEXEC);  // inherited without it
      channels_.takeovers.attach(key, UniqueFd(worker.takeover_fd), worker.bound_itself);
    }
    if (worker.notify_fd < 0) continue;
    channels_.notify.attach(key, child.pid,
                   NotifySocket::adopt(host_.io(), worker.notify_fd, worker.notify_address));
  }
  for (const TimerId& id : handover.supervisor.armed) {
    const auto expiry = time_point(handover.timer_expiries_ns.at(id));
    const auto left = std::chrono::ceil<Duration>(expiry - host_.now());
    apply(ArmTimer{id, std::max(left, Duration::zero())});
  }
}

// After a crash (crash_recovery.hpp): `handover` holds the sockets the crashed image prepared
// and the children the kernel showed (run.cpp), all serving as far as anyone can tell. None of
// the crashed image's memory is trusted: a fresh generation replaces them, as a restart does.
void EventLoop::resume_after_crash(const Handover& handover) {
  upgrade_.count = handover.upgrades;
  restore(handover);
  block_upgrade_signals(false);  // blocked by the handler across its execve
  host_.reaper().reap();         // children that exited while no image was listening
  if (handover.supervisor.children.empty()) return dispatch(StartRequested{});
  log_info("replacing the generations of the crashed image: {}", describe_serving());
  dispatch(RestartRequested{});
}

// What a crash's new image needs and the kernel will not tell it, prepared now: the handler
// may not allocate (crash_recovery.hpp).
void EventLoop::prepare_for_crash() {
  CrashRecoveryPlan plan;
  plan.argv = config_.arguments;
  const Handover sockets = handover_of_sockets();
  for (const HandedListener& listener : sockets.listeners) plan.keep_fds.push_back(listener.fd);
  if (sockets.control_fd >= 0) plan.keep_fds.push_back(sockets.control_fd);
  plan.state = encode_handover(sockets);
  plan.history = lifetime_.crashes;
  host_.prepare_crash_recovery(plan);
}

}  // namespace reuserun
