// Listing the default directory for `reuserun ctl`: dead sockets (left by killed runs) are removed,
// busy ones are kept, and nothing but a dead socket file in a directory of ours is ever removed.
#include "control_directory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace reuserun {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/reuserun-control-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Unix stream sockets bound in a directory: dead (closed, the file stays), listening, or
// listening with a full queue (a busy server). Closed at the end of the test.
class Sockets {
 public:
  ~Sockets() {
    for (const int fd : fds_) ::close(fd);
  }
  void dead(const std::string& path) { ::close(bound(path)); }
  void listening(const std::string& path, int backlog = 16) {
    const int fd = bound(path);
    ASSERT_EQ(::listen(fd, backlog), 0);
    fds_.push_back(fd);
  }
  void busy(const std::string& path) {
    listening(path, 0);
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const auto address = to_address(path);
    ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    fds_.push_back(client);  // queued, never accepted: the next connect gets EAGAIN
  }

 private:
  static sockaddr_un to_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    return address;
  }
  static int bound(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto address = to_address(path);
    EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0) << path;
    return fd;
  }
  std::vector<int> fds_;
};

ControlSockets list(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ControlSockets found = list_control_sockets(fd, directory);
  ::close(fd);
  return found;
}

TEST(ControlDirectory, DeadSocketsAreRemovedLiveAndBusyOnesListed) {
  TempDir dir;
  Sockets sockets;
  sockets.dead(dir.file("1.sock"));
  sockets.dead(dir.file("2.sock"));
  sockets.listening(dir.file("8080.sock"));
  sockets.busy(dir.file("8081.sock"));
  const ControlSockets found = list(dir.path());
  EXPECT_EQ(found.live, (std::vector<std::string>{"8080.sock", "8081.sock"}));
  EXPECT_EQ(found.removed, 2);
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.file("1.sock"))));
  EXPECT_TRUE(fs::is_socket(dir.file("8081.sock")));
}

TEST(ControlDirectory, OnlySocketFilesAreConsideredAndNoneIsFollowed) {
  TempDir dir;
  Sockets sockets;
  sockets.dead(dir.file("dead"));
  fs::create_symlink(dir.file("dead"), dir.file("link.sock"));
  std::ofstream(dir.file("file.sock")) << "not a socket";
  sockets.dead(dir.file("other.socket"));
  const ControlSockets found = list(dir.path());
  EXPECT_TRUE(found.live.empty());
  EXPECT_EQ(found.removed, 0);
  EXPECT_TRUE(fs::is_socket(fs::symlink_status(dir.file("dead"))));
  EXPECT_TRUE(fs::is_symlink(dir.file("link.sock")));
  EXPECT_TRUE(fs::exists(dir.file("file.sock")));
  EXPECT_TRUE(fs::exists(fs::symlink_status(dir.file("other.socket"))));
}

TEST(ControlDirectory, NothingIsRemovedFromADirectoryOthersMayWrite) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  Sockets sockets;
  sockets.dead(dir.file("1.sock"));
  const ControlSockets found = list(dir.path());
  EXPECT_TRUE(found.live.empty());
  EXPECT_EQ(found.removed, 0);
  EXPECT_TRUE(fs::is_socket(fs::symlink_status(dir.file("1.sock"))));
}

TEST(ControlDirectory, XdgRuntimeDirComesFirst) {
  const char* saved = ::getenv("XDG_RUNTIME_DIR");
  const std::string previous = saved != nullptr ? saved : "";
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  EXPECT_EQ(default_control_directory(), "/run/user/1000/reuserun");
  EXPECT_EQ(default_control_socket("8080"), "/run/user/1000/reuserun/8080.sock");
  if (saved != nullptr)
    ::setenv("XDG_RUNTIME_DIR", previous.c_str(), 1);
  else
    ::unsetenv("XDG_RUNTIME_DIR");
}

}  // namespace
}  // namespace reuserun
