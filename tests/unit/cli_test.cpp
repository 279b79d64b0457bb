#include "cli.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <regex>
#include <sstream>

#include "control.hpp"
#include "exit_code.hpp"

namespace reuserun {
namespace {

using namespace std::chrono_literals;

struct Parsed {
  CommandLine result;
  std::string out;
  std::string err;
};

Parsed parse(std::vector<const char*> args) {
  args.insert(args.begin(), "reuserun");
  std::ostringstream out, err;
  auto result = parse_command_line(static_cast<int>(args.size()), args.data(), out, err);
  return {std::move(result), out.str(), err.str()};
}

TEST(Cli, ChildCommandIsTakenVerbatimAfterDoubleDash) {
  const auto parsed = parse({"--port", "8080", "--", "./srv", "--port", "9", "-x", "--"});
  ASSERT_TRUE(parsed.result.config) << parsed.err;
  EXPECT_EQ(parsed.result.config->listen.at(0).port, 8080);
  EXPECT_EQ(parsed.result.config->command,
            (std::vector<std::string>{"./srv", "--port", "9", "-x", "--"}));
}

TEST(Cli, ChildCommandMayStartWithADashAfterDoubleDash) {
  const auto parsed = parse({"--port", "8080", "--", "-weird-name"});
  ASSERT_TRUE(parsed.result.config) << parsed.err;
  EXPECT_EQ(parsed.result.config->command, std::vector<std::string>{"-weird-name"});
}

TEST(Cli, ChildCommandStartsAtTheFirstWordThatIsNotAnOption) {
  const auto parsed = parse({"--port", "8080", "./srv", "--bind", "x"});
  ASSERT_TRUE(parsed.result.config) << parsed.err;
  EXPECT_EQ(parsed.result.config->command, (std::vector<std::string>{"./srv", "--bind", "x"}));
  EXPECT_FALSE(parsed.result.config->listen.at(0).address);
}

TEST(Cli, Defaults) {
  const auto parsed = parse({"--port", "1", "srv"});
  ASSERT_TRUE(parsed.result.config);
  const Config& config = *parsed.result.config;
  EXPECT_EQ(config.ready_timeout, 30s);
  EXPECT_EQ(config.drain_timeout, 30s);
  EXPECT_EQ(config.stop_timeout, 10s);
  EXPECT_EQ(config.readiness.gates, std::vector<GateSpec>{GateSpec{}}) << "auto";
  EXPECT_EQ(config.readiness.interval, 50ms);
  EXPECT_FALSE(config.readiness.strict_adoption);
  EXPECT_EQ(config.stop_signal, SIGTERM);
  EXPECT_EQ(config.backlog, SOMAXCONN);
  EXPECT_EQ(config.free_port, FreePortMode::safe);
  EXPECT_EQ(config.watchdog, Duration::zero()) << "no watchdog for the children";
}

TEST(Cli, FreePortTakesAModeAndNoFreePortIsOff) {
  EXPECT_EQ(parse({"--port", "1", "--free-port", "force", "srv"}).result.config->free_port,
            FreePortMode::force);
  EXPECT_EQ(parse({"--port", "1", "--free-port=off", "srv"}).result.config->free_port,
            FreePortMode::off);
  const auto bad = parse({"--port", "1", "--free-port", "all", "srv"});
  EXPECT_FALSE(bad.result.config);
  EXPECT_NE(bad.err.find("invalid value 'all' for --free-port: expected safe, force or off"),
            std::string::npos)
      << bad.err;
}

TEST(Cli, ConvertsValues) {
  const auto parsed =
      parse({"--port", "0", "--bind", "::1", "--ready-timeout", "1.5s", "--drain-timeout", "2m",
             "--stop-signal", "QUIT", "--no-free-port", "--ready", "exec:true", "--ready",
             "delay:2s", "--strict-adoption", "--watchdog", "20s", "srv"});
  ASSERT_TRUE(parsed.result.config) << parsed.err;
  EXPECT_EQ(format_address(*parsed.result.config->listen.at(0).address), "[::1]:0");
  EXPECT_EQ(parsed.result.config->ready_timeout, 1500ms);
  EXPECT_EQ(parsed.result.config->drain_timeout, 2min);
  EXPECT_EQ(parsed.result.config->stop_signal, SIGQUIT);
  EXPECT_EQ(parsed.result.config->free_port, FreePortMode::off);
  EXPECT_EQ(parsed.result.config->readiness.gates,
            (std::vector<GateSpec>{{GateKind::exec, "true", {}}, {GateKind::delay, "", 2s}}));
  EXPECT_TRUE(parsed.result.config->readiness.strict_adoption);
  EXPECT_EQ(parsed.result.config->watchdog, 20s);
}

TEST(Cli, EnvironmentIsTheFallbackAndTheCommandLineWins) {
  ::setenv("REUSERUN_DRAIN_TIMEOUT", "7s", 1);
  ::setenv("REUSERUN_PORT", "9000", 1);
  const auto from_env = parse({"srv"});
  const auto overridden = parse({"--drain-timeout", "3s", "srv"});
  ::unsetenv("REUSERUN_DRAIN_TIMEOUT");
  ::unsetenv("REUSERUN_PORT");
  ASSERT_TRUE(from_env.result.config) << from_env.err;
  EXPECT_EQ(from_env.result.config->drain_timeout, 7s);
  EXPECT_EQ(from_env.result.config->listen.at(0).port, 9000);
  ASSERT_TRUE(overridden.result.config) << overridden.err;
  EXPECT_EQ(overridden.result.config->drain_timeout, 3s);
}

// Each bad input: exit 2 and exactly one line on stderr that names what is wrong.
TEST(Cli, PortAndListenGiveListenersInOrder) {
  const auto parsed =
      parse({"--port", "8080", "--bind", "127.0.0.1", "--listen", "[::1]:9090,name=admin",
             "--listen", "unix:/tmp/x.sock,mode=0600", "--ready", "notify", "srv"});
  ASSERT_TRUE(parsed.result.config) << parsed.err;
  const auto& listen = parsed.result.config->listen;
  ASSERT_EQ(listen.size(), 3u);
  EXPECT_EQ(describe_listen_spec(listen[0]), "127.0.0.1:8080");
  EXPECT_EQ(listen[0].name, "reuserun");
  EXPECT_EQ(describe_listen_spec(listen[1]), "[::1]:9090");
  EXPECT_EQ(listen[1].name, "admin");
  EXPECT_EQ(describe_listen_spec(listen[2]), "unix:/tmp/x.sock");
  const auto listen_only = parse({"--listen", "8080", "srv"});
  ASSERT_TRUE(listen_only.result.config) << listen_only.err;
  EXPECT_EQ(listen_only.result.config->listen.size(), 1u);
}

TEST(Cli, BadInputGetsOneLineNamingIt) {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--port", "70000", "srv"}, "--port"},
      {{"--port", "http", "srv"}, "--port"},
      {{"srv"}, "--port"},
      {{"--port", "1", "--ready-timeout", "5x", "srv"}, "--ready-timeout"},
      {{"--port", "1", "--drain-timeout", "-1s", "srv"}, "--drain-timeout"},
      {{"--port", "1", "--bind", "localhost", "srv"}, "--bind"},
      {{"--port", "1", "--stop-signal", "SIGFOO", "srv"}, "--stop-signal"},
      {{"--port", "1", "--log-level", "loud", "srv"}, "--log-level"},
      {{"--port", "1", "--watchdog", "often", "srv"}, "--watchdog"},
      {{"--port", "1", "--ready", "tcp", "srv"}, "--ready"},
      {{"--port", "1", "--ready", "delay:soon", "srv"}, "--ready"},
      {{"--port", "1"}, "command"},
      {{"--port", "1", "--"}, "command"},
      {{"--port", "1", "--ready-cmd", "true", "srv"}, "--ready-cmd"},
      {{"--port", "1", "-x", "srv"}, "-x"},
      {{"--bind", "::1", "srv"}, "--bind needs --port"},
      {{"--listen", "unix:rel", "srv"}, "--listen"},
      {{"--listen", "unix:/tmp/a.sock", "--ready", "accept", "srv"},
       "--ready accept probes a TCP listener"},
      {{"--listen", "udp:5353", "--ready", "http:/", "srv"}, "--ready http:/ probes a TCP"},
      {{"--listen", "udp:70000", "srv"}, "--listen"},
      {{"--listen", "udp:127.0.0.1:53,mode=0600", "srv"}, "--listen"},
      {{"--listen", "unix-dgram:rel", "srv"}, "--listen"},
  };
  for (const auto& [args, named] : cases) {
    const auto parsed = parse(args);
    EXPECT_FALSE(parsed.result.config) << named;
    EXPECT_EQ(parsed.result.exit_code, kExitUsage) << named;
    EXPECT_NE(parsed.err.find(named), std::string::npos) << parsed.err;
    EXPECT_EQ(std::count(parsed.err.begin(), parsed.err.end(), '\n'), 1) << parsed.err;
  }
}

TEST(Cli, AutoDecidesByProcAloneWithoutATcpListener) {
  for (const char* listen : {"udp:5353", "unix-dgram:/run/a.sock", "unix:/run/a.sock"}) {
    const auto parsed = parse({"--listen", listen, "srv"});
    EXPECT_TRUE(parsed.result.config) << listen << ": " << parsed.err;
  }
}

TEST(Cli, HelpShowsDefaultsAndExitsZero) {
  const auto parsed = parse({"--help"});
  EXPECT_FALSE(parsed.result.config);
  EXPECT_EQ(parsed.result.exit_code, kExitOk);
  EXPECT_NE(parsed.out.find("--drain-timeout"), std::string::npos);
  EXPECT_NE(parsed.out.find("30s"), std::string::npos);
  EXPECT_NE(parsed.out.find("REUSERUN_PORT"), std::string::npos);
}

// Issue 27, finding 9: the usage line said "reuserun [OPTIONS]", without COMMAND or `ctl`.
TEST(Cli, HelpStartsWithBothUsageLines) {
  EXPECT_TRUE(parse({"--help"})
                  .out.starts_with("Usage: reuserun [OPTIONS] [--] COMMAND [ARGS...]\n"
                                   "       reuserun ctl [OPTIONS] restart|status|upgrade\n"))
      << parse({"--help"}).out;
  EXPECT_TRUE(parse({"ctl", "--help"})
                  .out.starts_with("Usage: reuserun ctl [OPTIONS] restart|status|upgrade\n"))
      << parse({"ctl", "--help"}).out;
}

// Issue 27, finding 9: values showed as CLI11's types (TEXT, INT:INT in [0 - 65535]).
TEST(Cli, HelpNamesWhatEachValueIsNotItsType) {
  const std::regex type(R"(\b(TEXT|U?INT|FLOAT|BOOLEAN)\b)");
  for (const std::vector<const char*>& args :
       {std::vector<const char*>{"--help"}, std::vector<const char*>{"ctl", "--help"}}) {
    const std::string help = parse(args).out;
    std::smatch found;
    EXPECT_FALSE(std::regex_search(help, found, type)) << found.str() << " in\n" << help;
  }
  const std::string help = parse({"--help"}).out;
  for (const char* named : {"--port PORT ", "--listen SPEC ", "--ready-timeout DURATION ",
                            "--ready GATE ", "--user USER ", "--workers N "})
    EXPECT_NE(help.find(named), std::string::npos) << named;
}

// The lines of `help` from the one that is `heading` to the next blank one.
std::string section(const std::string& help, const std::string& heading) {
  const auto begin = help.find("\n" + heading + "\n");
  if (begin == std::string::npos) return "";
  return help.substr(begin + 1, help.find("\n\n", begin + 1) - begin);
}

// Issue 27, finding 9: related options were scattered (--drain-timeout between the readiness
// options and --stop-signal).
TEST(Cli, HelpGroupsRelatedOptions) {
  const std::string help = parse({"--help"}).out;
  const std::vector<std::pair<std::string, std::vector<std::string>>> groups = {
      {"Sockets:", {"--port", "--bind", "--listen", "--backlog", "--free-port"}},
      {"Readiness and restarts:", {"--ready", "--ready-timeout", "--ready-interval"}},
      {"Stopping:", {"--drain-timeout", "--stop-timeout", "--stop-signal"}},
      {"Children:", {"--workers", "--user", "--group", "--env", "--chdir"}},
      {"Control and upgrades:", {"--control-socket", "--pid-file", "--reexec-as"}},
      {"Logging:", {"--log-level", "--log-format"}},
  };
  for (const auto& [heading, options] : groups)
    for (const auto& option : options)
      EXPECT_NE(section(help, heading).find("  " + option + " "), std::string::npos)
          << option << " under " << heading << " in\n"
          << help;
}

// Issue 27, finding 9: exit status 6 was missing. Every status of exit_code.hpp (and of ctl)
// has its line.
TEST(Cli, HelpListsEveryExitStatus) {
  const std::string run = section(parse({"--help"}).out, "Exit status:");
  for (const int code : {kExitOk, kExitFailure, kExitUsage, kExitListen, kExitForcedStop,
                         kExitPidFile, kExitHandover, kExitNotExecutable, kExitNotFound})
    EXPECT_NE(run.find("\n  " + std::to_string(code) + " "), std::string::npos) << code << run;
  const std::string ctl = section(parse({"ctl", "--help"}).out, "Exit status:");
  for (const int code : {kExitOk, kCtlUnreachable, kExitUsage, kCtlExited, kCtlGateFailed,
                         kCtlTimedOut, kCtlSpawnFailed, kCtlStopping, kCtlUpgradeFailed})
    EXPECT_NE(ctl.find("\n  " + std::to_string(code) + " "), std::string::npos) << code << ctl;
}

TEST(Cli, HelpShowsThreeExamples) {
  const std::string examples = section(parse({"--help"}).out, "Examples:");
  std::size_t commands = 0;
  for (std::size_t at = examples.find("\n  reuserun "); at != std::string::npos;
       at = examples.find("\n  reuserun ", at + 1))
    ++commands;
  EXPECT_EQ(commands, 3u) << examples;
}

// Issue 27, finding 9: `reuserun ctl --prot` said "The following argument was not expected",
// where the main parser says "unknown option --prot (see reuserun --help)".
TEST(Cli, CtlTyposAreWordedAsTheMainParsersAre) {
  const auto main_typo = parse({"--prot", "8080", "srv"});
  const auto ctl_typo = parse({"ctl", "--prot", "8080", "status"});
  EXPECT_EQ(main_typo.err, "reuserun: unknown option --prot (see reuserun --help)\n");
  EXPECT_EQ(ctl_typo.err, "reuserun ctl: unknown option --prot (see reuserun ctl --help)\n");
  EXPECT_EQ(ctl_typo.result.exit_code, kExitUsage);

  const std::vector<std::pair<std::vector<const char*>, std::string>> ctl_cases = {
      {{"ctl", "stats"},
       "unknown request stats: expected restart, status or upgrade (see reuserun ctl --help)"},
      {{"ctl", "status", "now"},
       "unknown word now: expected nothing after the request (see reuserun ctl --help)"},
      {{"ctl"}, "no request given: usage: reuserun ctl [OPTIONS] restart|status|upgrade"},
  };
  for (const auto& [args, line] : ctl_cases) {
    const auto parsed = parse(args);
    EXPECT_EQ(parsed.err, "reuserun ctl: " + line + "\n");
    EXPECT_EQ(parsed.result.exit_code, kExitUsage);
    EXPECT_FALSE(parsed.result.ctl);
  }
  EXPECT_EQ(parse({"--port", "1"}).err,
            "reuserun: no command given: usage: reuserun [OPTIONS] [--] COMMAND [ARGS...]\n")
      << "the same shape as ctl's";
}

TEST(Cli, VersionExitsZero) {
  const auto parsed = parse({"--version"});
  EXPECT_EQ(parsed.result.exit_code, kExitOk);
  EXPECT_NE(parsed.out.find("reuserun"), std::string::npos);
}

// From a terminal a first start that keeps failing ends with a summary; under a supervisor,
// which has a restart policy of its own, reuserun keeps trying (issue 27, finding 3).
TEST(Cli, StartAttemptsAreBoundedOnlyAtATerminalThatNoSupervisorRuns) {
  EXPECT_EQ(default_start_attempts(true, false), kTerminalStartAttempts);
  EXPECT_EQ(default_start_attempts(true, true), 0);
  EXPECT_EQ(default_start_attempts(false, false), 0);
}

TEST(Cli, StartAttemptsTakeANumberOrUnlimited) {
  EXPECT_EQ(parse({"--port", "1", "--start-attempts", "5", "srv"}).result.config->start_attempts,
            5);
  EXPECT_EQ(
      parse({"--port", "1", "--start-attempts", "unlimited", "srv"}).result.config->start_attempts,
      0);
  const auto bad = parse({"--port", "1", "--start-attempts", "0", "srv"});
  EXPECT_EQ(bad.result.exit_code, kExitUsage);
  EXPECT_NE(bad.err.find("--start-attempts"), std::string::npos) << bad.err;
}

TEST(Cli, SubreaperIsTheDefaultAndNoSubreaperTurnsItOff) {
  EXPECT_TRUE(parse({"--port", "1", "srv"}).result.config->subreaper);
  EXPECT_FALSE(parse({"--port", "1", "--no-subreaper", "srv"}).result.config->subreaper);
  EXPECT_TRUE(parse({"--port", "1", "--nonblocking", "srv"}).result.config->nonblocking);
  EXPECT_FALSE(parse({"--port", "1", "srv"}).result.config->nonblocking);
}

}  // namespace
}  // namespace reuserun
