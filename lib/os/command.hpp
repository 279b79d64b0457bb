// Finding the program to run, the way execvp would, but before fork so that a missing or
// non-executable command is reported by the launcher with its name and errno.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace reuserun {

struct ResolvedCommand {
  std::string path;  // what execve gets; empty on error
  int error = 0;     // errno: ENOENT (not found), EACCES (not executable), ...
};

// Returns 0 when path names an executable regular file, else an errno.
using ExecutableCheck = std::function<int(const std::string& path)>;

// name with a '/' is used as it is (relative to `directory` when one is given: where the child
// will run after --chdir); otherwise each directory of search_path is tried in order
// (an empty entry means the current directory). EACCES from a found-but-not-executable file is
// remembered and reported if nothing better is found, as execvp does.
ResolvedCommand resolve_command(std::string_view name, std::string_view search_path,
                                const ExecutableCheck& check, std::string_view directory = {});

// The real check: stat + access(X_OK).
int check_executable(const std::string& path);

// $PATH, or the default execvp uses without one.
std::string search_path_of_environment();

}  // namespace reuserun
