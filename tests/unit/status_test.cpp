// What `reuserun ctl` prints: the JSON a script parses must stay valid whatever a reason says,
// and the request line protocol must reject what it does not know.
#include "status.hpp"

#include <gtest/gtest.h>

#include <set>

#include "control.hpp"

namespace reuserun {
namespace {

TEST(Status, JsonStringsEscapeQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("say \"hi\"\\now"), "\"say \\\"hi\\\"\\\\now\"");
  EXPECT_EQ(json_string("a\nb\tc\x01"), "\"a\\nb\\tc\\u0001\"");
}

TEST(Status, ARestartRefusedBeforeItBeganNamesNoGeneration) {
  RestartResult refused;
  refused.outcome = RestartOutcome::stopped;
  refused.reason = "reuserun is stopping";
  EXPECT_EQ(render_restart_text(refused),
            "restart failed (stopped): reuserun is stopping; no generation is serving\n");
  EXPECT_EQ(ctl_exit_code(refused.outcome), kCtlStopping);
}

TEST(Status, EveryRestartOutcomeHasItsOwnExitStatus) {
  std::set<int> codes;
  for (auto outcome :
       {RestartOutcome::succeeded, RestartOutcome::exited, RestartOutcome::gate_failed,
        RestartOutcome::timed_out, RestartOutcome::spawn_failed, RestartOutcome::stopped})
    codes.insert(ctl_exit_code(outcome));
  EXPECT_EQ(codes.size(), 6u);
  EXPECT_EQ(ctl_exit_code(RestartOutcome::succeeded), 0);
}

TEST(Status, JsonOfAStatusWithoutRestartsHasNulls) {
  Status status;
  status.pid = 42;
  status.state = "starting";
  const std::string json = render_status_json(status);
  EXPECT_NE(json.find(R"("serving_generation":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("last_restart":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("generations":[])"), std::string::npos) << json;
}

TEST(Status, AnUpgradeAnswerSaysWhatRunsNowOrWhyNothingChanged) {
  UpgradeResult done;
  done.succeeded = true;
  done.pid = 42;
  done.executable = "/usr/bin/reuserun";
  done.duration_seconds = 0.015;
  done.upgrades = 1;
  done.serving = 3;
  EXPECT_EQ(render_upgrade_text(done),
            "upgraded in 15ms: reuserun pid 42 runs /usr/bin/reuserun; generation 3 serves on\n");
  UpgradeResult failed = done;
  failed.succeeded = false;
  failed.reason = "the check run of /usr/bin/reuserun exited with \"status\" 3";
  failed.serving.reset();
  EXPECT_EQ(
      render_upgrade_text(failed),
      "upgrade failed: " + failed.reason + "; reuserun pid 42 runs on as it was; nothing serves\n");
  const std::string json = render_upgrade_json(failed);
  EXPECT_NE(json.find(R"("succeeded":false)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"(exited with \"status\" 3")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("serving_generation":null)"), std::string::npos) << json;
}

TEST(ControlProtocol, RequestLinesRoundTripAndUnknownOnesAreRejected) {
  for (const bool json : {false, true})
    for (const auto verb : {ControlRequest::Verb::restart, ControlRequest::Verb::status,
                            ControlRequest::Verb::upgrade}) {
      std::string line = format_control_request({verb, json});
      ASSERT_EQ(line.back(), '\n');
      line.pop_back();
      const auto parsed = parse_control_request(line);
      ASSERT_TRUE(parsed) << line;
      EXPECT_EQ(parsed->verb, verb);
      EXPECT_EQ(parsed->json, json);
    }
  EXPECT_FALSE(parse_control_request("reload"));
  EXPECT_FALSE(parse_control_request("upgrade now"));
  EXPECT_FALSE(parse_control_request(""));
  EXPECT_FALSE(parse_control_request(" json"));
}

}  // namespace
}  // namespace reuserun
