// What a worker is started with, decided without starting anything.
#include "launch_plan.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

const std::vector<HandedSocket> kSockets{{3, "http", "8080"}, {4, "admin", "127.0.0.1:9090"}};

// The value the child would see for `key`: the last one wins.
std::string value_of(const EnvPairs& variables, const std::string& key) {
  std::string found = "(unset)";
  for (const auto& [name, value] : variables)
    if (name == key) found = value;
  return found;
}

Config config_with(std::vector<std::string> command) {
  Config config;
  config.command = std::move(command);
  return config;
}

TEST(LaunchPlan, ArgvNamesTheFdsAndTheSystemdNamesFollowTheSockets) {
  const auto plan = plan_launch(config_with({"uvicorn", "--fd", "{fd:admin}", "app:app"}), kSockets,
                                {3, 1, {}}, {});
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan.value().argv, (std::vector<std::string>{"uvicorn", "--fd", "4", "app:app"}));
  EXPECT_EQ(plan.value().listen_fd_names, (std::vector<std::string>{"http", "admin"}));
  EXPECT_EQ(value_of(plan.value().variables, "REUSERUN_GENERATION"), "3");
  EXPECT_EQ(value_of(plan.value().variables, "REUSERUN_WORKER"), "1");
}

TEST(LaunchPlan, AnUnknownFdNameIsAnError) {
  const auto plan = plan_launch(config_with({"srv", "{fd:nope}"}), kSockets, {1, 0, {}}, {});
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("nope"), std::string::npos) << plan.error().message;
}

TEST(LaunchPlan, WithoutTheSystemdProtocolThereAreNoListenNames) {
  Config config = config_with({"srv"});
  config.protocols = {Protocol::einhorn};
  const auto plan = plan_launch(config, kSockets, {1, 0, {}}, {});
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan.value().listen_fd_names.empty());
  EXPECT_EQ(value_of(plan.value().variables, "EINHORN_FD_COUNT"), "2");
}

TEST(LaunchPlan, TheUsersHomeThenTheEnvFileThenEnvThenReuserunsOwn) {
  Config config = config_with({"srv"});
  config.user = 33;
  config.user_name = "www-data";
  config.user_home = "/var/www";
  config.env = {{"COLOR", "blue"}, {"HOME", "/srv/app"}};
  const EnvPairs env_file{{"COLOR", "red"}, {"VERSION", "7"}, {"REUSERUN_WORKER", "99"}};
  const EnvPairs variables = launch_variables(config, {2, 0, {8080, 8443}}, env_file);
  EXPECT_EQ(value_of(variables, "USER"), "www-data");
  EXPECT_EQ(value_of(variables, "LOGNAME"), "www-data");
  EXPECT_EQ(value_of(variables, "HOME"), "/srv/app") << "--env wins over the passwd entry";
  EXPECT_EQ(value_of(variables, "COLOR"), "blue") << "--env wins over the file";
  EXPECT_EQ(value_of(variables, "VERSION"), "7");
  EXPECT_EQ(value_of(variables, "REUSERUN_WORKER"), "0") << "reuserun's own come last";
  EXPECT_EQ(value_of(variables, "REUSERUN_PORTS"), "8080,8443");
}

TEST(LaunchPlan, WithoutUserNoIdentityVariablesAreSet) {
  const EnvPairs variables = launch_variables(config_with({"srv"}), {1, 0, {}}, {});
  EXPECT_EQ(value_of(variables, "HOME"), "(unset)") << "reuserun's own HOME is inherited";
  EXPECT_EQ(value_of(variables, "REUSERUN_PORTS"), "");
}

}  // namespace
}  // namespace reuserun
