// Signalling a worker: its process group, and the descendants that left the group (setsid, or
// setpgid to a group of their own), which a signal to the group alone would miss.
//
// Only what is ours: the group is signalled while its leader is unreaped (alive, or a zombie whose
// exit is being handled, reaper.hpp), so its id names no one else's group; every other process is
// pinned with a pidfd and checked again before it is signalled. What still escapes: a descendant
// whose parent chain was cut (its parent exited) while reuserun is neither PID 1 nor a subreaper:
// it is reparented to init, and nothing ties it to its generation any more.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace reuserun {

// kill(-leader, sig), then `sig` to each descendant of `leader` outside its group. Returns how
// many processes outside the group were signalled.
std::size_t signal_worker(pid_t leader, int sig);

// A process reparented to reuserun (as PID 1 or a subreaper: reuserun is both by default), and
// the worker it was started for, as its environment says (REUSERUN_GENERATION,
// REUSERUN_WORKER); nullopt when it does not say (a cleared environment).
struct Stray {
  pid_t pid = 0;
  std::optional<std::pair<unsigned long, unsigned>> worker;  // generation, slot
};
// What is known of reuserun's children: a child's pid names no one else until reuserun reaps
// it, so its environment is read once (a read that stalls costs the helper's deadline once, not
// at every look: attack review of issue 27) and forgotten when it is reaped.
using StrayCache = std::map<pid_t, Stray>;

// reuserun's own children but those in `exclude` (the workers, probes and helpers it started).
std::vector<Stray> strays(const std::vector<pid_t>& exclude, StrayCache& known);

// The strays started for worker `slot` of `generation`.
std::vector<pid_t> orphans_of_worker(unsigned long generation, unsigned slot,
                                     const std::vector<pid_t>& exclude, StrayCache& known);

// `sig` to `pid` through a pidfd, once `still_ours()` holds for the pinned process (a pid read
// from /proc may have been recycled before the pidfd was opened).
bool signal_pinned(pid_t pid, int sig, const std::function<bool()>& still_ours);

}  // namespace reuserun
