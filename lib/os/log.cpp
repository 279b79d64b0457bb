#include "log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>

#include "status.hpp"
#include "text.hpp"

namespace reuserun {
namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return spdlog::level::trace;
    case LogLevel::debug:
      return spdlog::level::debug;
    case LogLevel::info:
      return spdlog::level::info;
    case LogLevel::warn:
      return spdlog::level::warn;
    case LogLevel::error:
      return spdlog::level::err;
    case LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

// How lines are written: set once by init_logging.
enum class LineStyle { text, journald, json };
LineStyle g_style = LineStyle::text;
int g_pid = 0;

// True when standard error is the stream JOURNAL_STREAM ("DEVICE:INODE") names: systemd connected
// it to the journal, which stamps each line itself and reads "<N>" as its priority.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  const auto parts = split(stream, ':');
  struct stat info {};
  unsigned long device = 0;
  unsigned long inode = 0;
  return parts.size() == 2 && parse_number(parts[0], device) && parse_number(parts[1], inode) &&
         ::fstat(STDERR_FILENO, &info) == 0 && info.st_dev == device && info.st_ino == inode;
}

// sd-daemon(3)'s prefixes: <3> error, <4> warning, <6> info, <7> debug.
std::string_view journal_prefix(LogLevel level) {
  switch (level) {
    case LogLevel::error:
      return "<3>";
    case LogLevel::warn:
      return "<4>";
    case LogLevel::info:
      return "<6>";
    default:
      return "<7>";
  }
}

// UTC, millisecond precision: "2026-11-26T18:00:00.123Z".
std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", parts.tm_year + 1900,
                     parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                     ms.count() % 1000);
}

}  // namespace

std::string format_json_log_line(std::string_view time, LogLevel level, std::string_view text,
                                 const LogFields& fields, int reuserun_pid) {
  std::string line = fmt::format(R"({{"time":{},"level":{},"message":{})", json_string(time),
                                 json_string(log_level_name(level)), json_string(text));
  if (!fields.event.empty()) line += fmt::format(R"(,"event":{})", json_string(fields.event));
  if (fields.generation != 0) line += fmt::format(R"(,"generation":{})", fields.generation);
  if (fields.has_worker) line += fmt::format(R"(,"worker":{})", fields.worker);
  if (fields.pid > 0) line += fmt::format(R"(,"pid":{})", fields.pid);
  return line + fmt::format(R"(,"reuserun_pid":{}}})", reuserun_pid);
}

void init_logging(LogLevel level, LogFormat format) {
  // Synchronous and single-threaded (_st): reuserun has one thread, and a logger thread would
  // break the fork in spawn.cpp.
  static auto logger = spdlog::stderr_logger_st("reuserun");
  g_pid = static_cast<int>(::getpid());
  g_style = format == LogFormat::json ? LineStyle::json
            : stderr_is_journal()     ? LineStyle::journald
                                      : LineStyle::text;
  // The journald and json lines are made here (log_message); spdlog only writes them.
  logger->set_pattern(g_style == LineStyle::text ? "%Y-%m-%dT%H:%M:%S.%e reuserun[%P] %l: %v"
                                                 : "%v");
  logger->set_level(to_spdlog(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void log_message(LogLevel level, std::string_view text, const LogFields& fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(to_spdlog(level))) return;
  // The backstop: whatever text from others a message carries unescaped, a line stays one line
  // (no forged journald record) and well-formed UTF-8 (JSON that strict readers accept).
  std::string escaped;
  if (!is_loggable(text)) escaped = loggable(text);
  const std::string_view line = escaped.empty() ? text : std::string_view(escaped);
  switch (g_style) {
    case LineStyle::text:
      return logger->log(to_spdlog(level), "{}", line);
    case LineStyle::journald:
      return logger->log(to_spdlog(level), "{}{}", journal_prefix(level), line);
    case LineStyle::json:
      return logger->log(to_spdlog(level), "{}",
                         format_json_log_line(utc_now(), level, line, fields, g_pid));
  }
}

}  // namespace reuserun
