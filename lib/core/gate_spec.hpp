// What `--ready` says, as values: the gates a generation must pass and their settings, parsed
// and checked against the sockets and /proc. The gates themselves (readiness.hpp) run in the
// loop; the configuration holds only this (issue 28: config is core, the gates are runtime).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duration.hpp"

namespace reuserun {

enum class GateKind { automatic, notify, accept, http, exec, delay };

struct GateSpec {
  GateKind kind = GateKind::automatic;
  std::string argument;  // http: the path; exec: the command
  Duration delay{};      // delay: the duration
  bool operator==(const GateSpec&) const = default;
};

// "auto", "notify", "accept", "http:/health", "exec:CMD", "delay:2s"; nullopt when invalid.
std::optional<GateSpec> parse_gate_spec(std::string_view text);
std::string describe_gate_spec(const GateSpec& spec);

// accept and http probe a TCP listener: with none (only unix, udp, unix-dgram or unix-seqpacket
// sockets), the one-line usage error naming what to use instead; "" otherwise. auto then
// decides by /proc alone (wait_gate.cpp).
std::string gates_without_tcp(const std::vector<GateSpec>& gates, bool has_tcp);

// Without /proc (a chroot, the static binary) no process can be seen taking a probe: for accept
// and http the one-line usage error naming what to use instead; "" otherwise. auto then
// decides on READY=1 alone (it says so at start: auto_without_proc_notice).
std::string gates_without_proc(const std::vector<GateSpec>& gates, bool proc_mounted);
// The one line said at start when auto runs without /proc; "" when it does not.
std::string auto_without_proc_notice(const std::vector<GateSpec>& gates, bool proc_mounted);

struct ReadinessConfig {
  std::vector<GateSpec> gates{GateSpec{}};
  Duration interval = std::chrono::milliseconds(50);  // between two probes of one gate
  std::string http_host;                              // Host header; default: the address
  bool strict_adoption = false;  // fail a generation that listens on the port by itself
};

}  // namespace reuserun
