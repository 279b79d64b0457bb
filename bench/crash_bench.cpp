// crash_bench: what a crash of reuserun itself costs under load on loopback, next to an
// ordinary restart (issue 29; README "When reuserun dies"). Each event is timed from the moment
// it was caused to the moment reuserun serves normally again (one generation, not draining);
// the table says how many requests failed and the longest time without an answer (no request
// completed: connections waited in the backlog meanwhile).
//
//   crash_bench [--rounds N] [--clients N] [--smoke]
//
// Scenarios: SIGHUP (the ordinary rolling restart); SIGSEGV (recovered in place; 3 at most, as
// many as a minute allows); SIGKILL and the same command 0.5 s later (the new reuserun adopts
// the orphans' socket); the same with --pdeathsig (the children die with it: today's peers).
// --smoke: one round each, for the test command; exits non-zero when a recovery failed or a
// request was lost where none may be.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "ctl_status.hpp"
#include "harness.hpp"
#include "http_load.hpp"

namespace bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Options {
  int rounds = 6;
  int clients = 4;
  bool smoke = false;
};

enum class Kind { sighup, sigsegv, sigkill_adopt, sigkill_pdeathsig };

struct Scenario {
  std::string name;
  Kind kind;
  bool may_fail;  // requests may fail here (the peers' behaviour)
};

struct Event {
  bool ok = false;
  std::int64_t began_us = 0, ended_us = 0;
};

// Serving normally: one generation, nothing starting or draining, and no orphan of a killed
// reuserun still answering (`orphan`, when not 0).
bool settled(pid_t reuserun, int port, pid_t orphan) {
  const auto status = rrtest::ctl_status(reuserun);
  if (!status || !status->serving || status->generation_in("starting") ||
      status->generation_in("draining"))
    return false;
  if (orphan != 0 && rrtest::process_exists(orphan)) return false;
  return rrtest::serving_pid(port).has_value();
}

std::vector<std::string> command(int port, bool pdeathsig) {
  std::vector<std::string> argv{rrtest::kReuserun, "--port", std::to_string(port), "--bind",
                                "127.0.0.1"};
  if (pdeathsig) argv.push_back("--pdeathsig");
  argv.insert(argv.end(), {"--", rrtest::kTestServer});
  return argv;
}

// The longest stretch within [from, to] in which no request completed successfully, in ms.
double longest_silence(const std::vector<Record>& records, std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> ends;
  for (const Record& record : records)
    if (record.outcome == Outcome::ok) ends.push_back(record.start_us + record.latency_us);
  std::sort(ends.begin(), ends.end());
  std::int64_t last = from, longest = 0;
  for (const std::int64_t end : ends) {
    if (end < from) continue;
    if (end > to) break;
    longest = std::max(longest, end - last);
    last = end;
  }
  longest = std::max(longest, to - last);
  return static_cast<double>(longest) / 1000;
}

// One scenario; false when an event did not end as it should, or a request failed where none
// may.
bool run(const Scenario& scenario, const Options& options) {
  const int port = rrtest::probe_free_port();
  const bool pdeathsig = scenario.kind == Kind::sigkill_pdeathsig;
  auto reuserun = std::make_unique<rrtest::Process>(command(port, pdeathsig));
  if (!rrtest::wait_until([&] { return settled(reuserun->pid(), port, 0); }, seconds(15))) {
    std::fprintf(stderr, "crash_bench: reuserun did not start:\n%s\n", reuserun->log().c_str());
    return false;
  }
  HttpLoad load({port, options.clients, false, 2'000'000, seconds(600)});
  std::this_thread::sleep_for(milliseconds(300));  // warm-up, bounded
  std::vector<Event> events;
  // At most 3 recoveries a minute: the fourth SIGSEGV would end reuserun, as it should.
  const int rounds = scenario.kind == Kind::sigsegv ? std::min(options.rounds, 3) : options.rounds;
  for (int round = 0; round < rounds; ++round) {
    Event event;
    event.began_us = load.now_us();
    pid_t orphan = 0;
    switch (scenario.kind) {
      case Kind::sighup:
        reuserun->signal(SIGHUP);
        break;
      case Kind::sigsegv:
        reuserun->signal(SIGSEGV);
        break;
      case Kind::sigkill_adopt:
      case Kind::sigkill_pdeathsig:
        orphan = rrtest::serving_pid(port).value_or(0);
        reuserun->signal(SIGKILL);
        reuserun->wait_exit(seconds(5));
        std::this_thread::sleep_for(milliseconds(500));
        reuserun = std::make_unique<rrtest::Process>(command(port, pdeathsig));
        break;
    }
    // Settled again: one generation serves alone, and no orphan is left.
    std::this_thread::sleep_for(milliseconds(50));
    event.ok = rrtest::wait_until(
        [&] { return settled(reuserun->pid(), port, orphan) && reuserun->running(); }, seconds(30));
    event.ended_us = load.now_us();
    if (!event.ok)
      std::fprintf(stderr, "crash_bench: %s round %d did not settle:\n%s\n",
                   scenario.name.c_str(), round, reuserun->log().c_str());
    events.push_back(event);
    std::this_thread::sleep_for(milliseconds(300));
  }
  const std::vector<Record> records = load.stop();
  reuserun->signal(SIGTERM);
  reuserun->wait_exit(seconds(15));

  long failed = 0;
  for (const Record& record : records) failed += record.outcome != Outcome::ok;
  std::vector<double> settle_ms, silence_ms;
  int ok = 0;
  for (const Event& event : events) {
    ok += event.ok;
    settle_ms.push_back(static_cast<double>(event.ended_us - event.began_us) / 1000);
    silence_ms.push_back(longest_silence(records, event.began_us, event.ended_us));
  }
  std::sort(settle_ms.begin(), settle_ms.end());
  std::sort(silence_ms.begin(), silence_ms.end());
  std::printf("| %s | %d/%zu | %zu | %ld | %.0f / %.0f | %.1f / %.1f |\n", scenario.name.c_str(),
              ok, events.size(), records.size(), failed, settle_ms[settle_ms.size() / 2],
              settle_ms.back(), silence_ms[silence_ms.size() / 2], silence_ms.back());
  return ok == static_cast<int>(events.size()) && (scenario.may_fail || failed == 0);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--rounds")
      options.rounds = std::max(1, std::stoi(value()));
    else if (arg == "--clients")
      options.clients = std::max(1, std::stoi(value()));
    else if (arg == "--smoke")
      options.smoke = true;
    else {
      std::fprintf(stderr, "crash_bench: unknown option %s\n", arg.c_str());
      std::exit(2);
    }
  }
  if (options.smoke) {
    options.rounds = 1;
    options.clients = 2;
  }
  return options;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  const Options options = parse(argc, argv);
  const std::vector<Scenario> scenarios = {
      {"SIGHUP (rolling restart)", Kind::sighup, false},
      {"SIGSEGV (recovered in place)", Kind::sigsegv, false},
      {"SIGKILL, same command 0.5 s later (adopted)", Kind::sigkill_adopt, false},
      {"SIGKILL with --pdeathsig, same command 0.5 s later", Kind::sigkill_pdeathsig, true},
  };
  std::printf("%d events per scenario, %d clients (a new connection per request), loopback, %u "
              "cores\n\n",
              options.rounds, options.clients, std::thread::hardware_concurrency());
  std::printf(
      "| scenario | settled | requests | failed | event -> serving normally again, ms median / "
      "max | longest time without an answer, ms median / max |\n"
      "|---|---|---|---|---|---|\n");
  bool all_ok = true;
  for (const Scenario& scenario : scenarios) all_ok = run(scenario, options) && all_ok;
  return all_ok ? 0 : 1;
}
