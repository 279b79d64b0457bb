// What `reuserun ctl --json status` says, read over reuserun's control socket: the documented
// interface the integration tests assert through instead of log wording.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rrtest {

// A parsed JSON value, enough for reuserun's answers. A missing key or index reads as null.
struct Json {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json& operator[](std::string_view key) const;
  bool is_null() const { return kind == Kind::null; }
  long integer() const { return static_cast<long>(number); }
};
std::optional<Json> parse_json(std::string_view text);

struct GenerationView {
  int generation = 0;
  int worker = 0;
  pid_t pid = -1;
  std::string state;     // "starting", "serving", "draining", ...
  std::string ready_by;  // how its readiness was decided ("pid 12 waits in poll"), "" if not yet
  std::string bound_itself;  // what it bound itself and was given the shared socket for, or ""
};

struct RestartView {
  int generation = 0;
  std::string outcome;  // "succeeded", "not-ready", "exited", ...
  bool succeeded = false;
  std::string reason;
};

struct StatusView {
  std::string state;
  std::optional<int> serving;  // the serving generation
  int restarts = 0;            // restarts that ended, either way
  std::optional<RestartView> last_restart;
  int upgrades = 0;
  std::string recovery;         // "in-place", "adopted", "fd-store", "rebound"; "" for none
  std::string recovery_detail;  // "after SIGSEGV ...", "from pid 42", ...
  std::vector<std::string> watching;  // --watch
  std::string restart_trigger;        // what asked for the last restart, "" for none
  std::vector<std::string> listeners;  // their addresses ("127.0.0.1:8080") or paths
  std::vector<GenerationView> generations;

  // The pids of one generation's workers, in worker order.
  std::vector<pid_t> pids_of(int generation) const;
  // The generation in `state`, if one is.
  std::optional<int> generation_in(std::string_view state) const;
};

// Asks reuserun (by pid: its --control-socket, or the default socket of its --port);
// nullopt when it does not answer.
std::optional<StatusView> ctl_status(pid_t reuserun);

// Polls ctl_status until `condition` holds (bounded by `limit`); the status that met it.
std::optional<StatusView> wait_for_status(pid_t reuserun,
                                          const std::function<bool(const StatusView&)>& condition,
                                          std::chrono::milliseconds limit);

}  // namespace rrtest
