#include "freeing_rule.hpp"

#include <algorithm>

#include "text.hpp"

namespace reuserun {
namespace {

bool ends_with_unit_suffix(std::string_view component) {
  return component.ends_with(".service") || component.ends_with(".scope");
}

bool contains(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

FreeingVerdict spare(std::string reason, std::string unit = "") {
  return {false, std::move(reason), std::move(unit)};
}

FreeingVerdict free_it(std::string reason) { return {true, std::move(reason), ""}; }

}  // namespace

std::optional<FreePortMode> parse_free_port_mode(std::string_view text) {
  for (const auto mode : {FreePortMode::safe, FreePortMode::force, FreePortMode::off})
    if (text == free_port_mode_name(mode)) return mode;
  return std::nullopt;
}

std::string_view free_port_mode_name(FreePortMode mode) {
  switch (mode) {
    case FreePortMode::safe:
      return "safe";
    case FreePortMode::force:
      return "force";
    case FreePortMode::off:
      return "off";
  }
  return "safe";
}

std::string cgroup_path(std::string_view proc_cgroup) {
  std::string named;
  for (const std::string_view line : split(proc_cgroup, '\n')) {
    if (line.starts_with("0::")) return std::string(line.substr(3));
    if (line.find(":name=systemd:") != std::string_view::npos)
      named = std::string(line.substr(line.find(":name=systemd:") + 14));
  }
  return named;
}

std::string_view cgroup_unit(std::string_view path) {
  std::size_t end = 0;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t next = path.find('/', start);
    if (next == std::string_view::npos) next = path.size();
    if (ends_with_unit_suffix(path.substr(start, next - start))) end = next;
    start = next + 1;
  }
  return path.substr(0, end);
}

bool is_namespace_init(std::string_view proc_status) {
  for (const std::string_view line : split(proc_status, '\n')) {
    if (!line.starts_with("NSpid:")) continue;
    std::string_view ids = line.substr(6);
    while (!ids.empty() && (ids.back() == ' ' || ids.back() == '\t')) ids.remove_suffix(1);
    const auto last = ids.find_last_of(" \t");
    const std::string_view innermost = last == std::string_view::npos ? ids : ids.substr(last + 1);
    return innermost == "1";
  }
  return false;
}

std::vector<std::uint16_t> marked_ports(std::string_view proc_environ) {
  std::vector<std::uint16_t> ports;
  const std::string prefix = std::string(kPortsMarker) + "=";
  for (const std::string_view entry : split(proc_environ, '\0')) {
    if (!entry.starts_with(prefix)) continue;
    for (const std::string_view word : split(entry.substr(prefix.size()), ',')) {
      std::uint16_t port = 0;
      if (parse_number(word, port) && port != 0) ports.push_back(port);
    }
  }
  return ports;
}

bool is_reuserun_orphan(const ProcessFacts& holder, const SelfFacts& self, std::uint16_t port) {
  return holder.pid > 1 && !holder.namespace_init && !contains(self.own_tree, holder.pid) &&
         holder.user_ns == self.self.user_ns && holder.pid_ns == self.self.pid_ns &&
         holder.net_ns == self.self.net_ns && !holder.parent_is_reuserun &&
         std::find(holder.marked_ports.begin(), holder.marked_ports.end(), port) !=
             holder.marked_ports.end();
}

// The order matters: what must never be signalled first (whatever the mode), then what the safe
// rule accepts, then why the rest is spared.
FreeingVerdict judge_holder(const ProcessFacts& holder, const SelfFacts& self, FreePortMode mode,
                            std::uint16_t port) {
  if (mode == FreePortMode::off) return spare("--free-port=off");
  if (holder.pid == 0) return spare("it is not visible in /proc");
  if (holder.pid == 1 || holder.namespace_init) return spare("it is PID 1 of its namespace");
  if (contains(self.own_tree, holder.pid))
    return spare("it is part of reuserun's own process tree");
  if (mode == FreePortMode::force) return free_it("--free-port=force");
  if (holder.user_ns != self.self.user_ns || holder.pid_ns != self.self.pid_ns ||
      holder.net_ns != self.self.net_ns)
    return spare("it runs in another user, pid or network namespace (a container?)");
  const std::string_view our_unit = cgroup_unit(self.self.cgroup);
  const std::string_view its_unit = cgroup_unit(holder.cgroup);
  if (!our_unit.empty() && holder.cgroup.starts_with(our_unit) &&
      (holder.cgroup.size() == our_unit.size() || holder.cgroup[our_unit.size()] == '/'))
    return free_it("it is in reuserun's own cgroup " + std::string(our_unit));
  const bool marked = std::find(holder.marked_ports.begin(), holder.marked_ports.end(), port) !=
                      holder.marked_ports.end();
  if (marked && !holder.parent_is_reuserun)
    return free_it("it is an orphan of an earlier reuserun on port " + std::to_string(port));
  const bool other_service = its_unit.ends_with(".service");
  if (other_service) {
    const std::string unit(its_unit.substr(its_unit.rfind('/') + 1));
    return spare("it belongs to the systemd service " + unit, unit);
  }
  if (holder.uid == self.invoking_uid) return free_it("it belongs to the invoking user");
  return spare("it belongs to another user (uid " + std::to_string(holder.uid) +
               ", not the invoking uid " + std::to_string(self.invoking_uid) + ")");
}

}  // namespace reuserun
