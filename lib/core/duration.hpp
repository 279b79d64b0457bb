// Durations on the command line: "500ms", "5s", "1.5s", "2m", "1h", "1m30s"; a bare number is
// seconds, as in systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace reuserun {

using Duration = std::chrono::milliseconds;

// Returns nullopt for anything that is not a non-negative duration below a year.
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact spelling: "0", "250ms", "5s", "1.5s", "2m", "90s" stays "90s".
std::string format_duration(Duration duration);

}  // namespace reuserun
