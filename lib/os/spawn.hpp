// Starting a child process. spawn.cpp is the only file that includes Boost.Process; this header
// keeps it out of everyone else's way.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "child_env.hpp"
#include "result.hpp"

struct sock_fprog;

namespace boost::asio {
class io_context;
}

namespace reuserun {

inline constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START
inline constexpr std::size_t kMaxListeners = 64;

struct SpawnRequest {
  std::string executable;         // the resolved path given to execve
  std::vector<std::string> argv;  // verbatim, argv[0] included
  ChildEnv* env = nullptr;        // built before fork; LISTEN_PID is written in the child
  std::vector<int> listen_fds;    // become fds 3, 4, ... in this order
  bool die_with_parent = true;    // PR_SET_PDEATHSIG(SIGTERM)
  // Who the child runs as (--user/--group): groups, then gid, then uid are set before exec.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<gid_t> groups;  // the supplementary groups, set exactly when uid or gid is
  std::string directory;      // --chdir; empty: reuserun's own
  // The bind takeover (bind_takeover.hpp): installed before the identity changes, its
  // notification fd (or the kernel's errno) sent on `takeover_report`. nullptr: none.
  const sock_fprog* takeover_filter = nullptr;
  int takeover_report = -1;
};

// Forks and execs. In the child: default signal dispositions and an empty mask, its own process
// group, PR_SET_PDEATHSIG(SIGTERM) unless turned off, the listeners at fds 3.., every other fd
// closed at exec, LISTEN_PID = its own pid. Returns once execve has succeeded (the pid) or failed
// (the errno of the child's setup or execve is the error's code). The exit status of the child
// (and of a child whose exec failed) is left to the Reaper.
Result<pid_t> spawn_process(boost::asio::io_context& io, const SpawnRequest& request);

}  // namespace reuserun
