// The recipes of the README's "Will my server work?" tables, each run as a user would copy it from
// examples/: a real, unmodified server from Debian 12 takes reuserun's socket its own way and
// drains on its own signal; five restarts under load, no request fails. A server that is not
// installed is skipped (scripts/deps installs them all).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace rrtest {
namespace {

constexpr int kRestarts = 5;

struct Recipe {
  const char* name;
  std::vector<std::string> options;  // reuserun's, besides --port and --bind
  std::vector<std::string> command;
  std::string greeting;  // what GET / answers
  // Connections the server itself resets while it shuts down, allowed per restart: a loss of
  // the server's, shown without reuserun by bench/shutdown_by_hand.py and documented in the
  // README. Every other failure (refused, timeout, ...) is reuserun's and fails the test.
  int own_resets_per_restart = 0;
};

// reuserun on 127.0.0.1:`port` in front of the recipe: serves, survives kRestarts restarts
// under load with no failed request, and stops cleanly.
void run_recipe(const Recipe& recipe, int port) {
  std::vector<std::string> argv = {kReuserun, "--port", std::to_string(port), "--bind",
                                   "127.0.0.1"};
  argv.insert(argv.end(), recipe.options.begin(), recipe.options.end());
  argv.push_back("--");
  argv.insert(argv.end(), recipe.command.begin(), recipe.command.end());
  Process reuserun(argv);
  ASSERT_TRUE(wait_for_status(
      reuserun.pid(), [](const StatusView& status) { return status.serving.has_value(); }, 20s))
      << recipe.name << " never served";
  ASSERT_EQ(http_get(port).body, recipe.greeting);

  const auto restarts = restart_under_load(reuserun, port, kRestarts, recipe.name);
  EXPECT_EQ(restarts.succeeded, kRestarts);
  EXPECT_GT(restarts.load.sent, 0);
  long own = 0;  // closed unanswered: reset (the request was unread) or an empty answer
  for (const char* kind : {"reset", "empty answer"})
    if (const auto found = restarts.load.failures.find(kind);
        found != restarts.load.failures.end())
      own += found->second;
  EXPECT_LE(own, recipe.own_resets_per_restart * kRestarts);
  EXPECT_EQ(restarts.load.failed - own, 0) << "failures other than the server's own resets";
  const auto status = wait_for_status(
      reuserun.pid(), [](const StatusView& now) { return now.generations.size() == 1; }, 30s);
  ASSERT_TRUE(status.has_value()) << "an old generation did not drain and exit";
  EXPECT_EQ(status->restarts, kRestarts) << "one restart per SIGHUP, none failed";

  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(30s), 0);
}

bool installed(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// A copy of `example` with every "127.0.0.1:8080" made the test's port.
std::string with_port(const TempDir& dir, const std::string& example, const std::string& name,
                      int port) {
  std::string text = read_text(example);
  const std::string from = "127.0.0.1:8080";
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at))
    text.replace(at, from.size(), "127.0.0.1:" + std::to_string(port));
  dir.write(name, text);
  return dir.file(name);
}

TEST(Recipes, Nginx) {
  if (!installed("/usr/sbin/nginx")) GTEST_SKIP() << "nginx is not installed";
  TempDir dir;
  const int port = probe_free_port();
  const std::string conf = with_port(dir, kExamples + "/nginx/nginx.conf", "nginx.conf", port);
  run_recipe({"nginx",
              {"--protocol", "nginx", "--stop-signal", "QUIT"},
              {"/usr/sbin/nginx", "-p", dir.path(), "-e", dir.file("error.log"), "-c", conf},
              "hello from nginx\n"},
             port);
  const std::string log = read_text(dir.file("error.log"));
  EXPECT_NE(log.find("using inherited sockets from \"3;\""), std::string::npos)
      << "nginx bound a socket of its own\n"
      << log;
}

TEST(Recipes, Haproxy) {
  if (!installed("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy is not installed";
  run_recipe({"haproxy",
              {"--stop-signal", "USR1"},
              {"/usr/sbin/haproxy", "-db", "-f", kExamples + "/haproxy/haproxy.cfg"},
              "hello from haproxy\n"},
             probe_free_port());
}

TEST(Recipes, Puma) {
  if (!installed("/usr/bin/puma")) GTEST_SKIP() << "puma is not installed";
  run_recipe({"puma",
              {},
              {"/usr/bin/puma", "-C", kExamples + "/puma/puma.rb", kExamples + "/puma/config.ru"},
              "hello from puma\n",
              // Puma 5.6 closes a connection it accepted before the request's bytes arrived
              // when its reactor shuts down (server.rb, reactor_wakeup: can_close? means nothing
              // parsed yet): an empty answer, about once in 100 restarts under CI load.
              1},
             probe_free_port());
}

TEST(Recipes, Uvicorn) {
  if (run_captured({"/usr/bin/python3", "-c", "import uvicorn"}).exit_code != 0)
    GTEST_SKIP() << "python3-uvicorn is not installed";
  run_recipe({"uvicorn",
              {},
              {"/usr/bin/python3", "-m", "uvicorn", "--app-dir", kExamples + "/uvicorn", "--fd",
               "{fd}", "app:app"},
              "hello from uvicorn\n",
              // uvicorn 0.17 closes connections it accepted but has no request from yet when it
              // shuts down, with or without reuserun.
              1},
             probe_free_port());
}

TEST(Recipes, GoNetHttp) {
  if (kHelloGo.empty()) GTEST_SKIP() << "go was not found when this was configured (golang-go)";
  run_recipe({"go net/http", {}, {kHelloGo}, "hello from go\n"}, probe_free_port());
}

// ---- Servers that bind the port themselves (the bind takeover, lib/runtime/bind_takeover.hpp) ----

// reuserun with no --bind in front of `command`, which binds 127.0.0.1:`port` itself: its own
// bind() gets reuserun's socket (moved to 127.0.0.1 at the first one), five restarts under load
// keep one listening socket on the port at all times, and at most `own_losses` requests the
// server itself drops at its stop fail.
void run_self_binding(const char* name, std::vector<std::string> command, int port,
                      long own_losses = 0) {
  std::vector<std::string> argv = {kReuserun, "--port", std::to_string(port)};
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  Process reuserun(argv);
  const auto serving = wait_for_status(
      reuserun.pid(), [](const StatusView& status) { return status.serving.has_value(); }, 20s);
  ASSERT_TRUE(serving) << name << " never served";
  ASSERT_EQ(serving->generations.size(), 1u);
  EXPECT_EQ(serving->generations[0].bound_itself, "127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(listening_inodes(port).size(), 1u);

  ListenerCount listeners(port);
  const auto restarts = restart_under_load(reuserun, port, kRestarts, name);
  listeners.finish();
  EXPECT_EQ(restarts.succeeded, kRestarts);
  EXPECT_GT(restarts.load.sent, 0);
  long own = 0;
  for (const char* kind : {"reset", "empty answer"})
    if (const auto found = restarts.load.failures.find(kind);
        found != restarts.load.failures.end())
      own += found->second;
  EXPECT_LE(own, own_losses);
  EXPECT_EQ(restarts.load.failed - own, 0) << "failures other than the server's own";
  EXPECT_EQ(listeners.most(), 1) << "a second listening socket appeared on the port";
  EXPECT_EQ(listeners.fewest(), 1) << "the port had no listening socket for a moment";
  const auto status = wait_for_status(
      reuserun.pid(), [](const StatusView& now) { return now.generations.size() == 1; }, 30s);
  ASSERT_TRUE(status) << "an old generation did not drain and exit";
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(30s), 0) << "stopped without SIGKILL";
}

// `python3 -m http.server` binds its port itself (socketserver, listen(5)), and has no graceful
// stop: SIGTERM ends it with the requests in its threads unanswered.
TEST(SelfBinding, PythonHttpServer) {
  const int port = probe_free_port();
  TempDir dir;
  run_self_binding("python3 -m http.server",
                   {"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1",
                    "--directory", dir.path(), std::to_string(port)},
                   port, 2L * kRestarts);
}

// The classic SO_REUSEPORT server, static (CGO_ENABLED=0), with a graceful Shutdown: it hangs
// unless the shared socket is non-blocking like its own.
TEST(SelfBinding, GoReuseportServer) {
  if (kReuseportGo.empty()) GTEST_SKIP() << "go was not found when this was configured";
  const int port = probe_free_port();
  run_self_binding("go SO_REUSEPORT", {kReuseportGo, "127.0.0.1:" + std::to_string(port)}, port);
}

TEST(SelfBinding, NodeListen) {
  if (!installed("/usr/bin/node")) GTEST_SKIP() << "node is not installed (nodejs)";
  const int port = probe_free_port();
  run_self_binding("node listen()",
                   {"/usr/bin/node", kExamples + "/node/server.js", std::to_string(port),
                    "127.0.0.1"},
                   port);
}

}  // namespace
}  // namespace rrtest
