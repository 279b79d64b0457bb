// Readiness gates: what must be true before a new generation counts as ready and the old one is
// asked to stop (docs/DESIGN.md §3). A gate is started for one generation and reports exactly once
// through its callback, passed or failed with a reason naming the gate and what it saw, unless
// it is cancelled first. The supervisor's ready deadline ends every gate: expire() turns what the
// gate saw so far into the failure reason.
//
//   auto        accept, and READY=1 as well once the generation has spoken sd_notify (default)
//   notify      READY=1 on the generation's own NOTIFY_SOCKET, from its own processes
//   accept      a connection to the shared socket accepted by the new generation's processes
//   http:PATH   the same, and a 2xx/3xx answer to GET PATH from the new generation
//   exec:CMD    a shell command that exits 0 (REUSERUN_CHILD_PID, REUSERUN_GENERATION)
//   delay:DUR   alive for DUR (the floor the peers use: einhorn, Server::Starter)
// Several gates: all must pass, checked side by side.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address.hpp"
#include "duration.hpp"
#include "exit_status.hpp"
#include "gate_spec.hpp"
#include "notify_socket.hpp"
#include "result.hpp"
#include "supervisor.hpp"
#include "system_view.hpp"

namespace boost::asio {
class io_context;
}

namespace reuserun {

struct GateSubject {
  Generation generation;
  pid_t pid;
  Slot slot = 0;  // with --workers: which worker of the generation
};

// passed: `detail` says how the gate decided ("pid 12 waits in epoll_wait", "READY=1"), for the
// log and `ctl status`; failed: why.
using GateCallback = std::function<void(bool passed, const std::string& detail)>;

class Gate {
 public:
  virtual ~Gate() = default;
  virtual void start(const GateSubject& subject, GateCallback done) = 0;
  // Stops the gate; its callback is not called afterwards.
  virtual void cancel() = 0;
  // What the gate has seen so far: "accept: 12 probes, all accepted by pid 41 (not generation 2)".
  virtual std::string progress() const = 0;
  // What the user can do about what it saw, when it knows ("GET /health answered 404: ..."):
  // the hint of a first start that fails (GateFailed::hint). "" when it has none.
  virtual std::string hint() const { return ""; }
};

// For a gate's destructor: cancel() without letting an exception out (Asio's cancel() throws only
// for a broken reactor, and a destructor must not throw).
void cancel_quietly(Gate& gate) noexcept;

// What gates need from the event loop, which owns spawning, reaping and the notify sockets.
class GateServices {
 public:
  using ExitHandler = std::function<void(const ExitStatus& status)>;
  using NotifyHandler = std::function<void(const NotifyFields& fields)>;
  virtual ~GateServices() = default;
  virtual boost::asio::io_context& io() = 0;
  // Starts `/bin/sh -c command` as the children run (identity, directory, environment) with
  // REUSERUN_CHILD_PID and REUSERUN_GENERATION naming `subject`; returns its pid.
  virtual Result<pid_t> start_probe(const std::string& command, const GateSubject& subject,
                                    ExitHandler on_exit) = 0;
  // SIGKILLs the probe's process group; its exit is not reported.
  virtual void abandon_probe(pid_t pid) = 0;
  virtual const SocketAddress& listener_address() const = 0;
  virtual ino_t listener_inode() const = 0;
  // The socket the gates look at is TCP: connections can probe it and the adoption check can
  // list listeners on its port. Otherwise (unix, datagram, seqpacket only) /proc decides alone.
  virtual bool listener_is_tcp() const = 0;
  // Each sd_notify datagram the generation's own processes send, from now on; one watcher per
  // generation; `nullptr` stops watching. True when the generation has already sent one.
  virtual bool watch_notify(WorkerKey worker, NotifyHandler handler) = 0;
  // Who holds which socket, who listens, who accepted a connection (system_view.hpp).
  virtual const SystemView& system() const = 0;
  // "pid 12 listens on 127.0.0.1:8000 itself, not on reuserun's port 8080: ..." when the worker
  // listened on a port of its own and took none of reuserun's sockets; "" otherwise.
  virtual std::string listens_elsewhere(WorkerKey /*worker*/) const { return ""; }
};

// The gate for one generation: every configured gate, then the adoption check.
std::unique_ptr<Gate> make_gate(const ReadinessConfig& config, GateServices& services);

// `auto`'s connection-free half: a thread of the generation waits on the socket (wait_gate.cpp).
std::unique_ptr<Gate> make_wait_gate(GateServices& services, const ReadinessConfig& config);

// The attributed accept gate (with an http check when http_path is set): accept_gate.cpp.
std::unique_ptr<Gate> make_accept_gate(GateServices& services, const ReadinessConfig& config,
                                       std::optional<std::string> http_path);

}  // namespace reuserun
