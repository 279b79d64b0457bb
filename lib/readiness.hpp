// Readiness gates: what must be true before a new generation counts as ready and the old one is
// asked to stop (DESIGN.md §3). A gate is started for one generation and reports exactly once
// through its callback, passed or failed with a reason, unless it is cancelled first. Deadlines
// are not the gate's business: the supervisor's ready_deadline timer covers every gate.
//
// This file has the two crude gates: a minimum uptime (delay) and a command that must exit 0
// (exec). The notify and attributed accept/http gates implement the same interface.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "duration.hpp"
#include "supervisor.hpp"

namespace boost::asio {
class io_context;
}

namespace reuserun {

struct GateSubject {
  Generation generation;
  pid_t pid;
};

using GateCallback = std::function<void(bool passed, const std::string& reason)>;

class Gate {
 public:
  virtual ~Gate() = default;
  virtual void start(const GateSubject& subject, GateCallback done) = 0;
  // Stops the gate; its callback is not called afterwards.
  virtual void cancel() = 0;
  // What the gate has seen so far, for the log when it is cancelled or times out.
  virtual std::string progress() const = 0;
};

// Runs helper commands for gates (the exec gate's probe). Implemented by the event loop, which
// owns spawning and reaping.
class ProbeRunner {
 public:
  using ExitHandler = std::function<void(int wait_status)>;
  virtual ~ProbeRunner() = default;
  // Starts `/bin/sh -c command` with `extra_env` added; returns its pid, or -1 with errno.
  virtual pid_t start_probe(const std::string& command,
                            const std::vector<std::pair<std::string, std::string>>& extra_env,
                            ExitHandler on_exit) = 0;
  // SIGKILLs the probe's process group; its exit is not reported.
  virtual void abandon(pid_t pid) = 0;
};

struct ReadinessConfig {
  Duration delay = std::chrono::seconds(1);            // minimum uptime
  std::string command;                                 // exec gate, empty: none
  Duration interval = std::chrono::milliseconds(100);  // between exec probes
};

// The gate for one generation: the delay, then the command (when given).
std::unique_ptr<Gate> make_gate(const ReadinessConfig& config, boost::asio::io_context& io,
                                ProbeRunner& probes);

}  // namespace reuserun
