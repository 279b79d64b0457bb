// restart_bench: what a restart costs, for reuserun with each readiness gate and for the usual
// alternatives, under load on loopback. Prints a table (stdout) and writes JSON.
//
//   restart_bench [--restarts N] [--slow-restarts N] [--clients N] [--only NAME,...]
//                 [--json FILE] [--smoke]
//
// --smoke: a few restarts of reuserun:auto and naive, for the test command; exits non-zero when
// the harness breaks or reuserun loses a request.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "contenders.hpp"
#include "harness.hpp"
#include "http_load.hpp"
#include "stats.hpp"

namespace bench {
namespace {

struct Scenario {
  std::string name;
  bool keep_alive = false;
  int start_delay_ms = 0;
  std::string bad_args;  // non-empty: one restart into a broken version
  int restarts = 0;
};

struct Options {
  int restarts = 100;
  int slow_restarts = 10;
  int clients = 4;
  std::vector<std::string> only;
  std::string json = "restart_bench.json";
  bool smoke = false;
};

std::vector<Scenario> scenarios(const Options& options) {
  const int r = options.restarts;
  const int slow = options.slow_restarts;
  return {
      {"new-conn, ready at once", false, 0, "", r},
      {"keep-alive, ready at once", true, 0, "", r},
      {"new-conn, ready after 1.5s", false, 1500, "", slow},
      {"keep-alive, ready after 1.5s", true, 1500, "", slow},
      {"bad deploy: never ready", false, 0, "--no-accept", 1},
      {"bad deploy: dies 2s after start", false, 0, "--no-accept --exit-after 2000", 1},
  };
}

std::string server_args(int start_delay_ms) {
  return "--notify --start-delay " + std::to_string(start_delay_ms);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

using rrtest::cpu_ms;

Run run_one(const Scenario& scenario, const std::string& contender_name, const Options& options) {
  Run run;
  run.scenario = scenario.name;
  run.contender = contender_name;
  auto contender = make_contender(contender_name);
  rrtest::TempDir dir;
  const std::string good = server_args(scenario.start_delay_ms);
  dir.write("args", server_args(0));
  const int port = rrtest::probe_free_port();
  if (!contender->start(port, dir.file("args"))) {
    run.error = "did not start serving: " + contender->log().substr(0, 400);
    return run;
  }
  dir.write("args", scenario.bad_args.empty() ? good : scenario.bad_args);
  HttpLoad load({port, options.clients, scenario.keep_alive});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up, bounded
  const NowUs now = [&load] { return load.now_us(); };
  const double cpu_before = cpu_ms(contender->launcher_pid());
  if (contender->restarts()) {
    for (int i = 0; i < scenario.restarts; ++i) {
      run.restarts.push_back(contender->restart(now));
      run.rss_kib = std::max(run.rss_kib, rrtest::vm_rss_kib(contender->launcher_pid()));
    }
    if (!scenario.bad_args.empty()) std::this_thread::sleep_for(std::chrono::seconds(3));
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(options.smoke ? 1 : 5));
  }
  run.records = load.stop();
  run.launcher_cpu_ms = cpu_ms(contender->launcher_pid()) - cpu_before;
  run.ready_ms = scenario.bad_args.empty() ? scenario.start_delay_ms : -1;
  return run;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--restarts")
      options.restarts = std::stoi(value());
    else if (arg == "--slow-restarts")
      options.slow_restarts = std::stoi(value());
    else if (arg == "--clients")
      options.clients = std::stoi(value());
    else if (arg == "--json")
      options.json = value();
    else if (arg == "--smoke")
      options.smoke = true;
    else if (arg == "--only") {
      std::istringstream names(value());
      for (std::string name; std::getline(names, name, ',');) options.only.push_back(name);
    } else {
      std::fprintf(stderr, "restart_bench: unknown option %s\n", arg.c_str());
      std::exit(2);
    }
  }
  if (options.smoke) {
    options.restarts = 3;
    options.slow_restarts = 0;
    options.clients = 2;
    if (options.only.empty())
      options.only = {"reuserun:auto", "naive", "reuserun-steady", "direct"};
  }
  return options;
}

std::string machine() {
  utsname name{};
  ::uname(&name);
  return std::to_string(std::thread::hardware_concurrency()) + " cores, Linux " + name.release;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  const Options options = parse(argc, argv);
  std::vector<std::string> contenders = options.only.empty() ? all_contender_names() : options.only;
  std::vector<Run> runs;
  for (const Scenario& scenario : scenarios(options)) {
    if (scenario.restarts == 0) continue;
    if (options.smoke && !scenario.bad_args.empty() &&
        scenario.bad_args.find("exit") != std::string::npos)
      continue;
    for (const std::string& name : contenders) {
      const bool baseline = name == "direct" || name == "reuserun-steady";
      if (baseline && scenario.name != "new-conn, ready at once") continue;
      std::fprintf(stderr, "restart_bench: %s / %s ...\n", scenario.name.c_str(), name.c_str());
      runs.push_back(run_one(scenario, name, options));
    }
  }
  const Report report = summarize(runs);
  std::printf("%s", format_table(report, machine()).c_str());
  write_file(options.json, format_json(report, machine()));
  std::fprintf(stderr, "restart_bench: wrote %s\n", options.json.c_str());
  return report.harness_ok && (!options.smoke || report.reuserun_lost == 0) ? 0 : 1;
}
