// The bind takeover (docs/DESIGN.md §10): a server that binds reuserun's port itself gets the
// shared socket at its own bind(), so a server that knows nothing of LISTEN_FDS runs unmodified.
//
// Each worker's child installs, just before exec, a seccomp filter that sends its tree's bind()
// and listen() calls to reuserun (user notification) and passes the notification fd back. The
// loop takes each call in turn:
//   * bind() on a port (and kind) or unix path reuserun holds: the shared socket is put under the
//     child's fd (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD) and the call returns 0. Any other bind
//     runs unchanged. The sockaddr is read through the memory helper (a child's page may be its
//     own FUSE file: foreign_helper.hpp) and never more than a sockaddr_storage.
//   * listen() on a shared socket returns 0 without running: a listen(5) would shrink the
//     backlog of every generation. Any other listen runs unchanged.
// The child's socket is taken with pidfd_getfd to learn its kind, family and flags; that copy is
// closed by a helper (its last close may wait: a SO_LINGER socket).
// Which binds are taken over, and what a sockaddr says, is decided apart and without a syscall
// (takeover_decision.hpp).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "listen_spec.hpp"
#include "result.hpp"
#include "supervisor.hpp"
#include "takeover_decision.hpp"
#include "takeover_filter.hpp"
#include "unique_fd.hpp"

namespace reuserun {

// A notification, as the loop needs it (struct seccomp_notif, without the kernel's layout).
struct TrappedCall {
  std::uint64_t id = 0;
  pid_t tid = 0;  // the calling thread
  bool bind = false;  // else listen
  std::uint64_t args[3] = {};
};

class TakeoverChannels {
 public:
  struct Hooks {
    // reuserun's sockets now, in fd order, and their fds.
    std::function<std::vector<HeldSocket>()> held;
    // No generation has been ready yet (nor restarted, nor upgraded): what the takeover sets on
    // a shared socket concerns the starting generation alone.
    std::function<bool()> nothing_served;
    std::function<int(std::size_t index)> fd_of;
    // Binds listener `index` again at `address` (family, address, port): the old socket stops
    // listening. False (with the line logged) when it could not.
    std::function<bool(std::size_t index, const BindAddress& address, bool ipv6_only)> rebind;
    // The worker bound a held socket itself and got it (`where`: what it asked for).
    std::function<void(WorkerKey worker, pid_t tid, const std::string& where)> taken;
    // The worker's own bind disagrees with reuserun's socket: fail it.
    std::function<void(WorkerKey worker, const std::string& reason)> refused;
  };

  TakeoverChannels(boost::asio::io_context& io, Hooks hooks) : io_(io), hooks_(std::move(hooks)) {}

  // `bound`: what it bound itself already (an in-place upgrade carries it over).
  void attach(WorkerKey worker, UniqueFd notifications, std::string bound = "");
  void forget(WorkerKey worker);
  // For an in-place upgrade: the worker's notification fd, or -1.
  int fd(WorkerKey worker) const;
  // What the worker bound itself ("" when it took its sockets from fd 3).
  std::string bound_itself(WorkerKey worker) const;
  // For the line of a worker whose gate failed: "; it listens on 127.0.0.1:8000 itself, not on
  // reuserun's port 8080: ..." when it listened on a port of its own and took none of
  // reuserun's (`--port 8080 -- server --port 8000`), else "".
  std::string elsewhere(WorkerKey worker) const;

 private:
  struct Channel {
    std::unique_ptr<boost::asio::posix::stream_descriptor> stream;
    std::string bound;       // the first address it was given the shared socket for
    std::string elsewhere;   // the first port of its own it listened on, said if its gate fails
    bool said_flag = false;     // "the shared socket is now (non-)blocking"
    bool said_options = false;  // "set ... on its own socket"
  };
  void wait(WorkerKey worker);
  void on_readable(WorkerKey worker);
  void answer(int fd, WorkerKey worker, Channel& channel, const TrappedCall& call);
  void on_bind(int fd, WorkerKey worker, Channel& channel, const TrappedCall& call);
  void on_listen(int fd, Channel& channel, const TrappedCall& call) const;

  boost::asio::io_context& io_;
  Hooks hooks_;
  std::map<WorkerKey, Channel> channels_;
  std::map<std::size_t, bool> nonblocking_;  // per listener: what the last takeover set
};

}  // namespace reuserun
