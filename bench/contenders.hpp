// The ways of restarting a server that the benchmark compares. Each one runs the same test
// server (tests/support/test_server), whose arguments every new process reads from a file, so a
// scenario can make the next version slow or broken.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bench {

using NowUs = std::function<std::int64_t()>;

struct RestartResult {
  std::int64_t trigger_us = 0;   // restart requested
  std::int64_t done_us = 0;      // the contender says it is over
  std::int64_t old_exit_us = 0;  // every process of the old version has exited
  bool succeeded = false;        // the new version serves (as far as the contender knows)
  std::vector<pid_t> old_pids;
};

class Contender {
 public:
  virtual ~Contender() = default;
  virtual std::string name() const = 0;
  virtual bool restarts() const { return true; }
  // Serves on 127.0.0.1:port within a bounded time, or returns false.
  virtual bool start(int port, const std::string& args_file) = 0;
  virtual RestartResult restart(const NowUs& now) = 0;
  virtual pid_t launcher_pid() const { return 0; }  // 0: no launcher process
  virtual std::string log() const { return ""; }
};

// "reuserun:auto", "reuserun:accept", ..., "naive", "reuseport", "server-starter", "direct".
std::unique_ptr<Contender> make_contender(const std::string& name);
std::vector<std::string> all_contender_names();

}  // namespace bench
