#include "gate_spec.hpp"

namespace reuserun {

std::optional<GateSpec> parse_gate_spec(std::string_view text) {
  const std::size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  const std::string_view argument =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  const bool has_argument = colon != std::string_view::npos;
  if (name == "auto" && !has_argument) return GateSpec{GateKind::automatic, "", {}};
  if (name == "notify" && !has_argument) return GateSpec{GateKind::notify, "", {}};
  if (name == "accept" && !has_argument) return GateSpec{GateKind::accept, "", {}};
  if (name == "http" && argument.starts_with("/"))
    return GateSpec{GateKind::http, std::string(argument), {}};
  if (name == "exec" && !argument.empty())
    return GateSpec{GateKind::exec, std::string(argument), {}};
  if (name == "delay")
    if (const auto delay = parse_duration(argument)) return GateSpec{GateKind::delay, "", *delay};
  return std::nullopt;
}

std::string gates_without_tcp(const std::vector<GateSpec>& gates, bool has_tcp) {
  if (has_tcp) return "";
  for (const GateSpec& gate : gates)
    if (gate.kind == GateKind::accept || gate.kind == GateKind::http)
      return "--ready " + describe_gate_spec(gate) +
             " probes a TCP listener, and there is none (a datagram or unix socket has no "
             "connection to prove who answers): use --ready auto, notify, exec:COMMAND or "
             "delay:DURATION";
  return "";
}

std::string gates_without_proc(const std::vector<GateSpec>& gates, bool proc_mounted) {
  if (proc_mounted) return "";
  for (const GateSpec& gate : gates)
    if (gate.kind == GateKind::accept || gate.kind == GateKind::http)
      return "--ready " + describe_gate_spec(gate) +
             " needs /proc to see which process took a probe, and /proc is not mounted: mount "
             "it, or use --ready notify, exec:COMMAND or delay:DURATION";
  return "";
}

std::string auto_without_proc_notice(const std::vector<GateSpec>& gates, bool proc_mounted) {
  if (proc_mounted) return "";
  for (const GateSpec& gate : gates)
    if (gate.kind == GateKind::automatic)
      return "--ready auto: /proc is not mounted, so no process can be seen waiting on the "
             "socket: a generation is ready when it sends READY=1 (sd_notify); for a server that "
             "does not, use --ready exec:COMMAND or delay:DURATION";
  return "";
}

std::string describe_gate_spec(const GateSpec& spec) {
  switch (spec.kind) {
    case GateKind::automatic:
      return "auto";
    case GateKind::notify:
      return "notify";
    case GateKind::accept:
      return "accept";
    case GateKind::http:
      return "http:" + spec.argument;
    case GateKind::exec:
      return "exec:" + spec.argument;
    case GateKind::delay:
      return "delay:" + format_duration(spec.delay);
  }
  return "?";
}

}  // namespace reuserun
