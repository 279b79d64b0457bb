#include "path_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <set>

namespace reuserun {
namespace {

constexpr std::uint32_t kAppeared = IN_CREATE | IN_MOVED_TO;
constexpr std::uint32_t kWent = IN_DELETE | IN_MOVED_FROM;  // set the watches again, no restart
constexpr std::uint32_t kMask = kAppeared | kWent | IN_CLOSE_WRITE | IN_ATTRIB | IN_ONLYDIR;

}  // namespace

Result<PathWatch> PathWatch::open(const std::vector<std::string>& paths) {
  PathWatch watch;
  watch.fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!watch.fd_) return system_error("inotify_init1", errno);
  for (const std::string& path : paths) {
    std::filesystem::path normal = std::filesystem::absolute(path).lexically_normal();
    if (!normal.has_filename() && normal.has_parent_path()) normal = normal.parent_path();  // "f/"
    watch.paths_.push_back(normal.string());
  }
  watch.arm();
  return watch;
}

// For each component of each path: its parent directory, watched for its name. Directories that
// are not there (yet) are skipped; those no path needs any more are let go.
void PathWatch::arm() {
  std::map<int, std::multimap<std::string, Name>> names;
  for (std::size_t index = 0; index < paths_.size(); ++index) {
    const std::filesystem::path relative = std::filesystem::path(paths_[index]).relative_path();
    std::filesystem::path directory = "/";
    for (auto component = relative.begin(); component != relative.end(); ++component) {
      // A symlinked directory on the way is watched where it points now, and set again when the
      // link is switched (an event for its name in its parent).
      const int wd = ::inotify_add_watch(fd_.get(), directory.c_str(), kMask);
      if (wd < 0) {
        // Not there yet (its parent's watch sees it appear), or not a directory yet. Anything
        // else (no permission, out of watches) means a change there would go unseen: said once.
        if (errno != ENOENT && errno != ENOTDIR && warned_.insert(directory.string()).second)
          unwatchable_ += (unwatchable_.empty() ? "" : "; ") + directory.string() + ": " +
                          std::strerror(errno);
        break;
      }
      names[wd].emplace(component->string(),
                        Name{index, std::next(component) == relative.end()});
      directory /= *component;
    }
  }
  for (const auto& [wd, unused] : names_)
    if (names.count(wd) == 0) (void)::inotify_rm_watch(fd_.get(), wd);
  names_ = std::move(names);
}

std::vector<std::string> PathWatch::take_changes() {
  std::set<std::size_t> changed;
  bool rearm = false;
  alignas(inotify_event) char buffer[16 * 1024];
  // At most 16 reads a wake-up: anyone may create files in /tmp or /, watched for a component's
  // name, as fast as they like; the rest waits for the next turn of the loop.
  for (int reads = 0; reads < 16; ++reads) {
    const ssize_t length = ::read(fd_.get(), buffer, sizeof buffer);
    if (length <= 0) break;
    for (ssize_t at = 0; at < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      rearm = rearm || (event->mask & IN_IGNORED) != 0;  // a watched directory went away
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        // Events were lost (a flood in a directory on the way): any path may have changed.
        overflowed_ = true;
        rearm = true;
        for (std::size_t index = 0; index < paths_.size(); ++index) changed.insert(index);
      }
      if (event->len == 0) continue;
      const auto watched = names_.find(event->wd);
      if (watched == names_.end()) continue;
      const auto [first, last] = watched->second.equal_range(event->name);
      for (auto it = first; it != last; ++it) {
        rearm = true;
        if ((event->mask & kWent) != 0) continue;  // gone: watched again when it comes back
        if (it->second.last || (event->mask & kAppeared) != 0) changed.insert(it->second.path);
      }
    }
  }
  // Set again only when a watched name or directory changed: what others do beside it costs a
  // read, not a walk of every path.
  if (rearm) arm();
  std::vector<std::string> paths;
  paths.reserve(changed.size());
  for (const std::size_t index : changed) paths.push_back(paths_[index]);
  return paths;
}

}  // namespace reuserun
