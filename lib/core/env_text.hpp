// The text of an --env-file and of --env, as values: KEY=VALUE lines.
//   # comments and blank lines are skipped; "export KEY=VALUE" is accepted;
//   a value in matching single or double quotes loses them (no escapes, no expansion).
// Reading the file, as the children's user, is env_file.hpp's (issue 28: parsing is core,
// reading is os).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.hpp"

namespace reuserun {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

// One --env value: nullopt unless it is KEY=VALUE with a valid KEY.
std::optional<std::pair<std::string, std::string>> parse_env_assignment(std::string_view text);

// The lines of an env file named `path` (for the error: "PATH:LINE: expected KEY=VALUE").
Result<EnvPairs> parse_env_text(std::string_view text, const std::string& path);

}  // namespace reuserun
