#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <sstream>

namespace bench {
namespace {

constexpr double kSwitchSlackMs = 5;      // target: switch time <= ready time + 5 ms
constexpr long kRssTargetKib = 3 * 1024;  // target: reuserun RSS <= 3 MiB
constexpr double kP99RatioTarget = 1.05;
// The targets a run can miss, in the words bench/README.md uses.
constexpr const char* kNoFailedTarget = "no failed request";
constexpr const char* kSwitchTarget = "the new version alone answering within 5 ms of being ready";

Latency latency_of(std::vector<std::int32_t> micros) {
  Latency latency;
  latency.count = static_cast<long>(micros.size());
  if (micros.empty()) return latency;
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) {
    const auto index =
        static_cast<std::size_t>(std::ceil(q * static_cast<double>(micros.size()))) - 1;
    return micros[std::min(index, micros.size() - 1)] / 1000.0;
  };
  latency.p50_ms = at(0.50);
  latency.p99_ms = at(0.99);
  latency.max_ms = micros.back() / 1000.0;
  return latency;
}

double median(std::vector<double> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Restart -> the moment after which only the new version answers: the later of the last answer
// from an old pid and the first answer from a new one, among requests started after the trigger.
std::optional<double> switch_ms(const RestartResult& restart, const std::vector<Record>& records,
                                std::int64_t until_us) {
  std::int64_t last_old = restart.trigger_us, first_new = -1;
  for (const Record& record : records) {
    if (record.start_us < restart.trigger_us || record.start_us >= until_us) continue;
    if (record.outcome != Outcome::ok || record.pid == 0) continue;
    const std::int64_t end = record.start_us + record.latency_us;
    const bool old = std::find(restart.old_pids.begin(), restart.old_pids.end(), record.pid) !=
                     restart.old_pids.end();
    if (old)
      last_old = std::max(last_old, end);
    else if (first_new < 0 || end < first_new)
      first_new = end;
  }
  if (first_new < 0) return std::nullopt;
  return (std::max(last_old, first_new) - restart.trigger_us) / 1000.0;
}

bool in_a_restart(const Run& run, std::int64_t start_us) {
  for (const auto& restart : run.restarts)
    if (start_us >= restart.trigger_us &&
        start_us <= std::max(restart.old_exit_us, restart.done_us))
      return true;
  return false;
}

RunSummary summarize_run(const Run& run) {
  RunSummary summary;
  summary.scenario = run.scenario;
  summary.contender = run.contender;
  summary.error = run.error;
  summary.rss_kib = run.rss_kib;
  summary.ready_ms = run.ready_ms;
  std::vector<std::int32_t> all, during, steady;
  for (const Record& record : run.records) {
    if (record.outcome != Outcome::ok) {
      ++summary.failed;
      ++summary.failures[outcome_name(record.outcome)];
      continue;
    }
    ++summary.ok;
    all.push_back(record.latency_us);
    (in_a_restart(run, record.start_us) ? during : steady).push_back(record.latency_us);
  }
  summary.overall = latency_of(all);
  summary.in_restarts = latency_of(during);
  summary.steady = latency_of(steady);
  std::vector<double> switches, exits;
  for (std::size_t i = 0; i < run.restarts.size(); ++i) {
    const RestartResult& restart = run.restarts[i];
    ++summary.restarts;
    if (!restart.succeeded) continue;
    ++summary.restarts_succeeded;
    const std::int64_t until =
        i + 1 < run.restarts.size() ? run.restarts[i + 1].trigger_us : INT64_MAX;
    if (const auto time = switch_ms(restart, run.records, until)) switches.push_back(*time);
    exits.push_back((restart.old_exit_us - restart.trigger_us) / 1000.0);
  }
  summary.switch_median_ms = median(switches);
  summary.switch_max_ms =
      switches.empty() ? -1 : *std::max_element(switches.begin(), switches.end());
  summary.old_exit_median_ms = median(exits);
  summary.old_exit_max_ms = exits.empty() ? -1 : *std::max_element(exits.begin(), exits.end());
  if (!run.restarts.empty())
    summary.cpu_ms_per_restart = run.launcher_cpu_ms / static_cast<double>(run.restarts.size());
  if (run.contender.starts_with("reuserun")) {
    if (summary.failed > 0) summary.missed.push_back(kNoFailedTarget);
    if (run.ready_ms >= 0 && summary.switch_max_ms > run.ready_ms + kSwitchSlackMs)
      summary.missed.push_back(kSwitchTarget);
  }
  return summary;
}

std::string ms(double value) {
  if (value < 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, value < 10 ? "%.2f" : "%.0f", value);
  return text;
}

std::string failures_text(const RunSummary& run) {
  if (run.failed == 0) return "0";
  std::string text = std::to_string(run.failed) + " (";
  bool first = true;
  for (const auto& [kind, count] : run.failures) {
    text += (first ? "" : ", ") + kind + " " + std::to_string(count);
    first = false;
  }
  return text + ")";
}

// One sentence under a scenario's table: which target each reuserun contender missed there, in
// words. A label on every row said only that something was missed, and said it on nearly every row.
std::string missed_sentence(const Report& report, const std::string& scenario) {
  std::map<std::string, std::string> contenders_by_target;
  for (const RunSummary& run : report.runs) {
    if (run.scenario != scenario) continue;
    for (const std::string& target : run.missed) {
      std::string& names = contenders_by_target[target];
      names += (names.empty() ? "" : ", ") + run.contender;
    }
  }
  if (contenders_by_target.empty()) return "\nNo reuserun contender missed a target here.\n";
  std::string text;
  for (const auto& [target, names] : contenders_by_target)
    text += (text.empty() ? "\nMissed here: " : "; ") + target + " (" + names + ")";
  return text + ".\n";
}

std::string today() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof text, "%Y-%m-%d", std::gmtime(&now));
  return text;
}

}  // namespace

Report summarize(const std::vector<Run>& runs) {
  Report report;
  std::optional<double> direct_p99, reuserun_p99;
  for (const Run& run : runs) {
    report.runs.push_back(summarize_run(run));
    const RunSummary& summary = report.runs.back();
    if (!run.error.empty()) report.harness_ok = false;
    if (run.contender.starts_with("reuserun")) report.reuserun_lost += summary.failed;
    if (run.scenario != "new-conn, ready at once") continue;
    if (run.contender == "direct") direct_p99 = summary.steady.p99_ms;
    if (run.contender == "reuserun-steady") reuserun_p99 = summary.steady.p99_ms;
  }
  if (direct_p99 && reuserun_p99 && *direct_p99 > 0) report.p99_ratio = *reuserun_p99 / *direct_p99;
  for (const RunSummary& run : report.runs)
    if (run.contender.starts_with("reuserun"))
      report.reuserun_rss_kib = std::max(report.reuserun_rss_kib, run.rss_kib);
  return report;
}

std::string format_table(const Report& report, const std::string& machine) {
  std::ostringstream out;
  out << "restart_bench " << today() << ", " << machine << ", loopback\n\n";
  std::string scenario;
  for (const RunSummary& run : report.runs) {
    if (run.scenario != scenario) {
      if (!scenario.empty()) out << missed_sentence(report, scenario);
      scenario = run.scenario;
      out << "\n### " << scenario << "\n\n"
          << "| contender | restarts ok | requests ok | failed | p50 / p99 / max ms | p99 / max ms "
             "in restarts | switch median / max ms | old exit median ms | launcher RSS KiB | "
             "CPU ms / restart |\n|---|---|---|---|---|---|---|---|---|---|\n";
    }
    if (!run.error.empty()) {
      out << "| " << run.contender << " | error: " << run.error << " |||||||||\n";
      continue;
    }
    out << "| " << run.contender << " | " << run.restarts_succeeded << "/" << run.restarts << " | "
        << run.ok << " | " << failures_text(run) << " | " << ms(run.overall.p50_ms) << " / "
        << ms(run.overall.p99_ms) << " / " << ms(run.overall.max_ms) << " | "
        << ms(run.in_restarts.p99_ms) << " / " << ms(run.in_restarts.max_ms) << " | "
        << ms(run.switch_median_ms) << " / " << ms(run.switch_max_ms) << " | "
        << ms(run.old_exit_median_ms) << " | "
        << (run.rss_kib > 0 ? std::to_string(run.rss_kib) : "-") << " | "
        << (run.rss_kib > 0 ? ms(run.cpu_ms_per_restart) : "-") << " |\n";
  }
  if (!scenario.empty()) out << missed_sentence(report, scenario);
  out << "\nTargets for reuserun: no failed request in any scenario; the new version alone "
         "answering within 5 ms of being ready; RSS <= 3 MiB (peak measured: "
      << report.reuserun_rss_kib
      << " KiB); p99 through reuserun / direct, no restarts, <= 1.05 "
         "(measured: "
      << (report.p99_ratio < 0 ? std::string("-") : ms(report.p99_ratio)) << ").\n";
  if (report.reuserun_rss_kib > kRssTargetKib) out << "missed: reuserun RSS <= 3 MiB\n";
  for (const RunSummary& run : report.runs)
    for (const std::string& target : run.missed)
      out << "missed: " << run.contender << " / " << run.scenario << ": " << target << "\n";
  if (report.p99_ratio > kP99RatioTarget) out << "missed: p99 ratio <= 1.05\n";
  return out.str();
}

std::string format_json(const Report& report, const std::string& machine) {
  std::ostringstream out;
  out << "{\n  \"date\": \"" << today() << "\",\n  \"machine\": \"" << machine
      << "\",\n  \"p99_ratio_reuserun_over_direct\": " << report.p99_ratio
      << ",\n  \"reuserun_peak_rss_kib\": " << report.reuserun_rss_kib << ",\n  \"runs\": [\n";
  for (std::size_t i = 0; i < report.runs.size(); ++i) {
    const RunSummary& run = report.runs[i];
    out << "    {\"scenario\": \"" << run.scenario << "\", \"contender\": \"" << run.contender
        << "\", \"error\": \"" << (run.error.empty() ? "" : "could not start")
        << "\", \"ok\": " << run.ok << ", \"failed\": " << run.failed << ", \"failures\": {";
    bool first = true;
    for (const auto& [kind, count] : run.failures) {
      out << (first ? "" : ", ") << "\"" << kind << "\": " << count;
      first = false;
    }
    out << "}, \"restarts\": " << run.restarts
        << ", \"restarts_succeeded\": " << run.restarts_succeeded
        << ", \"latency_ms\": {\"p50\": " << run.overall.p50_ms
        << ", \"p99\": " << run.overall.p99_ms << ", \"max\": " << run.overall.max_ms
        << "}, \"latency_in_restarts_ms\": {\"p50\": " << run.in_restarts.p50_ms
        << ", \"p99\": " << run.in_restarts.p99_ms << ", \"max\": " << run.in_restarts.max_ms
        << "}, \"switch_ms\": {\"median\": " << run.switch_median_ms
        << ", \"max\": " << run.switch_max_ms
        << "}, \"old_exit_ms\": {\"median\": " << run.old_exit_median_ms
        << ", \"max\": " << run.old_exit_max_ms << "}, \"launcher_rss_kib\": " << run.rss_kib
        << ", \"launcher_cpu_ms_per_restart\": " << run.cpu_ms_per_restart
        << ", \"child_ready_ms\": " << run.ready_ms << "}"
        << (i + 1 < report.runs.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  return out.str();
}

}  // namespace bench
