// What `reuserun ctl status` and `reuserun ctl restart` print: plain values filled in by the event
// loop, rendered here as text for people or as JSON for scripts. The JSON schema is documented in
// man/reuserun.1 (CONTROL); its "schema" number changes when a field changes meaning or goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor.hpp"

namespace reuserun {

inline constexpr int kStatusSchema = 1;

struct GenerationStatus {
  Generation generation = 0;
  pid_t pid = 0;
  Slot worker = 0;
  Phase phase = Phase::starting;
  double uptime_seconds = 0;
  std::string ready_by;  // how its readiness gate decided; "" before, or after an upgrade
  std::string bound_itself;  // what it bound itself and was given the shared socket for, or ""
};

struct RestartResult {
  Generation generation = 0;  // 0: refused before any generation was started
  RestartOutcome outcome = RestartOutcome::succeeded;
  std::string reason;
  // Restart began -> outcome known. Whole microseconds, not a double: it crosses an in-place
  // upgrade in the handover and must come back exactly (a double of 0.1251 s re-encodes as
  // 125099 us).
  std::chrono::microseconds duration{0};
  std::optional<pid_t> pid;           // of the new generation, when it was spawned (worker 0)
  std::vector<pid_t> pids;            // of each of its workers
  std::optional<Generation> serving;  // what serves now
  std::optional<pid_t> serving_pid;
};

struct ListenerStatus {
  std::string address;  // "127.0.0.1:8080", "[::]:8080"
  std::string name;     // its LISTEN_FDNAMES entry
};

// How this reuserun came to serve what it serves, when it carried on after a crash or a kill
// (issue 29): how is "in-place" (it re-executed itself after a fatal signal), "adopted" (it took
// the socket from the children of a killed reuserun), "fd-store" (systemd gave the sockets back
// from its fd store), "rebound" (a killed reuserun's children could not be adopted: freed, and
// the port bound again). Empty: an ordinary start.
struct Recovery {
  std::string how;
  std::string detail;  // one line: "after SIGSEGV (1 in 60 s)", "from pid 4242", ...
};

struct Status {
  pid_t pid = 0;  // reuserun's
  double uptime_seconds = 0;
  std::string state;  // starting, serving, restarting, down (none serving), stopping
  std::vector<ListenerStatus> listeners;
  std::vector<GenerationStatus> generations;
  std::optional<Generation> serving;
  Slot workers = 1;            // per generation
  unsigned long restarts = 0;  // restarts that ended, either way
  std::optional<RestartResult> last_restart;
  double last_restart_seconds_ago = 0;
  unsigned long upgrades = 0;  // in-place upgrades of reuserun itself
  std::string executable;      // the binary it runs now
  Recovery recovery;
  std::vector<std::string> watching;  // --watch
  std::string restart_trigger;        // what asked for the last restart: "SIGHUP", ...
};

std::string render_status_text(const Status& status);
std::string render_status_json(const Status& status);

// The answer to `ctl restart`: one line (success on stdout, failure on stderr) or JSON.
std::string render_restart_text(const RestartResult& result);
std::string render_restart_json(const RestartResult& result);

// The answer to `ctl upgrade`.
struct UpgradeResult {
  bool succeeded = false;
  std::string reason;  // why it failed
  pid_t pid = 0;       // reuserun's, the same before and after
  std::string executable;
  std::string previous_executable;
  double duration_seconds = 0;  // requested -> the new image serves the control socket
  unsigned long upgrades = 0;   // completed, this one included
  std::optional<Generation> serving;
};
std::string render_upgrade_text(const UpgradeResult& result);
std::string render_upgrade_json(const UpgradeResult& result);

// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

}  // namespace reuserun
