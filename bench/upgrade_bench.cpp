// upgrade_bench: what an in-place upgrade of reuserun itself costs under load on loopback: how
// long `reuserun ctl upgrade` takes, how many requests complete while it runs, and whether any
// fails. reuserun runs from a copy in a temporary directory; before each upgrade a fresh copy of
// the binary is renamed over it, as a package upgrade does.
//
//   upgrade_bench [--upgrades N] [--clients N] [--smoke]
//
// --smoke: 3 upgrades of one scenario, for the test command; exits non-zero when an upgrade fails
// or a request is lost.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "http_load.hpp"

namespace bench {
namespace {

struct Options {
  int upgrades = 20;
  int clients = 4;
  bool smoke = false;
};

struct Upgrade {
  bool ok = false;
  double ctl_ms = 0;     // `reuserun ctl upgrade`, as its caller waits
  double server_ms = 0;  // request -> the new image answers (its own "duration_seconds")
  std::int64_t began_us = 0, ended_us = 0;
};

struct Scenario {
  std::string name;
  bool keep_alive = false;
  int workers = 1;
};

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double json_number(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::atof(json.c_str() + at + key.size() + 3);
}

void install(const std::string& path) {
  std::filesystem::copy_file(rrtest::kReuserun, path + ".new",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(path + ".new", path);
}

// One scenario: returns false when an upgrade failed or a request was lost.
bool run(const Scenario& scenario, const Options& options) {
  rrtest::TempDir dir;
  const std::string binary = dir.file("reuserun");
  const std::string socket = dir.file("ctl.sock");
  install(binary);
  const int port = rrtest::probe_free_port();
  rrtest::Process reuserun({binary, "--port", std::to_string(port), "--bind", "127.0.0.1",
                            "--workers", std::to_string(scenario.workers), "--control-socket",
                            socket, "--", rrtest::kTestServer});
  if (!reuserun.wait_for_log("serving on", std::chrono::seconds(15))) {
    std::fprintf(stderr, "upgrade_bench: reuserun did not start:\n%s\n", reuserun.log().c_str());
    return false;
  }
  HttpLoad load({port, options.clients, scenario.keep_alive, 2'000'000, std::chrono::seconds(300)});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up, bounded
  std::vector<Upgrade> upgrades;
  for (int i = 0; i < options.upgrades; ++i) {
    install(binary);
    Upgrade upgrade;
    upgrade.began_us = load.now_us();
    const rrtest::Captured answer = rrtest::run_captured(
        {rrtest::kReuserun, "ctl", "--control-socket", socket, "--json", "upgrade"},
        std::chrono::seconds(60));
    upgrade.ended_us = load.now_us();
    upgrade.ok = answer.exit_code == 0;
    upgrade.ctl_ms = static_cast<double>(upgrade.ended_us - upgrade.began_us) / 1000;
    upgrade.server_ms = json_number(answer.out, "duration_seconds") * 1000;
    if (!upgrade.ok)
      std::fprintf(stderr, "upgrade_bench: %s%s\n", answer.out.c_str(), answer.err.c_str());
    upgrades.push_back(upgrade);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::vector<Record> records = load.stop();
  const long rss = rrtest::vm_rss_kib(reuserun.pid());
  reuserun.signal(SIGTERM);
  reuserun.wait_exit(std::chrono::seconds(15));

  long failed = 0;
  for (const Record& record : records) failed += record.outcome != Outcome::ok;
  std::vector<double> ctl_ms, server_ms, during;
  int ok = 0;
  for (const Upgrade& upgrade : upgrades) {
    ok += upgrade.ok;
    ctl_ms.push_back(upgrade.ctl_ms);
    server_ms.push_back(upgrade.server_ms);
    // Requests that completed, successfully, while the upgrade was under way.
    long completed = 0;
    for (const Record& record : records) {
      const std::int64_t end = record.start_us + record.latency_us;
      completed +=
          record.outcome == Outcome::ok && end >= upgrade.began_us && end <= upgrade.ended_us;
    }
    during.push_back(static_cast<double>(completed));
  }
  std::printf("| %s | %d/%zu | %zu | %ld | %.1f / %.1f / %.1f | %.1f | %.0f (min %.0f) | %ld |\n",
              scenario.name.c_str(), ok, upgrades.size(), records.size(), failed,
              *std::min_element(server_ms.begin(), server_ms.end()), median(server_ms),
              *std::max_element(server_ms.begin(), server_ms.end()), median(ctl_ms), median(during),
              *std::min_element(during.begin(), during.end()), rss);
  return ok == static_cast<int>(upgrades.size()) && failed == 0;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--upgrades")
      options.upgrades = std::max(1, std::stoi(value()));
    else if (arg == "--clients")
      options.clients = std::max(1, std::stoi(value()));
    else if (arg == "--smoke")
      options.smoke = true;
    else {
      std::fprintf(stderr, "upgrade_bench: unknown option %s\n", arg.c_str());
      std::exit(2);
    }
  }
  if (options.smoke) {
    options.upgrades = 3;
    options.clients = 2;
  }
  return options;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  const Options options = parse(argc, argv);
  std::vector<Scenario> scenarios = {
      {"new-conn", false, 1}, {"keep-alive", true, 1}, {"new-conn, 2 workers", false, 2}};
  if (options.smoke) scenarios.resize(1);
  std::printf("%d upgrades per scenario, %d clients, loopback, %u cores\n\n", options.upgrades,
              options.clients, std::thread::hardware_concurrency());
  std::printf(
      "| scenario | upgrades ok | requests | failed | upgrade ms min / median / max | ctl ms "
      "median | requests completed during one upgrade, median | reuserun RSS KiB after |\n"
      "|---|---|---|---|---|---|---|---|\n");
  bool all_ok = true;
  for (const Scenario& scenario : scenarios) all_ok = run(scenario, options) && all_ok;
  return all_ok ? 0 : 1;
}
