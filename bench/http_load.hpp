// The benchmark's load: client threads sending GET / to 127.0.0.1:port, either a new connection
// per request or HTTP/1.1 keep-alive, recording every request (start, latency, outcome, the pid
// that answered). Bounded in count and time; loopback only.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

enum class Outcome : std::uint8_t { ok, refused, reset, timeout, bad_status, other };
std::string outcome_name(Outcome outcome);

struct Record {
  std::int64_t start_us;  // since the load's epoch
  std::int32_t latency_us;
  Outcome outcome;
  pid_t pid;  // from the answer's "pid=", 0 when none
};

struct LoadOptions {
  int port = 0;
  int clients = 4;
  bool keep_alive = false;
  long max_requests_per_client = 2'000'000;
  std::chrono::seconds max_time{600};
};

class HttpLoad {
 public:
  explicit HttpLoad(LoadOptions options);
  ~HttpLoad();
  HttpLoad(const HttpLoad&) = delete;
  HttpLoad& operator=(const HttpLoad&) = delete;

  Clock::time_point epoch() const { return epoch_; }
  std::int64_t now_us() const;
  // Stops the clients and returns every record, ordered by start.
  std::vector<Record> stop();

 private:
  void run_client(std::vector<Record>& records);

  LoadOptions options_;
  Clock::time_point epoch_;
  std::atomic<bool> stop_{false};
  std::vector<std::vector<Record>> records_;
  std::vector<std::thread> threads_;
};

}  // namespace bench
