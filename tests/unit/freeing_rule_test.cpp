// The port-freeing rule over what /proc says (docs/DESIGN.md §1): one test per reason a holder
// may be freed or must be spared. There is no systemd here, so the cgroup part is tested on the
// /proc text a systemd machine shows.
#include "freeing_rule.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

constexpr std::uint16_t kPort = 8080;

ProcessFacts facts(pid_t pid, uid_t uid, std::string cgroup) {
  ProcessFacts f;
  f.pid = pid;
  f.uid = uid;
  f.user_ns = "user:[4026531837]";
  f.pid_ns = "pid:[4026531836]";
  f.net_ns = "net:[4026531840]";
  f.cgroup = std::move(cgroup);
  return f;
}

// reuserun as root, started by hand in a login session.
SelfFacts root_in_session() {
  SelfFacts self;
  self.self = facts(100, 0, "/user.slice/user-1000.slice/session-3.scope");
  self.invoking_uid = 0;
  self.own_tree = {100, 90, 1};
  return self;
}

FreeingVerdict judge(const ProcessFacts& holder, const SelfFacts& self = root_in_session(),
                     FreePortMode mode = FreePortMode::safe) {
  return judge_holder(holder, self, mode, kPort);
}

TEST(FreeingRule, TheInvokingUsersStaleServerInATerminalIsFreed) {
  const auto verdict = judge(facts(500, 0, "/user.slice/user-1000.slice/session-2.scope"));
  EXPECT_TRUE(verdict.may_signal) << verdict.reason;
  EXPECT_EQ(verdict.reason, "it belongs to the invoking user");
}

TEST(FreeingRule, AnotherUsersListenerIsSpared) {
  const auto verdict = judge(facts(500, 65534, "/user.slice/user-65534.slice/session-9.scope"));
  EXPECT_FALSE(verdict.may_signal);
  EXPECT_NE(verdict.reason.find("another user (uid 65534"), std::string::npos) << verdict.reason;
}

TEST(FreeingRule, UnderSudoTheInvokingUserIsSudoUidNotRoot) {
  SelfFacts self = root_in_session();
  self.invoking_uid = 1000;
  EXPECT_TRUE(
      judge(facts(500, 1000, "/user.slice/user-1000.slice/session-2.scope"), self).may_signal);
  EXPECT_FALSE(judge(facts(501, 0, "/user.slice/user-1000.slice/session-2.scope"), self).may_signal)
      << "root's own processes are not the sudo user's";
}

TEST(FreeingRule, AnotherSystemdServiceIsSparedEvenForTheSameUserWithTheWayOut) {
  // sshd and docker-proxy run as root, like a root reuserun.
  const auto sshd = judge(facts(700, 0, "/system.slice/ssh.service"));
  EXPECT_FALSE(sshd.may_signal);
  EXPECT_EQ(sshd.reason, "it belongs to the systemd service ssh.service");
  EXPECT_EQ(sshd.unit, "ssh.service");
  EXPECT_FALSE(judge(facts(701, 0, "/system.slice/docker.service/docker-proxy")).may_signal);
  // A user's own service (systemd --user) is a service too.
  SelfFacts self = root_in_session();
  self.invoking_uid = 1000;
  EXPECT_FALSE(
      judge(facts(702, 1000, "/user.slice/user-1000.slice/user@1000.service/app.slice/web.service"),
            self)
          .may_signal);
}

TEST(FreeingRule, ALeftoverInReuserunsOwnUnitIsFreedWhoeverItRunsAs) {
  SelfFacts self = root_in_session();
  self.self.cgroup = "/system.slice/app.service";
  const auto verdict = judge(facts(800, 33, "/system.slice/app.service"), self);
  EXPECT_TRUE(verdict.may_signal);
  EXPECT_EQ(verdict.reason, "it is in reuserun's own cgroup /system.slice/app.service");
  EXPECT_TRUE(judge(facts(801, 33, "/system.slice/app.service/worker"), self).may_signal);
  EXPECT_FALSE(judge(facts(802, 33, "/system.slice/app.service2"), self).may_signal)
      << "a unit whose name only starts like ours is another unit";
  EXPECT_FALSE(judge(facts(803, 0, "/system.slice/other.service"), self).may_signal);
}

TEST(FreeingRule, TheRootCgroupIsNoUnit) {
  // In a container without systemd everything sits in "/": that proves nothing about a holder.
  SelfFacts self = root_in_session();
  self.self.cgroup = "/";
  self.invoking_uid = 1000;
  EXPECT_FALSE(judge(facts(900, 65534, "/"), self).may_signal);
}

TEST(FreeingRule, AnOrphanOfAnEarlierReuserunOnThisPortIsFreed) {
  ProcessFacts orphan = facts(1000, 33, "/system.slice/old-app.service");
  orphan.marked_ports = {9090, kPort};
  const auto verdict = judge(orphan);
  EXPECT_TRUE(verdict.may_signal) << verdict.reason;
  EXPECT_EQ(verdict.reason, "it is an orphan of an earlier reuserun on port 8080");
  orphan.parent_is_reuserun = true;
  EXPECT_FALSE(judge(orphan).may_signal) << "the child of a live reuserun is no orphan";
  orphan.parent_is_reuserun = false;
  orphan.marked_ports = {9090};
  EXPECT_FALSE(judge(orphan).may_signal) << "marked for another port";
}

TEST(FreeingRule, Pid1OwnTreeInvisibleAndOtherNamespacesAreAlwaysSpared) {
  const SelfFacts self = root_in_session();
  EXPECT_FALSE(judge(facts(1, 0, "/init.scope")).may_signal);
  ProcessFacts container_init = facts(4000, 0, "/user.slice/user-1000.slice/session-2.scope");
  container_init.namespace_init = true;
  EXPECT_FALSE(judge(container_init, self, FreePortMode::force).may_signal);
  EXPECT_FALSE(
      judge(facts(90, 0, "/user.slice/user-1000.slice/session-3.scope"), self, FreePortMode::force)
          .may_signal)
      << "our parent shell";
  EXPECT_FALSE(judge(facts(0, 0, ""), self, FreePortMode::force).may_signal);
  ProcessFacts elsewhere = facts(4001, 0, "/user.slice/user-1000.slice/session-2.scope");
  elsewhere.net_ns = "net:[4026532000]";
  EXPECT_EQ(judge(elsewhere).reason,
            "it runs in another user, pid or network namespace (a container?)");
}

TEST(FreeingRule, ForceFreesOtherUsersAndServicesOffFreesNobody) {
  EXPECT_TRUE(
      judge(facts(700, 0, "/system.slice/ssh.service"), root_in_session(), FreePortMode::force)
          .may_signal);
  EXPECT_TRUE(judge(facts(701, 65534, "/"), root_in_session(), FreePortMode::force).may_signal);
  EXPECT_FALSE(judge(facts(500, 0, "/user.slice/user-1000.slice/session-2.scope"),
                     root_in_session(), FreePortMode::off)
                   .may_signal);
}

TEST(FreeingRule, ParsesProcText) {
  EXPECT_EQ(cgroup_path("12:pids:/x\n1:name=systemd:/system.slice/a.service\n0::/system.slice/"
                        "b.service\n"),
            "/system.slice/b.service");
  EXPECT_EQ(cgroup_path("1:name=systemd:/system.slice/a.service\n"), "/system.slice/a.service");
  EXPECT_EQ(cgroup_unit("/system.slice/ssh.service"), "/system.slice/ssh.service");
  EXPECT_EQ(cgroup_unit("/user.slice/user-1.slice/user@1.service/app.slice/x.scope/sub"),
            "/user.slice/user-1.slice/user@1.service/app.slice/x.scope");
  EXPECT_EQ(cgroup_unit("/"), "");
  EXPECT_EQ(cgroup_unit("/process_api/31cc"), "");
  EXPECT_TRUE(is_namespace_init("Name:\tsh\nNSpid:\t4242\t1\n"));
  EXPECT_FALSE(is_namespace_init("Name:\tsh\nNSpid:\t4242\n"));
  EXPECT_FALSE(is_namespace_init("Name:\tsh\nNSpid:\t4242\t17\n"));
  const std::string environ("PATH=/bin\0REUSERUN_PORTS=8080,9090\0X=1\0", 38);
  EXPECT_EQ(marked_ports(environ), (std::vector<std::uint16_t>{8080, 9090}));
  EXPECT_TRUE(marked_ports(std::string("REUSERUN_PORTS=\0", 16)).empty());
}

TEST(FreeingRule, ModesHaveTheirNames) {
  for (const auto mode : {FreePortMode::safe, FreePortMode::force, FreePortMode::off})
    EXPECT_EQ(parse_free_port_mode(free_port_mode_name(mode)), mode);
  EXPECT_FALSE(parse_free_port_mode("yes"));
}

}  // namespace
}  // namespace reuserun
