// Integration-test support: run the real reuserun binary, talk HTTP to it on loopback, wait with
// deadlines, and clean up only the processes a test started, by pid.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ctl_status.hpp"

namespace rrtest {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

inline const std::string kReuserun = REUSERUN_BINARY;
inline const std::string kTestServer = TEST_SERVER_BINARY;
inline const std::string kNotifyAttacker = NOTIFY_ATTACKER_BINARY;

// A whole file, "" when it cannot be read.
std::string read_text(const std::string& path);

// A loopback TCP port that was free a moment ago.
int probe_free_port();

// Polls `condition` every 20 ms until it holds or `limit` has passed.
bool wait_until(const std::function<bool()>& condition, Millis limit);

struct HttpResult {
  bool ok = false;  // a complete 2xx answer
  int status = 0;
  std::string body;
  std::string error;  // "refused", "reset", "timeout", "status 500", ...
};

enum class Loopback { ipv4, ipv6 };

// GET path from 127.0.0.1:port (or [::1]:port) on a new connection.
HttpResult http_get(int port, const std::string& path = "/", Millis timeout = 3s,
                    Loopback loopback = Loopback::ipv4);

// Sends `request` on a new connection to the unix socket at `path` and returns everything read
// until the server closes ("" when nothing answered; a read waits at most 10 s).
std::string unix_exchange(const std::string& path, const std::string& request);

// True when this machine has an IPv6 loopback to test with.
bool has_ipv6_loopback();

// The pid in the test server's answer, if one answered.
std::optional<pid_t> serving_pid(int port);

bool process_exists(pid_t pid);
std::vector<pid_t> child_pids(pid_t parent);     // direct children, from /proc
std::vector<pid_t> descendants(pid_t ancestor);  // the whole tree below
bool is_zombie(pid_t pid);
long vm_rss_kib(pid_t pid);
long vm_hwm_kib(pid_t pid);  // the peak RSS
double cpu_ms(pid_t pid);    // user + system CPU time so far (clock-tick resolution)

// Clients sending GET / to 127.0.0.1:port in a loop, a new connection per request, until stop()
// or a bound (requests per client, total time) is reached.
class Load {
 public:
  Load(int port, int clients = 2, long max_requests_per_client = 200000, Millis max_time = 90s);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  struct Result {
    long sent = 0;
    long failed = 0;
    std::map<std::string, long> failures;  // by kind: "refused", "reset", "timeout", ...
  };
  // Waits until at least `count` requests were sent (bounded), for a test that needs traffic.
  bool wait_for_requests(long count, Millis limit = 10s) const;
  long sent() const { return sent_; }
  Result stop();

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long> sent_{0};
  std::mutex lock_;
  std::map<std::string, long> failures_;
  std::vector<std::thread> threads_;
};

class Process;

// Where reuserun `pid` serves `ctl`: its --control-socket, or the default one for its --port.
std::string control_socket_of(pid_t reuserun);

// Waits until reuserun says (ctl --json status) that `ended` restarts have ended; the last one,
// or nullopt if that did not happen within `limit`.
std::optional<RestartView> wait_for_restarts(pid_t reuserun, int ended, Millis limit = 15s);

// Waits until the `nth` restart has ended; true when it ended as `expected`.
enum class Ended { succeeded, failed };
bool restart_ended(pid_t reuserun, Ended expected, Millis limit = 15s, int nth = 1);

// Waits until reuserun says a generation serves.
bool wait_until_serving(pid_t reuserun, Millis limit = 10s);

// `restarts` SIGHUPs to reuserun under continuous load on `port`, each after at least 100 more
// requests and each waited for (its outcome from `ctl --json status`, bounded; it stops at the
// first that does not succeed); prints what the load saw.
struct RestartsUnderLoad {
  int succeeded = 0;  // restarts that succeeded in time
  Load::Result load;
};
RestartsUnderLoad restart_under_load(Process& reuserun, int port, int restarts, const char* label);

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// `argv` run as uid/gid 65534 (nobody) with no supplementary groups, in a session of its own:
// an unprivileged local user, for the hostile-neighbour tests. The program must be one nobody
// may run (see copy_for_nobody).
std::vector<std::string> as_nobody(std::vector<std::string> argv);

// A copy of `binary` in `dir` (made 0755) that every user may run: the build tree may sit under a
// directory only root can enter.
std::string copy_for_nobody(const std::string& binary, const TempDir& dir);

// A child process of the test (reuserun, or a stale server), ended by pid when the test ends.
// Its output goes to a log file, printed when the process ends if `print_logs_when` says so
// (the integration tests: when the test has failed), so assertions need not carry it.
class Process {
 public:
  // env: extra KEY=VALUE entries. Standard error (and output) go to a log file.
  explicit Process(std::vector<std::string> argv, std::vector<std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // The exit code (128+n after death by signal n), or nullopt if it is still running by then.
  std::optional<int> wait_exit(Millis limit);
  bool running();
  std::string log() const;
  bool wait_for_log(const std::string& needle, Millis limit, int occurrences = 1) const;
  int count_in_log(const std::string& needle) const;

  static void print_logs_when(bool (*condition)());

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// A short command run to its end (bounded: killed by pid after `limit`), output kept apart.
struct Captured {
  std::optional<int> exit_code;  // nullopt: it had to be killed
  std::string out;
  std::string err;
};
Captured run_captured(std::vector<std::string> argv, Millis limit = 30s,
                      std::vector<std::string> env = {});

// reuserun on 127.0.0.1:<fresh port> in front of `command`, with `options` before "--".
struct Launch {
  Launch(std::vector<std::string> options, std::vector<std::string> command,
         std::vector<std::string> env = {});
  int port;
  Process process;

  // Waits until the first generation is ready and answers; returns its pid.
  pid_t wait_serving(Millis limit = 10s);
};

// A command that runs the test server with whatever arguments `args_file` holds when each
// generation starts, so a test can change the next generation's behaviour.
std::vector<std::string> server_with_args_from(const std::string& args_file);

// reuserun in front of the test server, whose arguments each generation reads from a file when
// it starts: generation 1 gets `first_args`, later ones `next_args`.
struct TwoGenerations {
  TwoGenerations(std::vector<std::string> options, const std::string& next_args,
                 const std::string& first_args = "");
  // SIGHUP; waits for the restart's outcome (ctl --json status); true when it succeeded.
  bool restart(Millis limit = 15s);
  // The last restart that ended, as ctl --json status says (nullopt: none yet, or no answer).
  std::optional<RestartView> last_restart() const;
  std::string log() const { return launch->process.log(); }

  TempDir dir;
  std::unique_ptr<Launch> launch;
  pid_t first = -1;
};

}  // namespace rrtest
