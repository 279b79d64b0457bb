// Unix sockets with owner=: bound, chowned and renamed into place through the private
// directory's fd, whatever the owner of the parent directory does to names meanwhile.
#include "unix_socket.hpp"

#include "listener.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace reuserun {
namespace {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/reuserun-unix-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

constexpr uid_t kOwner = 4321;

TEST(UnixSocket, AnOwnedSocketIsBornWithItsOwnerAndMode) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  TempDir dir;
  auto fd = bind_unix_socket(dir.file("s.sock"), 0660, 16, "unix socket", {kOwner, kOwner});
  ASSERT_TRUE(fd) << fd.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(dir.file("s.sock").c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_uid, kOwner);
  EXPECT_EQ(info.st_gid, kOwner);
  EXPECT_EQ(info.st_mode & 0777, 0660U);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.file("")),
                          std::filesystem::directory_iterator()),
            1)
      << "the private directory is gone";
}

TEST(UnixSocket, MovingThePrivateDirectoryAwayCannotRedirectTheChownOrTheRename) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  TempDir dir;
  const std::string victim = dir.file("victim");
  std::ofstream(victim) << "root's file\n";
  // The parent directory's owner, between bind and chown: moves reuserun's private directory
  // away and puts one of its own at that name, whose "s" links to the victim.
  const auto swap = [&](const std::string& private_dir) {
    ASSERT_EQ(::rename(private_dir.c_str(), dir.file("moved").c_str()), 0);
    ASSERT_EQ(::mkdir(private_dir.c_str(), 0755), 0);
    ASSERT_EQ(::symlink(victim.c_str(), (private_dir + "/s").c_str()), 0);
  };
  auto fd = bind_unix_socket_observed(dir.file("s.sock"), 0660, 16, "unix socket",
                                      {kOwner, kOwner}, SOCK_STREAM, swap);
  ASSERT_TRUE(fd) << fd.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(victim.c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 0U) << "the victim was chowned";
  ASSERT_EQ(::lstat(dir.file("s.sock").c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode)) << "the attacker's link was renamed into place";
  EXPECT_EQ(info.st_uid, kOwner);
}

// A broken listener is replaced from reopen_spec() (ListenerWatch): everything the user said
// comes back, mode= and owner= included, not only the path (issue 25, finding 9: a rebuilt
// socket was 0666 and root's).
TEST(UnixSocket, AReplacementIsOpenedFromTheWholeSpec) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  TempDir dir;
  ListenSpec spec;
  spec.kind = ListenSpec::Kind::unix_stream;
  spec.path = dir.file("s.sock");
  spec.name = "api";
  spec.mode = 0640;
  spec.owner = kOwner;
  spec.group = kOwner;
  auto first = Listener::open(spec, 16);
  ASSERT_TRUE(first) << first.error().message;
  const ListenSpec again = first.value().reopen_spec();
  EXPECT_EQ(again.path, spec.path);
  EXPECT_EQ(again.name, "api");
  EXPECT_EQ(again.mode, spec.mode);
  EXPECT_EQ(again.owner, spec.owner);
  EXPECT_EQ(again.group, spec.group);
  ASSERT_EQ(::unlink(spec.path.c_str()), 0);  // what a broken socket's file is to a replacement
  auto second = Listener::open(again, 16);
  ASSERT_TRUE(second) << second.error().message;
  struct stat info {};
  ASSERT_EQ(::lstat(spec.path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640U);
  EXPECT_EQ(info.st_uid, kOwner);
}

}  // namespace
}  // namespace reuserun
