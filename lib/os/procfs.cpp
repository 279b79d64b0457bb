#include "procfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <sstream>

#include "foreign_helper.hpp"
#include "socket_waiters.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

// A field of /proc/PID/status, "" when absent.
std::string status_field(pid_t pid, std::string_view key, const std::string& proc_root) {
  std::istringstream status(read_file(proc_root + "/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
      return line.substr(key.size() + 1);
  return "";
}

}  // namespace

bool proc_mounted(const std::string& proc_root) {
  struct statfs about {};
  return ::statfs(proc_root.c_str(), &about) == 0 && about.f_type == PROC_SUPER_MAGIC &&
         ::access((proc_root + "/self/stat").c_str(), R_OK) == 0;
}

std::vector<pid_t> list_pids(const std::string& proc_root) {
  std::vector<pid_t> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(proc_root.c_str()), ::closedir);
  if (!dir) return pids;
  while (const dirent* entry = ::readdir(dir.get())) {
    pid_t pid = 0;
    if (parse_number(std::string_view(entry->d_name), pid) && pid > 0) pids.push_back(pid);
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

// The socket inodes among a process's fds.
std::vector<ino_t> socket_inodes(pid_t pid, const std::string& proc_root) {
  std::vector<ino_t> inodes;
  const std::string fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(fd_dir.c_str()), ::closedir);
  if (!dir) return inodes;  // gone, or another user's process
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    char target[64];
    const std::string link = fd_dir + "/" + entry->d_name;
    const ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
    if (length <= 0) continue;
    if (const ino_t inode =
            socket_inode_of_link(std::string_view(target, static_cast<std::size_t>(length))))
      inodes.push_back(inode);
  }
  return inodes;
}

uid_t real_uid(pid_t pid, const std::string& proc_root) {
  std::istringstream fields(status_field(pid, "Uid", proc_root));
  uid_t uid = 0;
  fields >> uid;
  return uid;
}

pid_t parent_pid(pid_t pid, const std::string& proc_root) {
  std::istringstream fields(status_field(pid, "PPid", proc_root));
  pid_t parent = 0;
  fields >> parent;
  return parent;
}

pid_t thread_group_of(pid_t tid, const std::string& proc_root) {
  std::istringstream fields(status_field(tid, "Tgid", proc_root));
  pid_t process = 0;
  fields >> process;
  return process;
}

std::string process_text(pid_t pid, const char* name, std::size_t limit,
                         const std::string& proc_root) {
  const UniqueFd dir(::open((proc_root + "/" + std::to_string(pid)).c_str(),
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return "";
  return memory_helper().read_text(dir.get(), name, limit).value_or("");
}

std::string command_line(pid_t pid, const std::string& proc_root) {
  std::string text = process_text(pid, "cmdline", 4096, proc_root);
  while (!text.empty() && text.back() == '\0') text.pop_back();
  std::replace(text.begin(), text.end(), '\0', ' ');
  constexpr std::size_t kMaxLength = 200;
  if (text.size() > kMaxLength) text = text.substr(0, kMaxLength) + "...";
  // Its owner chose every byte: escaped before it can reach a log (issue 25, finding 5).
  return text.empty() ? "?" : escape_foreign(text);
}

namespace {

// The parent from /proc/PID/stat ("pid (comm) state ppid ..."), read with one read(2) into a
// stack buffer: the notify channel asks this for every datagram of a sender it does not know.
pid_t parent_from_stat(pid_t pid, const std::string& proc_root) {
  const std::string path = proc_root + "/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd == -1) return 0;
  char buffer[512];
  const ssize_t length = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (length <= 0) return 0;
  const std::string_view text(buffer, static_cast<std::size_t>(length));
  const auto close_paren = text.rfind(')');  // comm may hold spaces and parentheses
  if (close_paren == std::string_view::npos || close_paren + 4 >= text.size()) return 0;
  std::string_view rest = text.substr(close_paren + 4);  // past ") S "
  rest = rest.substr(0, rest.find(' '));
  pid_t parent = 0;
  return parse_number(rest, parent) ? parent : 0;
}


// Past this many threads a process's children are found from every process's parent instead of
// one file per thread: a child with 10000 threads made each walk 10000 reads on the loop thread
// (`ctl status` 250 ms and more, attack review of issue 25); the scan costs what the machine's
// process count does, once per walk.
constexpr std::size_t kThreadsToList = 64;

// The children of every thread of `pid`, from /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN);
// nullopt when the kernel does not provide them or the process has too many threads to list
// (`*too_many` set).
std::optional<std::vector<pid_t>> listed_children(pid_t pid, const std::string& proc_root,
                                                  bool* too_many) {
  const std::string tasks = proc_root + "/" + std::to_string(pid) + "/task";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(tasks.c_str()), ::closedir);
  if (!dir) return std::nullopt;
  std::vector<std::string> threads;
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    if (threads.size() == kThreadsToList) {
      *too_many = true;
      return std::nullopt;
    }
    threads.emplace_back(entry->d_name);
  }
  std::vector<pid_t> children;
  bool found = false;
  for (const std::string& thread : threads) {
    std::string file = tasks;
    file.append("/").append(thread).append("/children");
    if (::access(file.c_str(), R_OK) != 0) continue;
    found = true;
    std::istringstream list(read_file(file));
    for (pid_t child = 0; list >> child;) children.push_back(child);
  }
  if (!found) return std::nullopt;
  return children;
}

// Every process's children, from a scan of all of /proc.
std::map<pid_t, std::vector<pid_t>> children_by_scan(const std::string& proc_root) {
  std::map<pid_t, std::vector<pid_t>> children;
  for (pid_t pid : list_pids(proc_root)) children[parent_pid(pid, proc_root)].push_back(pid);
  return children;
}

// The fallback where the kernel lists no children.
std::vector<pid_t> process_tree_by_scan(pid_t root, const std::string& proc_root) {
  std::map<pid_t, std::vector<pid_t>> children = children_by_scan(proc_root);
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size(); ++i)
    for (pid_t child : children[tree[i]]) tree.push_back(child);
  return tree;
}

}  // namespace

// Walks down from the root through the kernel's children lists: cost grows with the tree, not
// with the machine (the readiness gates call this for every probe).
std::vector<pid_t> process_tree(pid_t root, const std::string& proc_root) {
  std::vector<pid_t> tree{root};
  std::optional<std::map<pid_t, std::vector<pid_t>>> scanned;
  for (std::size_t i = 0; i < tree.size(); ++i) {
    bool too_many = false;
    const auto children = listed_children(tree[i], proc_root, &too_many);
    if (too_many) {
      if (!scanned) scanned = children_by_scan(proc_root);
      const auto found = scanned->find(tree[i]);
      if (found != scanned->end())
        tree.insert(tree.end(), found->second.begin(), found->second.end());
      continue;
    }
    if (!children) {
      if (i == 0 && ::access((proc_root + "/" + std::to_string(root)).c_str(), F_OK) == 0)
        return process_tree_by_scan(root, proc_root);
      continue;  // exited meanwhile
    }
    tree.insert(tree.end(), children->begin(), children->end());
  }
  return tree;
}


bool is_descendant(pid_t pid, pid_t ancestor, const std::string& proc_root) {
  constexpr int kMaxDepth = 64;
  for (int depth = 0; pid > 1 && depth < kMaxDepth; ++depth) {
    if (pid == ancestor) return true;
    pid = parent_from_stat(pid, proc_root);
  }
  return pid == ancestor && pid > 0;
}

namespace {

// Whether `pid` holds socket `inode`: its fds newest first (a connection just accepted usually
// has the highest number), so a server with thousands of fds is found at once, not at the end of
// the budget (attack review of issue 25: 6000 fds were never attributed, never ready).
bool holds_socket(pid_t pid, ino_t inode, const std::string& proc_root, ReadBudget* budget) {
  const std::string fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
  if (budget != nullptr && !budget->spend(1)) return false;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(fd_dir.c_str()), ::closedir);
  if (!dir) return false;  // gone, or another user's process
  std::vector<int> fds;
  while (const dirent* entry = ::readdir(dir.get())) {
    int fd = 0;
    if (parse_number(std::string_view(entry->d_name), fd)) fds.push_back(fd);
  }
  std::sort(fds.rbegin(), fds.rend());
  for (const int fd : fds) {
    if (budget != nullptr && !budget->spend(1)) return false;
    char target[64];
    const ssize_t length =
        ::readlinkat(::dirfd(dir.get()), std::to_string(fd).c_str(), target, sizeof target - 1);
    if (length > 0 && socket_inode_of_link(std::string_view(
                          target, static_cast<std::size_t>(length))) == inode)
      return true;
  }
  return false;
}

}  // namespace

pid_t holder_of_socket(ino_t inode, const std::vector<pid_t>& pids, const std::string& proc_root,
                       ReadBudget* budget) {
  for (pid_t pid : pids) {
    if (budget != nullptr && budget->spent()) break;
    if (holds_socket(pid, inode, proc_root, budget)) return pid;
  }
  return 0;
}

std::map<ino_t, pid_t> holders_of_sockets(const std::set<ino_t>& inodes,
                                          const std::vector<pid_t>& pids,
                                          const std::string& proc_root) {
  std::map<ino_t, pid_t> holders;
  for (pid_t pid : pids) {
    if (holders.size() == inodes.size()) break;
    for (ino_t inode : socket_inodes(pid, proc_root))
      if (inodes.contains(inode)) holders.emplace(inode, pid);
  }
  return holders;
}

ProcessFacts read_process_facts(pid_t pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  ProcessFacts facts;
  facts.pid = pid;
  facts.uid = real_uid(pid, proc_root);
  facts.namespace_init = is_namespace_init(read_file(dir + "/status"));
  const auto link = [&](const char* name) {
    char target[128];
    const ssize_t length = ::readlink((dir + "/ns/" + name).c_str(), target, sizeof target);
    return length > 0 ? std::string(target, static_cast<std::size_t>(length)) : std::string();
  };
  facts.user_ns = link("user");
  facts.pid_ns = link("pid");
  facts.net_ns = link("net");
  facts.cgroup = cgroup_path(read_file(dir + "/cgroup"));
  facts.marked_ports = marked_ports(process_text(pid, "environ", kEnvironLimit, proc_root));
  const pid_t parent = parent_pid(pid, proc_root);
  std::string parent_name = read_file(proc_root + "/" + std::to_string(parent) + "/comm");
  while (!parent_name.empty() && parent_name.back() == '\n') parent_name.pop_back();
  // "reuserun", or "reuserun-static" (the container binary): a live reuserun's child is no orphan.
  facts.parent_is_reuserun = parent > 0 && parent_name.starts_with("reuserun");
  return facts;
}

std::string read_file_prefix_at(int dir, const std::string& name, std::size_t limit) {
  std::string content;
  const UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return content;
  char buffer[4096];
  while (content.size() < limit) {
    const ssize_t got = ::read(fd.get(), buffer, std::min(sizeof buffer, limit - content.size()));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    content.append(buffer, static_cast<std::size_t>(got));
  }
  return content;
}

}  // namespace reuserun
