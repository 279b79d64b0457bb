// The log's levels and formats as plain values: what the pure modules need to describe a log
// line (a supervisor's Report, the configuration) without the sink (log.hpp, spdlog). Issue 28:
// the core includes nothing that writes.
#pragma once

#include <optional>
#include <string_view>

namespace reuserun {

enum class LogLevel { trace, debug, info, warn, error, off };

std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view log_level_name(LogLevel level);

// text: "2026-11-26T18:00:00.123 reuserun[42] info: ...", or under journald (JOURNAL_STREAM names
// standard error) "<6>...": the journal adds its own timestamp and takes the priority from the
// prefix (sd-daemon(3)). json: one object per line (format_json_log_line).
enum class LogFormat { text, json };
std::optional<LogFormat> parse_log_format(std::string_view text);

}  // namespace reuserun
