#include "file_watch.hpp"

#include "log.hpp"

namespace reuserun {

FileWatch::~FileWatch() {
  if (stream_.is_open()) (void)stream_.release();  // the PathWatch's fd: it closes it
}

bool FileWatch::start(const std::vector<std::string>& paths, Duration settle, Changed changed) {
  auto watch = PathWatch::open(paths);
  if (!watch) {
    log_error("--watch: {}: nothing is watched", watch.error().message);
    return false;
  }
  watch_.emplace(std::move(watch.value()));
  settle_ = settle;
  changed_ = std::move(changed);
  stream_.assign(watch_->fd());
  std::string names;
  for (const std::string& path : watch_->paths()) names += (names.empty() ? "" : ", ") + path;
  log_info("watching {} (a change restarts, once none came for {})", names,
           format_duration(settle_));
  if (const std::string unwatchable = watch_->take_unwatchable(); !unwatchable.empty())
    log_warn("--watch: a change there would go unseen: {}", unwatchable);
  wait();
  return true;
}

void FileWatch::wait() {
  stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& error) {
                       if (error) return;
                       const std::vector<std::string> paths = watch_->take_changes();
                       if (watch_->take_overflow())
                         log_warn("--watch: the kernel dropped events (too many in a directory "
                                  "on the way): restarting, as a watched file may have changed");
                       if (const std::string unwatchable = watch_->take_unwatchable();
                           !unwatchable.empty())
                         log_warn("--watch: a change there would go unseen: {}", unwatchable);
                       if (!paths.empty()) {
                         if (changed_path_.empty()) changed_path_ = paths.front();
                         log_debug("--watch: {} changed", paths.front());
                         // Settled: no change for settle_. Each change starts the wait again.
                         timer_.expires_after(settle_);
                         timer_.async_wait([this](const boost::system::error_code& expired) {
                           if (expired) return;
                           changed_(std::exchange(changed_path_, {}));
                         });
                       }
                       wait();
                     });
}

}  // namespace reuserun
