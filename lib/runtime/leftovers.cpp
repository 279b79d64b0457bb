#include "leftovers.hpp"

#include <algorithm>
#include <csignal>
#include <string>

#include "foreign_helper.hpp"
#include "log.hpp"
#include "procfs.hpp"
#include "signal_name.hpp"

namespace reuserun {

std::vector<pid_t> Leftovers::not_strays(const std::vector<pid_t>& known) {
  std::vector<pid_t> ours = known;
  for (ForeignHelper* helper : {&memory_helper(), &notify_helper(), &socket_helper()})
    if (helper->helper() != 0) ours.push_back(helper->helper());
  return ours;
}

// Pinned, and still reparented to reuserun when the signal goes.
bool Leftovers::signal_stray(pid_t pid, int sig) const {
  return signal_pinned(pid, sig, [&] { return parent_pid(pid) == self_; });
}

// A command that daemonizes (fork, setsid, fork, exit 0) leaves a process holding the shared
// socket once its leader is gone: reparented to reuserun, the subreaper, with the worker's
// REUSERUN_GENERATION and REUSERUN_WORKER. 0 when nothing holds it. A stray whose environment
// does not say (a daemon started through `env -i` or sudo) counts too: the attack review's
// daemon left seven copies serving otherwise.
pid_t Leftovers::holding(WorkerKey worker, const std::vector<pid_t>& known,
                         const std::set<ino_t>& sockets) {
  std::vector<pid_t> tree;
  for (const Stray& stray : strays(not_strays(known), cache_))
    if (!stray.worker ||
        *stray.worker == std::pair<unsigned long, unsigned>(worker.generation, worker.slot))
      for (const pid_t pid : process_tree(stray.pid)) tree.push_back(pid);
  if (tree.empty()) return 0;
  const auto holders = holders_of_sockets(sockets, tree);
  return holders.empty() ? 0 : holders.begin()->second;
}

void Leftovers::end_of(WorkerKey worker, pid_t leader, const std::vector<pid_t>& known) {
  for (const pid_t orphan :
       orphans_of_worker(worker.generation, worker.slot, not_strays(known), cache_))
    if (signal_stray(orphan, SIGKILL))
      log_info("sent SIGKILL to pid {}, left behind by generation {} (pid {})", orphan,
               worker.generation, leader);
}

// What a worker that has exited started is reparented to reuserun one process at a time: the
// daemon's grandchild only once its parent exits. Each goes when it arrives.
void Leftovers::end_of_gone(const std::function<bool(WorkerKey)>& running,
                            const std::vector<pid_t>& known) {
  for (const Stray& stray : strays(not_strays(known), cache_)) {
    if (!stray.worker) continue;  // whose it is cannot be told: it goes when reuserun stops
    const auto [generation, slot] = *stray.worker;
    if (running(WorkerKey{generation, slot})) continue;
    if (signal_stray(stray.pid, SIGKILL))
      log_info("sent SIGKILL to pid {}, left behind by generation {}", stray.pid, generation);
  }
}

// On stop, what the generations left behind is asked to stop with them.
void Leftovers::signal_all(int sig, const std::vector<pid_t>& known) {
  for (const Stray& stray : strays(not_strays(known), cache_))
    if (stray.worker && signal_stray(stray.pid, sig))
      log_info("sent {} to pid {}, left behind by generation {}", signal_name(sig), stray.pid,
               stray.worker->first);
}

// Nothing of any generation outlives reuserun: every descendant but the helpers gets SIGKILL,
// the whole tree at once: one level at a time, a chain of 300 outran the deadline, and a process
// stuck in D state kept its children from ever being reparented (attack review of issue 27).
Host::Sweep Leftovers::sweep(const std::vector<pid_t>& known, bool kill, bool give_up) {
  const std::vector<pid_t> helpers = not_strays(known);
  std::vector<pid_t> left;
  bool direct = false;
  for (const pid_t pid : process_tree(self_)) {
    if (pid == self_ || std::find(helpers.begin(), helpers.end(), pid) != helpers.end()) continue;
    left.push_back(pid);
    direct = direct || parent_pid(pid) == self_;
  }
  if (!direct || give_up) {
    if (!left.empty())
      log_warn("{} process{} below reuserun did not exit after SIGKILL", left.size(),
               left.size() == 1 ? "" : "es");
    return {true, false};
  }
  if (!kill) return {};
  std::string named;
  std::size_t count = 0;
  for (const pid_t pid : left) {
    if (killed_at_exit_.contains(pid)) continue;
    if (!signal_pinned(pid, SIGKILL, [&] { return is_descendant(pid, self_); })) continue;
    killed_at_exit_.insert(pid);
    if (++count <= 10) named += (named.empty() ? "" : ", ") + std::to_string(pid);
  }
  if (count > 0)
    log_warn("{} process{} left behind by the generations still running after every "
             "generation exited: SIGKILL (pid{} {}{})",
             count, count == 1 ? "" : "es", count == 1 ? "" : "s", named,
             count > 10 ? ", ..." : "");
  return {false, count > 0};
}

}  // namespace reuserun
