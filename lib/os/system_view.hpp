// What the readiness gates ask the kernel about processes and sockets (/proc and
// NETLINK_SOCK_DIAG), behind one interface: the gates are unit-tested against a fake process and
// socket table (tests/unit/gates_test.cpp), as ninja tests its build logic against an in-memory
// disk; the integration tests keep the real one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "address.hpp"
#include "result.hpp"
#include "sock_diag.hpp"
#include "socket_waiters.hpp"

namespace reuserun {

class SystemView {
 public:
  virtual ~SystemView() = default;
  // Whether /proc is there to answer the questions below (procfs.hpp proc_mounted).
  virtual bool proc_mounted() const = 0;
  // `root` and every process below it.
  virtual std::vector<pid_t> process_tree(pid_t root) const = 0;
  // Every process there is (the last resort of "who took this connection?").
  virtual std::vector<pid_t> all_processes() const = 0;
  // The first of `pids` that holds socket `inode`, or 0 (also when looking took too much).
  virtual pid_t holder_of_socket(ino_t inode, const std::vector<pid_t>& pids) const = 0;
  // sock_diag.hpp's questions.
  virtual Result<std::optional<ino_t>> accepted_inode(const SocketAddress& server,
                                                      const SocketAddress& client) const = 0;
  virtual Result<std::vector<ListeningSocket>> listening_sockets(std::uint16_t port) const = 0;
  // Whether a thread of `pids` waits for connections on socket `inode` (socket_waiters.hpp).
  virtual WaitFinding socket_waiter(const std::vector<pid_t>& pids, ino_t inode) const = 0;
};

// The kernel's answers: procfs.hpp and sock_diag.hpp.
const SystemView& real_system();

}  // namespace reuserun
