// Reading processes from /proc: pids, parents, uids, command lines, socket inodes. The root is a
// parameter so tests can lay out a fake /proc.
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "freeing_rule.hpp"
#include "read_budget.hpp"

namespace reuserun {

inline const std::string kProcRoot = "/proc";

// True when `proc_root` is a mounted procfs that shows this process (a chroot or a container
// may have none: the static binary runs there). Without it reuserun cannot see who waits on a
// socket or took a connection (issue 25, finding 11).
bool proc_mounted(const std::string& proc_root = kProcRoot);

std::vector<pid_t> list_pids(const std::string& proc_root = kProcRoot);  // sorted
pid_t parent_pid(pid_t pid, const std::string& proc_root = kProcRoot);   // 0 when gone
// The process (thread group) of thread `tid`: 0 when gone.
pid_t thread_group_of(pid_t tid, const std::string& proc_root = kProcRoot);
uid_t real_uid(pid_t pid, const std::string& proc_root = kProcRoot);
std::string command_line(pid_t pid, const std::string& proc_root = kProcRoot);  // "?" when gone

// At most `limit` bytes of /proc/PID/`name` ("environ", "cmdline": files that wait for the
// process's mmap lock), read by the helper within its deadline (foreign_helper.hpp): "" when it
// cannot be read or did not answer in time. The loop never waits on another process's lock.
inline constexpr std::size_t kEnvironLimit = std::size_t{64} * 1024;
std::string process_text(pid_t pid, const char* name, std::size_t limit,
                         const std::string& proc_root = kProcRoot);

// At most the first `limit` bytes of the file ("" when it cannot be read): for files whose size
// another process chooses.
// `name` is under the directory fd `dir` (AT_FDCWD: the working directory).
std::string read_file_prefix_at(int dir, const std::string& name, std::size_t limit);

// The inodes of the sockets among a process's fds (empty when gone or not ours to read).
std::vector<ino_t> socket_inodes(pid_t pid, const std::string& proc_root = kProcRoot);

// True when `pid` is `ancestor` or below it: a walk up the parent chain, whose cost grows with
// the depth, not with the machine.
bool is_descendant(pid_t pid, pid_t ancestor, const std::string& proc_root = kProcRoot);

// pid and every process below it.
std::vector<pid_t> process_tree(pid_t root, const std::string& proc_root = kProcRoot);

// The first process of `pids` that holds socket `inode`, or 0 (also when `budget` ran out).
pid_t holder_of_socket(ino_t inode, const std::vector<pid_t>& pids,
                       const std::string& proc_root = kProcRoot, ReadBudget* budget = nullptr);
// The same for several sockets in one pass over the processes (stopping once every one is
// found): a holder per inode, absent when none of `pids` holds it.
std::map<ino_t, pid_t> holders_of_sockets(const std::set<ino_t>& inodes,
                                          const std::vector<pid_t>& pids,
                                          const std::string& proc_root = kProcRoot);

// What the port-freeing rule needs to know about a process (freeing_rule.hpp). Fields that
// cannot be read (the process is gone, or /proc hides it) stay empty, which the rule treats as
// "not ours".
ProcessFacts read_process_facts(pid_t pid, const std::string& proc_root = kProcRoot);

}  // namespace reuserun
