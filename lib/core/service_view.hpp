// What the supervisor's state says about the service, as reuserun reports it: `ctl status`, the
// systemd STATUS= texts, a restart's result. Pure views of a Supervisor, so the loop reads the
// supervisor's state in a few places instead of working it out in each.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "status.hpp"
#include "supervisor.hpp"

namespace reuserun {

// The supervisor's part of `ctl status`: the state, every generation's workers, which one serves.
// now_ns: the steady clock now (ChildSpawned::at_ns's clock); restarted: a restart has been
// asked for before (a generation starting after one is no first start); bound_itself: what a
// worker bound itself and was given the shared socket for, or "" (bind_takeover.hpp).
void describe_workers(const Supervisor& supervisor, std::int64_t now_ns, bool restarted,
                      const std::function<std::string(WorkerKey)>& bound_itself, Status& out);

// The serving generation's serving workers.
std::vector<pid_t> serving_pids(const Supervisor& supervisor);

// "generation 3 (pid 4242)", "generation 3 (pids 4242, 4243)", "no generation": for logs and
// STATUS=.
std::string describe_serving(const Supervisor& supervisor);

// The workers still there: "generation 2 (pid 41), generation 3 (pid 52)".
std::string describe_workers_left(const Supervisor& supervisor);

}  // namespace reuserun
