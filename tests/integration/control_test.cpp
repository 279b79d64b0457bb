// `reuserun ctl`: a restart that waits for its outcome and exits with a status a deploy script can
// branch on, a status as text and as JSON, and a control socket that only its owner (or root) may
// use.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "harness.hpp"

namespace rrtest {
namespace {

// Evaluates a Python expression over the parsed JSON `d`: the schema check stays readable.
std::string json_eval(const std::string& json, const std::string& expression) {
  const Captured result = run_captured(
      {"/usr/bin/python3", "-c",
       "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))", json, expression});
  std::string out = result.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return result.exit_code == 0 ? out : "python3 failed: " + result.err;
}

mode_t file_mode(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_mode & 07777 : 0;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class Ctl : public ::testing::Test {
 protected:
  std::vector<std::string> with_socket(std::vector<std::string> options) const {
    options.insert(options.end(), {"--control-socket", socket});
    return options;
  }
  Captured ctl(std::vector<std::string> words, Millis limit = 30s) const {
    std::vector<std::string> argv{kReuserun, "ctl", "--control-socket", socket};
    argv.insert(argv.end(), words.begin(), words.end());
    return run_captured(argv, limit);
  }

  TempDir sockets;
  std::string socket = sockets.file("ctl.sock");
};

TEST_F(Ctl, RestartWaitsForTheNewGenerationAndPrintsItsPid) {
  TwoGenerations generations(with_socket({}), "--start-delay 300");
  ASSERT_GT(generations.first, 0);
  const Captured restart = ctl({"restart"});
  EXPECT_EQ(restart.exit_code, 0) << restart.err;
  // It returned after the switch: the new generation answers (the old one may still take a
  // connection or two before it handles its stop signal, hence the bounded wait).
  std::optional<pid_t> now;
  ASSERT_TRUE(wait_until(
      [&] {
        now = serving_pid(generations.launch->port);
        return now && *now != generations.first;
      },
      5s));
  EXPECT_NE(*now, generations.first);
  EXPECT_TRUE(contains(restart.out, "generation 2 (pid " + std::to_string(*now) + ") is serving"))
      << restart.out;
  EXPECT_EQ(restart.err, "");
}

struct FailureKind {
  const char* name;
  std::vector<std::string> options;
  std::string next_args;  // "{port}" becomes the listening port
  int exit_code;
  const char* outcome;
};
void PrintTo(const FailureKind& kind, std::ostream* out) { *out << kind.name; }

class CtlFailure : public Ctl, public ::testing::WithParamInterface<FailureKind> {};

TEST_P(CtlFailure, ExitsWithItsOwnStatusAndTheOldGenerationKeepsServing) {
  const FailureKind& kind = GetParam();
  TwoGenerations generations(with_socket(kind.options), "");
  ASSERT_GT(generations.first, 0);
  std::string next_args = kind.next_args;
  if (const auto at = next_args.find("{port}"); at != std::string::npos)
    next_args.replace(at, 6, std::to_string(generations.launch->port));
  generations.dir.write("args", next_args);
  const Captured restart = ctl({"restart"});
  EXPECT_EQ(restart.exit_code, kind.exit_code) << restart.err;
  EXPECT_TRUE(contains(restart.err, std::string("restart failed (") + kind.outcome + ")"))
      << restart.err;
  EXPECT_TRUE(contains(restart.err,
                       "generation 1 (pid " + std::to_string(generations.first) + ") is serving"))
      << restart.err;
  EXPECT_EQ(restart.out, "");
  // A rejected generation that listens by itself may answer until it has exited.
  EXPECT_TRUE(
      wait_until([&] { return child_pids(generations.launch->process.pid()).size() == 1; }, 10s));
  EXPECT_EQ(serving_pid(generations.launch->port), generations.first);

  // The same outcome as JSON, on stdout, with the same exit status.
  const Captured json = ctl({"--json", "restart"});
  EXPECT_EQ(json.exit_code, kind.exit_code);
  EXPECT_EQ(json_eval(json.out, "d['restart']['outcome']"), kind.outcome) << json.out;
  EXPECT_EQ(json_eval(json.out, "d['restart']['serving_pid']"), std::to_string(generations.first));
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, CtlFailure,
    ::testing::Values(FailureKind{"Exited", {}, "--exit-after 0", 10, "exited"},
                      // A generation that listens by itself instead of adopting fd 3.
                      FailureKind{"GateFailed",
                                  {"--ready", "delay:300ms", "--strict-adoption",
                                   "--no-bind-takeover"},
                                  "--listen {port} --reuseport",
                                  11,
                                  "gate-failed"},
                      // One that binds reuserun's port itself with an IPv6 socket, where
                      // reuserun's (--bind 127.0.0.1) is IPv4: it cannot be given it.
                      FailureKind{"OtherFamily", {}, "--listen6 {port}", 11, "gate-failed"},
                      FailureKind{
                          "TimedOut", {"--ready-timeout", "1s"}, "--no-accept", 12, "timed-out"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(Ctl, ACommandThatCannotBeExecutedAnyMoreIsASpawnFailure) {
  TempDir dir;
  const std::string script = dir.file("server");
  dir.write("server", "#!/bin/sh\nexec " + kTestServer + "\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  Launch launch(with_socket({}), {script});
  const pid_t first = launch.wait_serving();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::chmod(script.c_str(), 0644), 0);  // a broken deploy
  const Captured restart = ctl({"restart"});
  EXPECT_EQ(restart.exit_code, 13) << restart.err;
  EXPECT_TRUE(contains(restart.err, "restart failed (spawn-failed)")) << restart.err;
  EXPECT_TRUE(contains(restart.err, "Permission denied")) << restart.err;
  EXPECT_EQ(serving_pid(launch.port), first);
}

TEST_F(Ctl, StopDuringTheRestartAnswersTheWaitingClient) {
  TwoGenerations generations(with_socket({}), "--start-delay 5000");
  ASSERT_GT(generations.first, 0);
  auto restart = std::async(std::launch::async, [&] { return ctl({"restart"}); });
  ASSERT_TRUE(wait_for_status(
      generations.launch->process.pid(),
      [](const StatusView& status) { return !status.pids_of(2).empty(); }, 10s));
  generations.launch->process.signal(SIGTERM);
  const Captured answer = restart.get();
  EXPECT_EQ(answer.exit_code, 14) << answer.err;
  EXPECT_TRUE(contains(answer.err, "reuserun is stopping")) << answer.err;
  EXPECT_EQ(generations.launch->process.wait_exit(15s), 0);
}

TEST_F(Ctl, ConcurrentClientsDuringOneRestartAllGetItsResult) {
  TwoGenerations generations(with_socket({}), "--start-delay 1500");
  ASSERT_GT(generations.first, 0);
  std::vector<std::future<Captured>> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(std::async(std::launch::async, [&] { return ctl({"restart"}); }));
  std::vector<std::string> answers;
  for (auto& client : clients) {
    const Captured answer = client.get();
    EXPECT_EQ(answer.exit_code, 0) << answer.err;
    answers.push_back(answer.out);
  }
  // Requests that arrive while a restart runs share the next one: at most two restarts for
  // three clients, and every client was told about one that began after its request.
  const auto status = ctl_status(generations.launch->process.pid());
  ASSERT_TRUE(status.has_value());
  const int restarts = status->restarts;
  ASSERT_TRUE(status->last_restart.has_value());
  EXPECT_TRUE(status->last_restart->succeeded);
  EXPECT_GE(restarts, 1);
  EXPECT_LE(restarts, 2);
  for (const auto& answer : answers)
    EXPECT_TRUE(contains(answer, "generation 2 ") || contains(answer, "generation 3 ")) << answer;
}

TEST_F(Ctl, StatusDescribesGenerationsAndTheLastRestart) {
  TwoGenerations generations(with_socket({}), "");
  ASSERT_GT(generations.first, 0);
  ASSERT_EQ(ctl({"restart"}).exit_code, 0);
  std::optional<pid_t> second;  // the old generation may take a last connection: wait
  ASSERT_TRUE(wait_until(
      [&] {
        second = serving_pid(generations.launch->port);
        return second && *second != generations.first;
      },
      5s));

  const Captured text = ctl({"status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "generation 2: pid " + std::to_string(*second) + ", serving"))
      << text.out;
  EXPECT_TRUE(contains(text.out, "last restart: generation 2 succeeded")) << text.out;

  const Captured json = ctl({"status", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const std::string& d = json.out;
  EXPECT_EQ(json_eval(d, "d['schema']"), "1") << d;
  EXPECT_EQ(json_eval(d, "d['pid']"), std::to_string(generations.launch->process.pid()));
  EXPECT_EQ(json_eval(d, "d['state']"), "serving");
  EXPECT_EQ(json_eval(d, "d['serving_generation']"), "2");
  EXPECT_EQ(json_eval(d, "d['listeners'][0]['address']"),
            "127.0.0.1:" + std::to_string(generations.launch->port));
  EXPECT_EQ(json_eval(d, "d['listeners'][0]['name']"), "reuserun");
  EXPECT_EQ(json_eval(d, "[g['pid'] for g in d['generations'] if g['state'] == 'serving']"),
            "[" + std::to_string(*second) + "]");
  EXPECT_EQ(json_eval(d, "all(g['uptime_seconds'] >= 0 for g in d['generations'])"), "True");
  EXPECT_EQ(json_eval(d, "d['uptime_seconds'] > 0"), "True");
  EXPECT_EQ(json_eval(d, "d['restarts']"), "1");
  EXPECT_EQ(json_eval(d, "d['last_restart']['outcome']"), "succeeded");
  EXPECT_EQ(json_eval(d, "d['last_restart']['pid']"), std::to_string(*second));
  EXPECT_EQ(json_eval(d, "d['last_restart_seconds_ago'] >= 0"), "True");
}

TEST_F(Ctl, TheSocketIsTheOwnersOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user (nobody)";
  Launch launch(with_socket({}), {kTestServer});
  ASSERT_GT(launch.wait_serving(), 0);
  EXPECT_EQ(file_mode(socket), 0600u);
  // A copy of reuserun that nobody may run, in a directory nobody may enter.
  TempDir bin;
  const std::string copy = bin.file("reuserun");
  std::filesystem::copy_file(kReuserun, copy);
  ASSERT_EQ(::chmod(bin.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(copy.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sockets.path().c_str(), 0755), 0);
  const std::vector<std::string> as_nobody{
      "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy, "ctl",
      "--control-socket", socket,          "restart"};

  // The file mode turns nobody away.
  const Captured refused = run_captured(as_nobody);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_TRUE(contains(refused.err, "Permission denied")) << refused.err;

  // And with the mode opened up, the peer credentials still do.
  ASSERT_EQ(::chmod(socket.c_str(), 0666), 0);
  const Captured denied = run_captured(as_nobody);
  EXPECT_EQ(denied.exit_code, 1) << denied.err;
  EXPECT_TRUE(contains(denied.err, "permission denied: uid 65534")) << denied.err;
  EXPECT_EQ(launch.process.count_in_log("restart requested"), 0);
}

TEST(CtlDefaults, TheSocketLivesUnderXdgRuntimeDirAndIsFoundThere) {
  TempDir runtime;
  const std::vector<std::string> env{"XDG_RUNTIME_DIR=" + runtime.path()};
  Launch launch({}, {kTestServer}, env);
  ASSERT_GT(launch.wait_serving(), 0);
  const std::string socket = runtime.file("reuserun/" + std::to_string(launch.port) + ".sock");
  EXPECT_EQ(file_mode(socket), 0600u);
  EXPECT_EQ(file_mode(runtime.file("reuserun")), 0700u);

  const Captured by_port =
      run_captured({kReuserun, "ctl", "--port", std::to_string(launch.port), "status"}, 30s, env);
  EXPECT_EQ(by_port.exit_code, 0) << by_port.err;
  EXPECT_TRUE(contains(by_port.out, "reuserun pid " + std::to_string(launch.process.pid())));
  const Captured only_one = run_captured({kReuserun, "ctl", "status"}, 30s, env);
  EXPECT_EQ(only_one.exit_code, 0) << only_one.err;

  launch.process.signal(SIGTERM);
  EXPECT_EQ(launch.process.wait_exit(10s), 0);
  EXPECT_EQ(file_mode(socket), 0u) << "the socket file is removed at exit";
  const Captured gone = run_captured({kReuserun, "ctl", "status"}, 30s, env);
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(contains(gone.err, "no control socket in " + runtime.path() + "/reuserun"))
      << gone.err;
}

// A unix socket file at `path` with `backlog` connections queued on it and never accepted
// (-1: none listens: the file a killed reuserun leaves behind). Its fds stay open while it
// lives.
class SocketFile {
 public:
  SocketFile(const std::string& path, int backlog) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    const auto* name = reinterpret_cast<const sockaddr*>(&address);
    fds_.push_back(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    bound_ = ::bind(fds_.front(), name, sizeof address) == 0;
    if (backlog < 0) {
      close();
      return;
    }
    bound_ = bound_ && ::listen(fds_.front(), backlog) == 0;
    for (int i = 0; i <= backlog && bound_; ++i) {
      fds_.push_back(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      bound_ = ::connect(fds_.back(), name, sizeof address) == 0;
    }
  }
  ~SocketFile() { close(); }
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  bool ok() const { return bound_; }

 private:
  void close() {
    for (const int fd : fds_) ::close(fd);
    fds_.clear();
  }
  std::vector<int> fds_;
  bool bound_ = false;
};

// Issue 27, finding 6: `ctl` without --port listed 89 sockets, 88 of them left by killed runs,
// and gave up. A socket that refuses a connection is dead: it is removed, and the one live
// reuserun is found.
TEST(CtlDefaults, DeadSocketsAreRemovedAndTheOneLiveReuserunIsFound) {
  TempDir runtime;
  const std::vector<std::string> env{"XDG_RUNTIME_DIR=" + runtime.path()};
  Launch launch({}, {kTestServer}, env);
  ASSERT_GT(launch.wait_serving(), 0);
  for (const char* name : {"1.sock", "2.sock"}) {
    SocketFile dead(runtime.file("reuserun/") + name, -1);
    ASSERT_TRUE(dead.ok());
  }
  ASSERT_NE(file_mode(runtime.file("reuserun/1.sock")), 0u) << "the dead socket's file stays";

  const Captured status = run_captured({kReuserun, "ctl", "status"}, 30s, env);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(contains(status.out, "reuserun pid " + std::to_string(launch.process.pid())))
      << status.out;
  EXPECT_EQ(file_mode(runtime.file("reuserun/1.sock")), 0u) << "removed";
  EXPECT_EQ(file_mode(runtime.file("reuserun/2.sock")), 0u) << "removed";
  EXPECT_NE(file_mode(runtime.file("reuserun/" + std::to_string(launch.port) + ".sock")), 0u);
}

// A socket whose queue is full answers EAGAIN, not a refusal: a busy reuserun, kept, and named
// with the other live ones.
TEST(CtlDefaults, ABusySocketIsKeptAndNamedWithTheLiveOnes) {
  TempDir runtime;
  const std::vector<std::string> env{"XDG_RUNTIME_DIR=" + runtime.path()};
  Launch launch({}, {kTestServer}, env);
  ASSERT_GT(launch.wait_serving(), 0);
  const SocketFile busy(runtime.file("reuserun/1.sock"), 0);
  ASSERT_TRUE(busy.ok());
  const SocketFile dead(runtime.file("reuserun/2.sock"), -1);

  const Captured status = run_captured({kReuserun, "ctl", "status"}, 30s, env);
  EXPECT_EQ(status.exit_code, 1);
  const std::string live = runtime.file("reuserun/" + std::to_string(launch.port) + ".sock");
  EXPECT_TRUE(contains(status.err, "several reuserun control sockets (" +
                                       runtime.file("reuserun/1.sock") + ", " + live + ")"))
      << status.err;
  EXPECT_TRUE(contains(status.err, "--control-socket")) << status.err;
  EXPECT_NE(file_mode(runtime.file("reuserun/1.sock")), 0u) << "busy, not dead";
  EXPECT_EQ(file_mode(runtime.file("reuserun/2.sock")), 0u);
}

// Issue 27, finding 6: where the socket went was nowhere to be seen; a ctl that looks elsewhere
// (another XDG_RUNTIME_DIR, sudo) is pointed at it by the first lines of the log.
TEST_F(Ctl, ThePathIsLoggedAtStartWithTheCtlThatReachesIt) {
  Launch named(with_socket({}), {kTestServer});
  ASSERT_GT(named.wait_serving(), 0);
  EXPECT_TRUE(contains(named.process.log(),
                       "control socket: " + socket + " (reuserun ctl --control-socket " + socket))
      << named.process.log();

  TempDir runtime;
  Launch by_port({}, {kTestServer}, {"XDG_RUNTIME_DIR=" + runtime.path()});
  ASSERT_GT(by_port.wait_serving(), 0);
  const std::string port = std::to_string(by_port.port);
  EXPECT_TRUE(contains(by_port.process.log(), "control socket: " + runtime.file("reuserun/") +
                                                  port + ".sock (reuserun ctl --port " + port))
      << by_port.process.log();
}

// `argv` in a mount namespace of its own, whose /tmp is `tmp`.
std::vector<std::string> with_tmp(const TempDir& tmp, const std::vector<std::string>& argv) {
  std::vector<std::string> wrapped{"/usr/bin/unshare", "--mount", "--propagation", "private"};
  wrapped.insert(wrapped.end(), {"--", "/bin/sh", "-c", "mount --bind \"$0\" /tmp && exec \"$@\""});
  wrapped.push_back(tmp.path());
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

// Issue 27, finding 6: a user without XDG_RUNTIME_DIR (cron, su, a container) got no control
// socket, only "Permission denied" for /run/reuserun. It now gets /tmp/reuserun-UID, its own,
// and ctl looks there too. The test runs in a mount namespace with a /tmp of its own.
TEST(CtlDefaults, AUserWithoutXdgRuntimeDirGetsADirectoryOfItsOwnInTmp) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounts a /tmp of its own and runs reuserun as nobody";
  TempDir tmp;  // the namespace's /tmp
  std::filesystem::create_directory(tmp.file("bin"));
  for (const std::string& program : {kReuserun, kTestServer}) {
    const std::string copy = tmp.file("bin/" + std::filesystem::path(program).filename().string());
    std::filesystem::copy_file(program, copy);
    ASSERT_EQ(::chmod(copy.c_str(), 0755), 0);
  }
  ASSERT_EQ(::chmod(tmp.file("bin").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(tmp.path().c_str(), 01777), 0);
  const int port = probe_free_port();
  Process reuserun(with_tmp(
      tmp, as_nobody({"/usr/bin/env", "-u", "XDG_RUNTIME_DIR", "/tmp/bin/reuserun", "--port",
                      std::to_string(port), "--bind", "127.0.0.1", "--", "/tmp/bin/test_server"})));
  ASSERT_TRUE(wait_until([&] { return serving_pid(port).has_value(); }, 10s));
  const std::string socket = tmp.file("reuserun-65534/" + std::to_string(port) + ".sock");
  EXPECT_EQ(file_mode(socket), 0600u);
  EXPECT_EQ(file_mode(tmp.file("reuserun-65534")), 0700u);

  std::vector<std::string> ctl{"/usr/bin/nsenter", "-t", std::to_string(reuserun.pid()), "-m"};
  const auto ctl_argv =
      as_nobody({"/usr/bin/env", "-u", "XDG_RUNTIME_DIR", "/tmp/bin/reuserun", "ctl", "status"});
  ctl.insert(ctl.end(), ctl_argv.begin(), ctl_argv.end());
  const Captured status = run_captured(ctl);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(contains(status.out, "reuserun pid " + std::to_string(reuserun.pid()))) << status.out;
  reuserun.signal(SIGTERM);
  EXPECT_EQ(reuserun.wait_exit(10s), 0);
}

TEST_F(Ctl, AStaleSocketIsReplacedAndALiveOneIsNot) {
  {
    Launch killed(with_socket({"--pdeathsig"}), {kTestServer});  // leaves no orphan serving
    ASSERT_GT(killed.wait_serving(), 0);
    killed.process.signal(SIGKILL);
    ASSERT_TRUE(killed.process.wait_exit(10s));
  }
  ASSERT_NE(file_mode(socket), 0u) << "SIGKILL leaves the socket file behind";
  Launch second(with_socket({}), {kTestServer});
  ASSERT_GT(second.wait_serving(), 0);
  const Captured status = ctl({"status"});
  EXPECT_TRUE(contains(status.out, "reuserun pid " + std::to_string(second.process.pid())))
      << status.out << status.err;

  Launch third(with_socket({}), {kTestServer});
  EXPECT_EQ(third.process.wait_exit(10s), 1);
  EXPECT_TRUE(contains(third.process.log(), "another process listens on it"));
  EXPECT_FALSE(contains(third.process.log(), "generation 1 started")) << "no child was started";
  EXPECT_EQ(ctl({"status"}).exit_code, 0) << "the running reuserun keeps its socket";
}

TEST(CtlUsage, BadRequestsAreUsageErrors) {
  const Captured bogus = run_captured({kReuserun, "ctl", "--control-socket", "/nonexistent", "go"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(bogus.err,
            "reuserun ctl: unknown request go: expected restart, status or upgrade (see reuserun "
            "ctl --help)\n");
  const Captured nothing =
      run_captured({kReuserun, "ctl", "--control-socket", "/nonexistent/x", "status"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_TRUE(contains(nothing.err, "no control socket at /nonexistent/x")) << nothing.err;
}

// Issue 27, finding 6: when ctl cannot find or reach the socket, its line says how to name
// another one: reuserun may run with another --control-socket, XDG_RUNTIME_DIR or user.
TEST(CtlUsage, EveryLineAboutAnUnreachableSocketNamesTheWayOut) {
  TempDir runtime;
  const std::vector<std::string> env{"XDG_RUNTIME_DIR=" + runtime.path()};
  const auto ctl = [&](std::vector<std::string> words) {
    words.insert(words.begin(), {kReuserun, "ctl"});
    return run_captured(words, 30s, env);
  };
  const SocketFile dead(runtime.file("dead.sock"), -1);
  std::vector<Captured> failures{ctl({"--port", "1", "status"}), ctl({"status"}),
                                 ctl({"--control-socket", runtime.file("none.sock"), "status"}),
                                 ctl({"--control-socket", runtime.file("dead.sock"), "status"})};
  ASSERT_EQ(::mkdir(runtime.file("reuserun").c_str(), 0700), 0);
  failures.push_back(ctl({"status"}));
  for (const Captured& failure : failures) {
    EXPECT_EQ(failure.exit_code, 1) << failure.err;
    EXPECT_TRUE(contains(failure.err, "give that path to --control-socket")) << failure.err;
  }
}

// Issue 27, finding 6: with --json, a reuserun that cannot be reached printed nothing on stdout,
// though the man page promises JSON whatever the outcome. A script parses the error instead.
TEST(CtlUsage, AnUnreachableReuserunIsStillOneJsonObjectOnStdout) {
  for (const char* verb : {"status", "restart", "upgrade"}) {
    const Captured nothing =
        run_captured({kReuserun, "ctl", "--control-socket", "/nonexistent/x", "--json", verb});
    EXPECT_EQ(nothing.exit_code, 1) << verb;
    EXPECT_EQ(json_eval(nothing.out, "d['schema']"), "1") << verb << ": " << nothing.out;
    EXPECT_TRUE(contains(json_eval(nothing.out, "d['error']"), "no control socket at /nonexistent/x"))
        << verb << ": " << nothing.out;
    EXPECT_TRUE(contains(nothing.err, "no control socket at /nonexistent/x")) << "and on stderr";
  }
}

}  // namespace
}  // namespace rrtest
