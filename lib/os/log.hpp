// The logging facade: one synchronous spdlog logger on stderr behind a few functions, so that
// nothing but log.cpp includes spdlog and the pure modules can describe log lines as data.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "log_level.hpp"

namespace reuserun {

// What a line is about, where it is about a worker: the JSON fields "event", "generation",
// "worker", "pid" (the worker's). Empty/zero fields are left out.
struct LogFields {
  std::string_view event;  // started, ready, draining, exited, restart-succeeded, ...
  unsigned long generation = 0;
  unsigned long worker = 0;
  bool has_worker = false;
  int pid = 0;
};

// {"time":"2026-11-26T18:00:00.123Z","level":"info","message":"...","event":"ready",
//  "generation":2,"worker":0,"pid":4242,"reuserun_pid":42}
std::string format_json_log_line(std::string_view time, LogLevel level, std::string_view text,
                                 const LogFields& fields, int reuserun_pid);

// Sets up the stderr logger. Idempotent.
void init_logging(LogLevel level, LogFormat format = LogFormat::text);

void log_message(LogLevel level, std::string_view text, const LogFields& fields = {});

template <typename... Args>
void log_debug(fmt::format_string<Args...> format, Args&&... args) {
  log_message(LogLevel::debug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
  log_message(LogLevel::info, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> format, Args&&... args) {
  log_message(LogLevel::warn, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> format, Args&&... args) {
  log_message(LogLevel::error, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace reuserun
