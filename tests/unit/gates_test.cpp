// The readiness gates against a fake process and socket table (system_view.hpp) and fake event
// loop services: no fork, no sleep. The accept gate's probe connects to a real listener on
// loopback that nobody accepts on; who "accepted" it is the fake table's answer.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <set>

#include "readiness.hpp"
#include "unique_fd.hpp"

namespace reuserun {
namespace {

constexpr pid_t kNew = 200;  // the new generation's leader
constexpr pid_t kOld = 100;  // the old generation's
constexpr ino_t kShared = 500;

class FakeSystem final : public SystemView {
 public:
  std::map<pid_t, std::vector<pid_t>> trees;  // root -> its tree
  std::map<ino_t, pid_t> holders;             // socket inode -> the process holding it
  std::optional<ino_t> accepted;              // what accepted_inode answers
  std::optional<Error> diag_error;            // or this: NETLINK_SOCK_DIAG failed
  std::vector<ListeningSocket> listening;
  std::set<pid_t> waiting;    // processes with a thread waiting on the shared socket
  bool wait_unknown = false;  // /proc cannot tell (no ptrace access, io_uring)
  bool mounted = true;        // false: no /proc at all (a chroot)

  bool proc_mounted() const override { return mounted; }

  std::vector<pid_t> process_tree(pid_t root) const override {
    const auto it = trees.find(root);
    return it == trees.end() ? std::vector<pid_t>{root} : it->second;
  }
  std::vector<pid_t> all_processes() const override { return {1, kOld, kNew, 300}; }
  pid_t holder_of_socket(ino_t inode, const std::vector<pid_t>& pids) const override {
    const auto it = holders.find(inode);
    if (it == holders.end()) return 0;
    return std::find(pids.begin(), pids.end(), it->second) != pids.end() ? it->second : 0;
  }
  Result<std::optional<ino_t>> accepted_inode(const SocketAddress&,
                                              const SocketAddress&) const override {
    if (diag_error) return *diag_error;
    return accepted;
  }
  Result<std::vector<ListeningSocket>> listening_sockets(std::uint16_t) const override {
    return listening;
  }
  WaitFinding socket_waiter(const std::vector<pid_t>& pids, ino_t) const override {
    for (pid_t pid : pids)
      if (waiting.contains(pid))
        return {WaitFinding::Kind::waiting, pid, pid, WaitCall::epoll, "", false};
    return wait_unknown
               ? WaitFinding{WaitFinding::Kind::unknown, 0, 0, WaitCall::none, "hidden", false}
               : WaitFinding{};
  }
};

class FakeServices final : public GateServices {
 public:
  FakeServices() {
    // A real listener nobody accepts on: the accept gate's connect() lands in its backlog.
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_.get(), 16);
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length);
    address_ = *parse_ip_address("127.0.0.1", ntohs(address.sin_port));
  }

  boost::asio::io_context& io() override { return io_; }
  Result<pid_t> start_probe(const std::string& command, const GateSubject&,
                            ExitHandler on_exit) override {
    commands.push_back(command);
    probe_exit = std::move(on_exit);
    return 4242;
  }
  void abandon_probe(pid_t pid) override { abandoned.push_back(pid); }
  const SocketAddress& listener_address() const override { return address_; }
  ino_t listener_inode() const override { return kShared; }
  bool listener_is_tcp() const override { return tcp; }
  bool watch_notify(WorkerKey, NotifyHandler handler) override {
    watcher = std::move(handler);
    return spoke;
  }
  const SystemView& system() const override { return fake; }
  // A datagram from the generation, as NotifyChannels delivers it: a watcher may unwatch itself.
  void notify(const NotifyFields& fields) {
    if (!watcher) return;
    const NotifyHandler current = watcher;
    current(fields);
  }

  FakeSystem fake;
  bool tcp = true;    // the listener the gates look at
  bool spoke = false;  // the generation has spoken sd_notify already
  NotifyHandler watcher;
  std::vector<std::string> commands;
  ExitHandler probe_exit;
  std::vector<pid_t> abandoned;

 private:
  boost::asio::io_context io_;
  UniqueFd listener_;
  SocketAddress address_;
};

struct Outcome {
  bool done = false;
  bool passed = false;
  std::string reason;
  GateCallback callback() {
    return [this](bool ok, const std::string& why) {
      done = true;
      passed = ok;
      reason = why;
    };
  }
};

ReadinessConfig with_gates(std::vector<GateSpec> gates, bool strict = false) {
  ReadinessConfig config;
  config.gates = std::move(gates);
  config.strict_adoption = strict;
  return config;
}

const GateSpec kAuto{GateKind::automatic, "", {}};
const GateSpec kNotify{GateKind::notify, "", {}};
const GateSpec kAccept{GateKind::accept, "", {}};

TEST(Gates, AcceptPassesWhenTheNewGenerationHoldsTheAcceptedConnection) {
  FakeServices services;
  services.fake.trees[kNew] = {kNew, kNew + 1};
  services.fake.holders[777] = kNew + 1;  // a worker of the new generation accepted it
  services.fake.accepted = 777;
  Outcome outcome;
  auto gate = make_gate(with_gates({kAccept}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_TRUE(outcome.done);
  EXPECT_TRUE(outcome.passed) << outcome.reason;
}

TEST(Gates, AcceptTakenByTheOldGenerationProbesAgainAndSaysWho) {
  FakeServices services;
  services.fake.trees[::getpid()] = {::getpid(), kOld};
  services.fake.holders[888] = kOld;
  services.fake.accepted = 888;
  Outcome outcome;
  auto gate = make_gate(with_gates({kAccept}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_FALSE(outcome.done) << "the old generation's answer proves nothing";
  EXPECT_EQ(gate->progress(), "accept: 1 probe, 1 accepted by pid 100 (not generation 2)");
  gate->cancel();
}

TEST(Gates, AutoWaitsForReadyOnceTheGenerationSpeaksSdNotify) {
  FakeServices services;
  services.spoke = true;  // e.g. gunicorn's arbiter said STATUS= already
  services.fake.waiting = {kNew};
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_FALSE(outcome.done) << "waiting, but a generation that speaks sd_notify says READY=1";
  EXPECT_EQ(gate->progress(),
            "wait: passed (pid 200 waits in epoll_wait); notify: spoke sd_notify, no READY=1 yet");
  ASSERT_TRUE(services.watcher);
  services.notify({{"STATUS", "booting"}});
  EXPECT_FALSE(outcome.done);
  services.notify({{"READY", "1"}});
  EXPECT_TRUE(outcome.done);
  EXPECT_TRUE(outcome.passed);
  EXPECT_EQ(outcome.reason, "pid 200 waits in epoll_wait and READY=1");
}

// Issue 25, finding 11: without /proc nobody can be seen waiting or taking a probe; READY=1
// alone decides, and what the gate waits for says why.
TEST(Gates, WithoutProcAutoPassesOnReadyAloneAndSaysWhy) {
  FakeServices services;
  services.fake.mounted = false;
  services.fake.holders[777] = kNew;
  services.fake.accepted = 777;  // a probe would be answered: none is sent
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_FALSE(outcome.done);
  EXPECT_NE(gate->progress().find("no READY=1 yet (/proc is not mounted: auto decides on READY=1 "
                                  "alone"),
            std::string::npos)
      << gate->progress();
  ASSERT_TRUE(services.watcher);
  services.notify({{"READY", "1"}});
  EXPECT_TRUE(outcome.passed);
  EXPECT_EQ(outcome.reason, "READY=1 (without /proc)");
}

TEST(Gates, WithoutProcTheGatesThatMustSeeWhoTookAProbeAreRefusedAndAutoIsExplained) {
  EXPECT_EQ(gates_without_proc({kAuto, kNotify}, false), "");
  EXPECT_EQ(gates_without_proc({kAccept}, true), "");
  EXPECT_TRUE(gates_without_proc({kNotify, kAccept}, false).starts_with("--ready accept needs /proc"));
  EXPECT_EQ(auto_without_proc_notice({kNotify}, false), "");
  EXPECT_EQ(auto_without_proc_notice({kAuto}, true), "");
  EXPECT_NE(auto_without_proc_notice({kAuto}, false).find("READY=1"), std::string::npos);
}

TEST(Gates, AutoPassesWhenAThreadOfTheGenerationWaitsOnTheSocketWithoutAProbe) {
  FakeServices services;
  services.fake.trees[kNew] = {kNew, kNew + 1};
  services.fake.waiting = {kNew + 1};  // a worker below the generation's first process
  services.fake.accepted = 777;        // a probe would be answered, but none is sent
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_TRUE(outcome.passed);
  EXPECT_EQ(outcome.reason, "pid 201 waits in epoll_wait");
}

TEST(Gates, AutoJudgesOnlyTheNewGenerationsOwnProcessTree) {
  FakeServices services;
  services.fake.trees[kNew] = {kNew};
  services.fake.waiting = {kOld, 300};  // the old generation and other workers wait; it does not
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_FALSE(outcome.done);
  EXPECT_EQ(gate->progress(), "wait: looked 1 time, nothing waits on the socket yet");
  gate->cancel();
}

TEST(Gates, AutoFallsBackToAnAttributedProbeWhereProcCannotTell) {
  FakeServices services;
  services.fake.wait_unknown = true;  // no ptrace access, or io_uring
  services.fake.holders[777] = kNew;
  services.fake.accepted = 777;
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_TRUE(outcome.passed);
  EXPECT_EQ(outcome.reason, "accept probe 1 accepted by pid 200");
}

TEST(Gates, WithoutATcpListenerAutoNeverProbesAndSaysWhatToUseWhereProcCannotTell) {
  FakeServices services;
  services.tcp = false;  // udp:, unix-dgram: or unix: only
  services.fake.wait_unknown = true;
  services.fake.holders[777] = kNew;
  services.fake.accepted = 777;  // a probe would pass; none may be sent
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_FALSE(outcome.done) << "one look that could not tell decides nothing";
  // The next looks, a few ms apart on the gate's own timer.
  for (int turn = 0; turn < 10 && !outcome.done; ++turn) services.io().run_one_for(std::chrono::seconds(1));
  EXPECT_TRUE(outcome.done);
  EXPECT_FALSE(outcome.passed);
  EXPECT_NE(outcome.reason.find("hidden, and a unix or datagram socket cannot be probed"),
            std::string::npos)
      << outcome.reason;
  EXPECT_NE(outcome.reason.find("--ready notify"), std::string::npos);
}

TEST(Gates, WithoutATcpListenerAutoPassesOnWhatProcShows) {
  FakeServices services;
  services.tcp = false;
  services.fake.waiting = {kNew};
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_TRUE(outcome.passed) << outcome.reason;
}

TEST(Gates, AutoFallbackStillRefusesAProbeTheOldGenerationTook) {
  FakeServices services;
  services.fake.wait_unknown = true;
  services.fake.trees[::getpid()] = {::getpid(), kOld};
  services.fake.holders[888] = kOld;
  services.fake.accepted = 888;
  Outcome outcome;
  auto gate = make_gate(with_gates({kAuto}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_FALSE(outcome.done);
  EXPECT_EQ(gate->progress(),
            "wait: looked 1 time, /proc cannot tell: hidden; accept: 1 probe, 1 accepted by pid "
            "100 (not generation 2)");
  gate->cancel();
}

TEST(Gates, EveryGateMustPassBeforeTheGenerationIsReady) {
  FakeServices services;
  Outcome outcome;
  auto gate = make_gate(with_gates({kNotify, GateSpec{GateKind::exec, "check", {}}}), services);
  gate->start({2, kNew}, outcome.callback());
  ASSERT_EQ(services.commands, std::vector<std::string>{"check"});
  services.notify({{"READY", "1"}});
  EXPECT_FALSE(outcome.done) << "exec has not passed yet";
  services.probe_exit(ExitStatus::exited(1));  // tried again later
  EXPECT_FALSE(outcome.done);
  EXPECT_EQ(gate->progress(), "exec: ran 1 time, last exited with status 1");
  gate->cancel();
}

TEST(Gates, TheFirstFailureEndsEveryGate) {
  FakeServices services;
  services.fake.diag_error = Error{"Failed to query NETLINK_SOCK_DIAG: Permission denied", EPERM};
  Outcome outcome;
  auto gate = make_gate(with_gates({kNotify, kAccept}), services);
  gate->start({2, kNew}, outcome.callback());
  EXPECT_TRUE(outcome.done);
  EXPECT_FALSE(outcome.passed);
  EXPECT_EQ(outcome.reason, "accept: Failed to query NETLINK_SOCK_DIAG: Permission denied");
  EXPECT_FALSE(services.watcher) << "the notify gate stopped watching";
}

TEST(Gates, AnExecProbeThatExitsZeroPasses) {
  FakeServices services;
  Outcome outcome;
  auto gate = make_gate(with_gates({GateSpec{GateKind::exec, "curl -f localhost", {}}}), services);
  gate->start({2, kNew}, outcome.callback());
  services.probe_exit(ExitStatus::exited(0));
  EXPECT_TRUE(outcome.passed);
}

TEST(Gates, AGenerationListeningWithASocketOfItsOwnFailsStrictAdoption) {
  FakeServices services;
  services.fake.trees[kNew] = {kNew, kNew + 1};
  services.fake.listening = {{*parse_ip_address("0.0.0.0", 8080), kShared},
                             {*parse_ip_address("0.0.0.0", 8080), 901}};
  services.fake.holders[901] = kNew + 1;  // bound the port itself instead of taking fd 3
  Outcome strict;
  auto gate = make_gate(with_gates({kNotify}, true), services);
  gate->start({2, kNew}, strict.callback());
  services.notify({{"READY", "1"}});
  EXPECT_TRUE(strict.done);
  EXPECT_FALSE(strict.passed);
  EXPECT_NE(strict.reason.find("adoption: pid 201 of generation 2 listens on 0.0.0.0:8080"),
            std::string::npos)
      << strict.reason;

  Outcome lenient;
  auto warned = make_gate(with_gates({kNotify}, false), services);
  warned->start({2, kNew}, lenient.callback());
  services.notify({{"READY", "1"}});
  EXPECT_TRUE(lenient.passed) << "without --strict-adoption it is a warning";
}

}  // namespace
}  // namespace reuserun
