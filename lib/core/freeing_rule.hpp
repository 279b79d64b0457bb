// Which holders of a port reuserun may ask to leave (docs/DESIGN.md §1): a pure decision over
// what /proc says about each holder and about reuserun itself, so every branch is a unit test.
//
// reuserun usually runs as root, and a mistyped port must not take down sshd, a resolver or
// another team's service. So the rule frees only what is plausibly ours, and decides for every
// holder before any is signalled: if one must be spared, none is signalled.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reuserun {

// --free-port=MODE
enum class FreePortMode {
  safe,   // what is plausibly ours (the rule below); the default
  force,  // any holder but PID 1 and reuserun's own tree
  off,    // nobody: a busy port fails the start (--no-free-port)
};
std::optional<FreePortMode> parse_free_port_mode(std::string_view text);
std::string_view free_port_mode_name(FreePortMode mode);

// The environment variable every child gets: the TCP and UDP ports of its reuserun, "8080,53". An
// orphan left by a crashed reuserun still carries it in /proc/PID/environ.
inline constexpr std::string_view kPortsMarker = "REUSERUN_PORTS";

// What /proc says about one process (read by read_process_facts, procfs.hpp).
struct ProcessFacts {
  pid_t pid = 0;
  uid_t uid = 0;                        // real uid
  bool namespace_init = false;          // PID 1 of its own pid namespace (NSpid ends in 1)
  std::string user_ns, pid_ns, net_ns;  // readlink of /proc/PID/ns/*: "net:[4026531840]"
  std::string cgroup;                   // the unified hierarchy's path ("0::"), else name=systemd's
  std::vector<std::uint16_t> marked_ports;  // from kPortsMarker in its environment
  bool parent_is_reuserun = false;          // its parent's comm starts with "reuserun"
};

// Who reuserun is.
struct SelfFacts {
  ProcessFacts self;
  uid_t invoking_uid = 0;       // our uid, or SUDO_UID when root runs us through sudo
  std::vector<pid_t> own_tree;  // ourselves, our ancestors and our descendants
};

struct FreeingVerdict {
  bool may_signal = false;
  std::string reason;  // why it may be freed, or why it is spared
  std::string unit;    // the systemd service it belongs to, for the way out
};

// An orphan of an earlier reuserun for `port`: it carries the port in REUSERUN_PORTS, its parent
// is no reuserun, and it is no PID 1, not in reuserun's own tree and in reuserun's namespaces.
bool is_reuserun_orphan(const ProcessFacts& holder, const SelfFacts& self, std::uint16_t port);

// The decision for one holder of `port`.
FreeingVerdict judge_holder(const ProcessFacts& holder, const SelfFacts& self, FreePortMode mode,
                            std::uint16_t port);

// Parsers of /proc text, for read_process_facts and the tests.
std::string cgroup_path(std::string_view proc_cgroup);  // /proc/PID/cgroup
std::string_view cgroup_unit(
    std::string_view path);  // "/system.slice/ssh.service/x" -> path up to ssh.service
bool is_namespace_init(std::string_view proc_status);                    // /proc/PID/status NSpid
std::vector<std::uint16_t> marked_ports(std::string_view proc_environ);  // NUL-separated

}  // namespace reuserun
