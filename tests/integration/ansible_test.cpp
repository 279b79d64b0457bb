// The fleet rollout of examples/ansible (issue 30): Debian's ansible-core rolls a release out to
// three reuserun instances on loopback (inventory aliases with ansible_connection=local, one port
// each) behind a real HAProxy that balances across them, under load through HAProxy. A good
// release reaches all three with no failed request; a release that never gets ready stops the
// play at the first host, the other two are untouched, and every instance still serves the old
// release, again with no failed request.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "ctl_status.hpp"
#include "harness.hpp"

namespace rrtest {
namespace {

bool installed(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string release(int number) {
  return "#!/bin/sh\nAPP_RELEASE=" + std::to_string(number) + " exec " + kTestServer + "\n";
}

struct Fleet {
  static constexpr int kHosts = 3;

  Fleet() {
    std::string servers;
    for (int host = 0; host < kHosts; ++host) {
      const std::string name = "web" + std::to_string(host + 1);
      std::filesystem::create_directory(dir.file(name));
      dir.write(name + "/server", release(1));
      ::chmod(dir.file(name + "/server").c_str(), 0755);
      ports[host] = probe_free_port();
      reuserun[host] = std::make_unique<Process>(std::vector<std::string>{
          kReuserun, "--port", std::to_string(ports[host]), "--bind", "127.0.0.1",
          "--control-socket", dir.file(name + ".sock"), "--", dir.file(name + "/server")});
      EXPECT_TRUE(wait_until_serving(reuserun[host]->pid(), 10s)) << reuserun[host]->log();
      inventory += name + " ansible_connection=local app_dir=" + dir.file(name) +
                   " control_socket=" + dir.file(name + ".sock") + "\n";
      servers += "  server " + name + " 127.0.0.1:" + std::to_string(ports[host]) + "\n";
    }
    dir.write("inventory.ini", "[app]\n" + inventory +
                                   "\n[app:vars]\nansible_python_interpreter=/usr/bin/python3\n"
                                   "reuserun=" + kReuserun + "\n");
    // A new backend connection per request (http-reuse never): every request goes through a
    // reuserun socket's backlog, none rides an idle connection of a generation that drains.
    haproxy_port = probe_free_port();
    dir.write("haproxy.cfg", "global\n  maxconn 1000\ndefaults\n  mode http\n"
                             "  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
                             "  http-reuse never\nfrontend web\n  bind 127.0.0.1:" +
                                 std::to_string(haproxy_port) +
                                 "\n  default_backend app\nbackend app\n  balance roundrobin\n" +
                                 servers);
    haproxy = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", dir.file("haproxy.cfg")});
    EXPECT_TRUE(wait_until([&] { return http_get(haproxy_port, "/").status == 200; }, 10s))
        << haproxy->log();
  }

  ~Fleet() {
    for (auto& process : reuserun) process->signal(SIGTERM);
    for (auto& process : reuserun) process->wait_exit(10s);
  }

  // ansible-playbook examples/ansible/rollout.yml with `body` as the release.
  Captured roll(const std::string& body) const {
    dir.write("release", body);
    return run_captured({"/usr/bin/ansible-playbook", "-i", dir.file("inventory.ini"),
                         kExamples + "/ansible/rollout.yml", "-e", "release=" + dir.file("release")},
                        180s,
                        {"HOME=" + dir.path(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
                         "ANSIBLE_LOCAL_TEMP=" + dir.file("ansible-tmp")});
  }

  // The release host `host` serves now, as its server says (APP_RELEASE), 0 when none answers.
  int serves(int host) const {
    const std::string info = http_get(ports[host], "/info").body;
    const auto at = info.find("APP_RELEASE=");
    return at == std::string::npos ? 0 : std::atoi(info.c_str() + at + 12);
  }

  int restarts(int host) const {
    const auto status = ctl_status(reuserun[host]->pid());
    return status ? status->restarts : -1;
  }

  TempDir dir;
  std::array<int, kHosts> ports{};
  std::array<std::unique_ptr<Process>, kHosts> reuserun;
  std::unique_ptr<Process> haproxy;
  std::string inventory;
  int haproxy_port = 0;
};

TEST(Ansible, AFleetRollsOutAGoodReleaseAndStopsAtTheFirstHostOfABadOne) {
  if (!installed("/usr/bin/ansible-playbook")) GTEST_SKIP() << "ansible-core is not installed";
  if (!installed("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy is not installed";
  Fleet fleet;
  Load load(fleet.haproxy_port);
  ASSERT_TRUE(load.wait_for_requests(200));

  const Captured good = fleet.roll(release(2));
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  for (int host = 0; host < Fleet::kHosts; ++host) {
    EXPECT_EQ(fleet.serves(host), 2) << "web" << host + 1;
    EXPECT_EQ(fleet.restarts(host), 1) << "web" << host + 1;
  }
  ASSERT_TRUE(load.wait_for_requests(load.sent() + 200));

  // A release that never gets ready: web1's restart is rolled back, and the play stops there.
  const Captured bad = fleet.roll("#!/bin/sh\nexit 3\n");
  EXPECT_NE(bad.exit_code, 0) << bad.out;
  EXPECT_NE(bad.out.find("before it was ready"), std::string::npos)
      << "reuserun's message is in Ansible's output:\n"
      << bad.out << bad.err;
  EXPECT_EQ(fleet.restarts(0), 2);
  for (int host = 0; host < Fleet::kHosts; ++host)
    EXPECT_EQ(fleet.serves(host), 2) << "web" << host + 1 << " still serves the old release";
  for (int host = 1; host < Fleet::kHosts; ++host) {
    EXPECT_EQ(fleet.restarts(host), 1) << "web" << host + 1 << " was not touched";
    EXPECT_EQ(std::filesystem::file_size(fleet.dir.file("web" + std::to_string(host + 1) +
                                                        "/server")),
              release(2).size());
  }
  ASSERT_TRUE(load.wait_for_requests(load.sent() + 200));
  const Load::Result result = load.stop();
  std::printf("ansible rollouts through haproxy: %ld requests, %ld failed\n", result.sent,
              result.failed);
  EXPECT_EQ(result.failed, 0);
}

}  // namespace
}  // namespace rrtest
