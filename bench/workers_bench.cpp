// workers_bench: how a rolling restart scales with --workers, and what reuserun's memory does
// with a crowded socket table. Loopback only, bounded; prints a table (bench/README.md records it).
//
//   workers_bench [--restarts N] [--workers 1,4,16,32] [--time-wait N] [--gunicorn] [--smoke]
//
// Per N: reuserun --workers N in front of the test server (ready at once) under new-connection
// load; N rolling restarts by `reuserun ctl --json restart`, each timed; how readiness was
// decided (ctl --json status: ready_by), reuserun's CPU per restart and VmHWM. --time-wait N
// first leaves N loopback connections in TIME_WAIT on the host (the start-up port check must not
// read them). --gunicorn: the same with gunicorn --workers 16 as one generation.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "harness.hpp"
#include "http_load.hpp"

namespace {

using namespace std::chrono_literals;
using rrtest::Captured;

struct Options {
  int restarts = 20;
  std::vector<int> workers{1, 4, 16, 32};
  int time_wait = 0;
  bool gunicorn = false;
  bool smoke = false;
};

struct Row {
  std::string name;
  std::vector<double> restart_ms;
  std::map<std::string, int> decided_by;  // "waits in poll", "accept probe", ...
  double cpu_ms_per_restart = 0;
  long hwm_kib = 0;
  long requests = 0;
  long failed = 0;
  int failed_restarts = 0;
};

// Leaves `count` loopback connections in TIME_WAIT: the client side closes first.
int make_time_wait(int count) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == -1 ||
      ::listen(listener, 4096) == -1 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == -1)
    return 0;
  int made = 0;
  for (int i = 0; i < count; ++i) {
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) ++made;
    const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(client);  // first: the client's side waits out TIME_WAIT
    if (server >= 0) ::close(server);
  }
  ::close(listener);
  return made;
}

// "pid 12 waits in epoll_wait" -> "waits in epoll_wait"; "accept probe 3 accepted by ..." ->
// "accept probe".
std::string path_of(const std::string& ready_by) {
  const auto waits = ready_by.find("waits in ");
  if (waits != std::string::npos) return ready_by.substr(waits);
  if (ready_by.find("probe") != std::string::npos) return "accept probe";
  return ready_by.empty() ? "?" : ready_by;
}

Row run(const std::string& name, std::vector<std::string> command, int workers,
        const Options& options) {
  Row row;
  row.name = name;
  const int port = rrtest::probe_free_port();
  rrtest::TempDir dir;
  const std::string socket = dir.file("ctl.sock");
  std::vector<std::string> argv{rrtest::kReuserun,
                                "--port",
                                std::to_string(port),
                                "--bind",
                                "127.0.0.1",
                                "--workers",
                                std::to_string(workers),
                                "--control-socket",
                                socket,
                                "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  rrtest::Process reuserun(argv);
  if (!rrtest::wait_until_serving(reuserun.pid(), 30s)) {
    row.failed_restarts = options.restarts;
    return row;
  }
  bench::HttpLoad load({port, 2, false, 200'000, std::chrono::seconds(120)});
  std::this_thread::sleep_for(200ms);
  const double cpu_before = rrtest::cpu_ms(reuserun.pid());
  for (int i = 0; i < options.restarts; ++i) {
    const Captured answer = rrtest::run_captured(
        {rrtest::kReuserun, "ctl", "--control-socket", socket, "--json", "restart"}, 120s);
    // reuserun's own measure, from the request to the whole generation serving (the ctl
    // process's start-up is not part of a restart).
    const auto json = rrtest::parse_json(answer.out);
    if (answer.exit_code != 0 || !json) {
      ++row.failed_restarts;
      continue;
    }
    row.restart_ms.push_back(1000.0 * (*json)["restart"]["duration_seconds"].number);
    const auto status = rrtest::ctl_status(reuserun.pid());
    if (status)
      for (const auto& worker : status->generations)
        if (status->serving && worker.generation == *status->serving)
          ++row.decided_by[path_of(worker.ready_by)];
  }
  row.cpu_ms_per_restart = (rrtest::cpu_ms(reuserun.pid()) - cpu_before) / options.restarts;
  for (const auto& record : load.stop()) {
    ++row.requests;
    if (record.outcome != bench::Outcome::ok) ++row.failed;
  }
  row.hwm_kib = rrtest::vm_hwm_kib(reuserun.pid());
  // Why a slow worker was slow: the fallback's reason, as reuserun logged it.
  const std::string log = reuserun.log();
  for (std::size_t at = log.find("probing with connections"); at != std::string::npos;
       at = log.find("probing with connections", at + 1)) {
    const auto begin = log.rfind('\n', at) + 1;
    std::fprintf(stderr, "  %s\n", log.substr(begin, log.find('\n', at) - begin).c_str());
  }
  reuserun.signal(SIGTERM);
  reuserun.wait_exit(60s);
  return row;
}

void print(const Row& row) {
  std::vector<double> sorted = row.restart_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  const double worst = sorted.empty() ? 0 : sorted.back();
  std::string paths;
  for (const auto& [path, count] : row.decided_by)
    paths += (paths.empty() ? "" : ", ") + path + " x" + std::to_string(count);
  std::printf("| %s | %.0f ms | %.0f ms | %s | %.2f ms | %ld KiB | %ld | %ld | %d |\n",
              row.name.c_str(), median, worst, paths.c_str(), row.cpu_ms_per_restart, row.hwm_kib,
              row.requests, row.failed, row.failed_restarts);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--restarts") {
      options.restarts = std::max(1, std::atoi(next().c_str()));
    } else if (arg == "--workers") {
      options.workers.clear();
      const std::string list = next();
      for (std::size_t at = 0; at < list.size();) {
        const auto comma = std::min(list.find(',', at), list.size());
        options.workers.push_back(std::max(1, std::atoi(list.substr(at, comma - at).c_str())));
        at = comma + 1;
      }
    } else if (arg == "--time-wait") {
      options.time_wait = std::clamp(std::atoi(next().c_str()), 0, 20000);
    } else if (arg == "--gunicorn") {
      options.gunicorn = true;
    } else if (arg == "--smoke") {
      options.smoke = true;
      options.restarts = 2;
      options.workers = {1, 4};
    } else {
      std::fprintf(stderr, "workers_bench: unknown option %s\n", arg.c_str());
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  if (options.time_wait > 0)
    std::printf("TIME_WAIT connections left on the host: %d\n", make_time_wait(options.time_wait));
  std::printf(
      "| scenario | rolling restart, median | worst | readiness decided by (workers) | "
      "reuserun CPU per restart | reuserun VmHWM | requests | failed | failed restarts |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  std::vector<Row> rows;
  for (int workers : options.workers) {
    rows.push_back(run("test server, --workers " + std::to_string(workers), {rrtest::kTestServer},
                       workers, options));
    print(rows.back());
  }
  if (options.gunicorn) {
    rows.push_back(run("gunicorn --workers 16 (one generation)",
                       {"/usr/bin/gunicorn", "--workers", "16", "--graceful-timeout", "5",
                        "--chdir", rrtest::kSupportDir, "pid_app:app"},
                       1, options));
    print(rows.back());
  }
  const bool lost = std::any_of(rows.begin(), rows.end(), [](const Row& row) {
    return row.failed > 0 || row.failed_restarts > 0;
  });
  return options.smoke && lost ? 1 : 0;
}
