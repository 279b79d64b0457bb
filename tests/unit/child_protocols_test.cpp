// What each child protocol puts in the environment, spelled as its real consumers read it.
#include "child_protocols.hpp"

#include "child_env.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

std::vector<std::string> environment_of(ChildEnv& env) {
  std::vector<std::string> entries;
  for (const char* const* entry = env.envp(); *entry != nullptr; ++entry)
    entries.emplace_back(*entry);
  return entries;
}

bool has(const std::vector<std::string>& entries, const std::string& entry) {
  return std::find(entries.begin(), entries.end(), entry) != entries.end();
}

const std::vector<HandedSocket> kSockets{
    {3, "web", "8080"}, {4, "admin", "127.0.0.1:9090"}, {5, "unix", "/run/app.sock"}};

TEST(ChildProtocols, ParsesLists) {
  EXPECT_EQ(parse_protocols("systemd"), std::vector<Protocol>{Protocol::systemd});
  EXPECT_EQ(parse_protocols("einhorn,nginx,einhorn"),
            (std::vector<Protocol>{Protocol::einhorn, Protocol::nginx}));
  EXPECT_FALSE(parse_protocols(""));
  EXPECT_FALSE(parse_protocols("systemd,"));
  EXPECT_FALSE(parse_protocols("inetd"));
}

TEST(ChildProtocols, EachProtocolsVariables) {
  const char* const inherited[] = {"EINHORN_FD_COUNT=9", "NGINX=7;", "HOME=/root", nullptr};
  ChildEnv env(inherited, {});
  for (const auto& [key, value] : protocol_variables(
           {Protocol::einhorn, Protocol::server_starter, Protocol::nginx}, kSockets, 4))
    env.set(key, value);
  const auto entries = environment_of(env);
  EXPECT_TRUE(has(entries, "EINHORN_FD_COUNT=3"));
  EXPECT_TRUE(has(entries, "EINHORN_FD_0=3"));
  EXPECT_TRUE(has(entries, "EINHORN_FD_2=5"));
  EXPECT_TRUE(has(entries, "SERVER_STARTER_PORT=8080=3;127.0.0.1:9090=4;/run/app.sock=5"));
  EXPECT_TRUE(has(entries, "SERVER_STARTER_GENERATION=4"));
  EXPECT_TRUE(has(entries, "NGINX=3;4;5;"));
  EXPECT_TRUE(has(entries, "HOME=/root"));
  EXPECT_FALSE(has(entries, "NGINX=7;")) << "reuserun's own inherited value must not leak";
}

TEST(ChildProtocols, LaunchersOwnProtocolVariablesNeverReachTheChild) {
  const char* const inherited[] = {
      "EINHORN_FD_COUNT=1",          "EINHORN_FD_0=3", "NGINX=3;", "SERVER_STARTER_PORT=80=3",
      "SERVER_STARTER_GENERATION=2", nullptr};
  ChildEnv env(inherited, {});
  EXPECT_EQ(environment_of(env), std::vector<std::string>{});
}

TEST(ChildProtocols, FdMarkersInArguments) {
  const auto argv =
      substitute_fds({"uvicorn", "--fd", "{fd}", "--admin={fd:admin}", "{fdx}", "{f}"}, kSockets);
  ASSERT_TRUE(argv);
  EXPECT_EQ(argv.value(),
            (std::vector<std::string>{"uvicorn", "--fd", "3", "--admin=4", "{fdx}", "{f}"}));
  const auto unknown = substitute_fds({"srv", "{fd:nope}"}, kSockets);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "the command names {fd:nope}, but no socket is named nope");
}

}  // namespace
}  // namespace reuserun
