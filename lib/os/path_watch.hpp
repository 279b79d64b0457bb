// Watching files for a deploy (--watch, issue 30): inotify on the directory that holds each
// component of a path, for the component's name. Editors and deploy tools rename a new file into
// place (a new inode under the same name), a release symlink is switched (`ln -sfn`), a
// directory appears: each is an event for the name in its parent directory, wherever in the
// path it happens. A path that does not exist yet is watched as far as it does, and the rest as
// it appears (the watches are set again after every event).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

class PathWatch {
 public:
  // `paths`: absolute, or relative to the working directory (made absolute here).
  static Result<PathWatch> open(const std::vector<std::string>& paths);

  int fd() const { return fd_.get(); }  // readable when something happened (non-blocking)
  const std::vector<std::string>& paths() const { return paths_; }

  // Reads what happened (a bounded amount: call again while fd() stays readable), sets the
  // watches again when a watched name changed, and returns the watched paths that changed:
  // one of their components was created, renamed into place, written and closed, or had its
  // attributes changed (chmod +x).
  std::vector<std::string> take_changes();

  // Directories on the way that could not be watched for another reason than not being there
  // (no permission, no inotify watches left): "dir: reason; ...", taken (said once each).
  std::string take_unwatchable() { return std::exchange(unwatchable_, {}); }
  // True once after the kernel's event queue overflowed (every path counted as changed).
  bool take_overflow() { return std::exchange(overflowed_, false); }

 private:
  void arm();

  UniqueFd fd_;
  std::vector<std::string> paths_;
  // Per watch descriptor, the names in its directory that matter: the path each belongs to, and
  // whether it is the path's last component (written or chmodded counts) or a directory on the
  // way (only created or renamed into place counts: its attributes change as files come and go).
  struct Name {
    std::size_t path;
    bool last;
  };
  std::map<int, std::multimap<std::string, Name>> names_;
  std::set<std::string> warned_;
  std::string unwatchable_;
  bool overflowed_ = false;
};

}  // namespace reuserun
