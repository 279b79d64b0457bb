// --env-file: KEY=VALUE lines (env_text.hpp), read again before every generation starts, so that
// a deploy can change the next generation's environment without restarting reuserun.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"
#include "env_text.hpp"
#include "result.hpp"

namespace reuserun {

// Whose permissions open the file: reuserun runs as root more often than not, and the file is
// the children's configuration, so it is opened as the children's user (--user/--group): a
// file that user may not read (another service's secrets) is refused. Unset: reuserun's own.
struct FileReader {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<gid_t> groups;
};

inline constexpr std::size_t kMaxEnvFileSize = 1 << 20;

// The file must be a regular file (not a symlink, FIFO or device: opened O_NOFOLLOW|O_NONBLOCK,
// so nothing blocks) of at most kMaxEnvFileSize bytes.
// Error: "Failed to read --env-file PATH: ..." or "PATH:LINE: expected KEY=VALUE".
Result<EnvPairs> read_env_file(const std::string& path, const FileReader& reader = {});

// The children's identity, for reading files on their behalf (--env-file).
FileReader children_reader(const Config& config);

// The --env-file as the children's user would read it (empty without one).
Result<EnvPairs> read_children_env_file(const Config& config);

}  // namespace reuserun
