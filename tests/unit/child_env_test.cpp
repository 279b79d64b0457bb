#include "child_env.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

namespace reuserun {
namespace {

std::vector<std::string> entries(ChildEnv& env) {
  std::vector<std::string> result;
  for (const char* const* entry = env.envp(); *entry != nullptr; ++entry)
    result.emplace_back(*entry);
  return result;
}

bool contains(const std::vector<std::string>& list, const std::string& entry) {
  return std::find(list.begin(), list.end(), entry) != list.end();
}

const char* const kParentEnv[] = {
    "PATH=/usr/bin",        "LISTEN_FDS=4", "LISTEN_PID=1", "LISTEN_FDNAMES=x",
    "NOTIFY_SOCKET=/run/n", "HOME=/root",   nullptr};

TEST(ChildEnv, DropsTheLaunchersOwnActivationVariables) {
  ChildEnv env(kParentEnv, {"http"});
  const auto list = entries(env);
  EXPECT_TRUE(contains(list, "PATH=/usr/bin"));
  EXPECT_TRUE(contains(list, "HOME=/root"));
  EXPECT_FALSE(contains(list, "LISTEN_FDS=4"));
  EXPECT_FALSE(contains(list, "LISTEN_FDNAMES=x"));
  EXPECT_FALSE(contains(list, "NOTIFY_SOCKET=/run/n"));
  EXPECT_EQ(std::count_if(list.begin(), list.end(),
                          [](const std::string& e) { return e.starts_with("LISTEN_FDS="); }),
            1);
}

TEST(ChildEnv, DescribesTheListenersHandedOver) {
  ChildEnv env(kParentEnv, {"http", "admin"});
  const auto list = entries(env);
  EXPECT_TRUE(contains(list, "LISTEN_FDS=2"));
  EXPECT_TRUE(contains(list, "LISTEN_FDNAMES=http:admin"));
}

TEST(ChildEnv, ListenPidIsPlainDecimalWithoutPadding) {
  for (pid_t pid : {1, 7, 10, 12345, 4194304}) {
    ChildEnv env(kParentEnv, {"http"});
    env.envp();
    env.write_own_pid(pid);
    EXPECT_TRUE(contains(entries(env), "LISTEN_PID=" + std::to_string(pid))) << pid;
  }
}

TEST(ChildEnv, ListenPidWrittenAfterTheArrayWasBuiltIsSeenThroughIt) {
  // spawn.cpp builds envp() before fork and the child only writes the pid.
  ChildEnv env(kParentEnv, {"http"});
  const char* const* envp = env.envp();
  env.write_own_pid(98765);
  bool found = false;
  for (const char* const* entry = envp; *entry != nullptr; ++entry)
    found |= std::string(*entry) == "LISTEN_PID=98765";
  EXPECT_TRUE(found);
}

TEST(ChildEnv, WatchdogPidIsTheChildsOwnPidLikeListenPid) {
  // --watchdog: sd_watchdog_enabled(3) in the child compares WATCHDOG_PID with getpid().
  const char* inherited[] = {"PATH=/usr/bin", "WATCHDOG_PID=1", nullptr};
  ChildEnv env(inherited, {"http"});
  env.set_own_pid("WATCHDOG_PID");
  const char* const* envp = env.envp();
  env.write_own_pid(4321);
  std::vector<std::string> seen;
  for (const char* const* entry = envp; *entry != nullptr; ++entry) seen.emplace_back(*entry);
  EXPECT_TRUE(contains(seen, "LISTEN_PID=4321"));
  EXPECT_TRUE(contains(seen, "WATCHDOG_PID=4321"));
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(),
                          [](const std::string& e) { return e.starts_with("WATCHDOG_PID="); }),
            1);
}

TEST(ChildEnv, WithoutListenersThereIsNoListenVariableAtAll) {
  ChildEnv env(kParentEnv, {});
  env.write_own_pid(42);
  for (const auto& entry : entries(env)) EXPECT_FALSE(entry.starts_with("LISTEN_")) << entry;
}

TEST(ChildEnv, SetAddsOrReplaces) {
  ChildEnv env(kParentEnv, {});
  env.set("HOME", "/srv");
  env.set("REUSERUN_GENERATION", "3");
  const auto list = entries(env);
  EXPECT_TRUE(contains(list, "HOME=/srv"));
  EXPECT_FALSE(contains(list, "HOME=/root"));
  EXPECT_TRUE(contains(list, "REUSERUN_GENERATION=3"));
}

TEST(ChildEnv, SetReplacesEveryInheritedCopyOfTheKey) {
  const char* inherited[] = {"HOME=/root", "PATH=/bin", "HOME=/root", nullptr};
  ChildEnv env(inherited, {});
  env.set("HOME", "/nonexistent");
  std::vector<std::string> entries;
  for (const char* const* entry = env.envp(); *entry != nullptr; ++entry)
    entries.emplace_back(*entry);
  EXPECT_EQ(entries, (std::vector<std::string>{"PATH=/bin", "HOME=/nonexistent"}));
}

}  // namespace
}  // namespace reuserun
