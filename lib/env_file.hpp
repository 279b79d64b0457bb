// --env-file: KEY=VALUE lines, read again before every generation starts, so that a deploy can
// change the next generation's environment without restarting reuserun.
//   # comments and blank lines are skipped; "export KEY=VALUE" is accepted;
//   a value in matching single or double quotes loses them (no escapes, no expansion).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.hpp"

namespace reuserun {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

// Error: "Failed to read PATH: ..." or "PATH:LINE: expected KEY=VALUE".
Result<EnvPairs> read_env_file(const std::string& path);

// One --env value: nullopt unless it is KEY=VALUE with a valid KEY.
std::optional<std::pair<std::string, std::string>> parse_env_assignment(std::string_view text);

}  // namespace reuserun
