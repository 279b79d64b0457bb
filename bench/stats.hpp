// Turning the benchmark's raw records into the numbers it publishes, and printing them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "contenders.hpp"
#include "http_load.hpp"

namespace bench {

struct Run {
  std::string scenario;
  std::string contender;
  std::string error;  // the contender could not be measured
  std::vector<RestartResult> restarts;
  std::vector<Record> records;
  long rss_kib = 0;  // the launcher's peak VmRSS, 0 without a launcher
  double launcher_cpu_ms = 0;
  int ready_ms = 0;  // when a new version can serve; -1 for a broken one
};

struct Latency {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  long count = 0;
};

struct RunSummary {
  std::string scenario, contender, error;
  long ok = 0, failed = 0;
  std::map<std::string, long> failures;
  Latency overall, in_restarts, steady;
  int restarts = 0, restarts_succeeded = 0;
  double switch_median_ms = -1, switch_max_ms = -1;  // restart -> only the new pid answers
  double old_exit_median_ms = -1, old_exit_max_ms = -1;
  long rss_kib = 0;
  double cpu_ms_per_restart = 0;
  int ready_ms = 0;
  std::vector<std::string> missed;  // reuserun's targets it misses here
};

struct Report {
  std::vector<RunSummary> runs;
  double p99_ratio = -1;      // reuserun-steady p99 / direct p99 (neither restarted)
  long reuserun_rss_kib = 0;  // peak over every reuserun run
  bool harness_ok = true;
  long reuserun_lost = 0;
};

Report summarize(const std::vector<Run>& runs);
std::string format_table(const Report& report, const std::string& machine);
std::string format_json(const Report& report, const std::string& machine);

}  // namespace bench
