// --watch's view of the file system (lib/os/path_watch): which events are a change of a watched
// path. Real inotify on a temporary directory.
#include "path_watch.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace reuserun {
namespace {

namespace fs = std::filesystem;

class PathWatchTest : public ::testing::Test {
 protected:
  PathWatchTest()
      : dir_(fs::temp_directory_path() / ("reuserun-path-watch-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_ / "conf");
  }
  ~PathWatchTest() override { fs::remove_all(dir_); }

  static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
  // What changed, once the watch has had 200 ms to hear of it.
  static std::vector<std::string> changes(PathWatch& watch) {
    pollfd readable{watch.fd(), POLLIN, 0};
    if (::poll(&readable, 1, 200) <= 0) return {};
    return watch.take_changes();
  }

  fs::path dir_;
};

TEST_F(PathWatchTest, AFileRenamedIntoPlaceIsAChangeAndOneBesideItIsNot) {
  auto watch = PathWatch::open({(dir_ / "conf/app.conf").string()});
  ASSERT_TRUE(watch) << watch.error().message;
  write(dir_ / "conf/other.conf", "x");
  EXPECT_TRUE(changes(watch.value()).empty());
  write(dir_ / "conf/app.conf.new", "x");
  fs::rename(dir_ / "conf/app.conf.new", dir_ / "conf/app.conf");
  EXPECT_EQ(changes(watch.value()), std::vector<std::string>{(dir_ / "conf/app.conf").string()});
}

TEST_F(PathWatchTest, ATrailingSlashIsDroppedAndADirectoryRenamedAwayIsNotWatchedThere) {
  auto watch = PathWatch::open({(dir_ / "conf/app.conf/").string()});
  ASSERT_TRUE(watch) << watch.error().message;
  EXPECT_EQ(watch.value().paths(), std::vector<std::string>{(dir_ / "conf/app.conf").string()});
  fs::rename(dir_ / "conf", dir_ / "conf.old");
  EXPECT_TRUE(changes(watch.value()).empty()) << "gone is no change";
  write(dir_ / "conf.old/app.conf", "x");
  EXPECT_TRUE(changes(watch.value()).empty()) << "the old directory is not the watched path";
  fs::create_directory(dir_ / "conf");
  EXPECT_FALSE(changes(watch.value()).empty()) << "the directory on the way came back";
  write(dir_ / "conf/app.conf", "x");
  EXPECT_FALSE(changes(watch.value()).empty());
}

}  // namespace
}  // namespace reuserun
