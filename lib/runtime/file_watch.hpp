// --watch (issue 30): a rolling restart once a watched file was replaced or written and the
// changes have settled (--watch-settle without a new one), exactly as a SIGHUP would start one.
// A burst of writes, or several files of one deploy, is one restart.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "duration.hpp"
#include "path_watch.hpp"

namespace reuserun {

class FileWatch {
 public:
  using Changed = std::function<void(const std::string& path)>;  // the first that changed
  explicit FileWatch(boost::asio::io_context& io) : stream_(io), timer_(io) {}
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // False (logged), and nothing watched, when inotify cannot be had.
  bool start(const std::vector<std::string>& paths, Duration settle, Changed changed);

 private:
  void wait();

  std::optional<PathWatch> watch_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer timer_;
  Duration settle_{0};
  std::string changed_path_;  // the first change since the last restart it asked for
  Changed changed_;
};

}  // namespace reuserun
