#include "duration.hpp"

#include <cctype>
#include <cstdint>

namespace reuserun {
namespace {

constexpr std::int64_t kMaxMilliseconds = 365LL * 24 * 3600 * 1000;

// Milliseconds in one unit, 0 for an unknown unit.
std::int64_t unit_milliseconds(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s" || unit == "sec" || unit.empty()) return 1000;
  if (unit == "m" || unit == "min") return std::int64_t{60} * 1000;
  if (unit == "h") return std::int64_t{3600} * 1000;
  return 0;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    // One "<digits>[.<digits>]<unit>" term.
    std::int64_t whole = 0;
    std::int64_t fraction = 0;
    std::int64_t fraction_scale = 1;
    const std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      whole = whole * 10 + (text[i++] - '0');
      if (whole > kMaxMilliseconds) return std::nullopt;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (fraction_scale < 1000000) {
          fraction = fraction * 10 + (text[i] - '0');
          fraction_scale *= 10;
        }
        ++i;
      }
    }
    if (i == start || (i == start + 1 && text[start] == '.')) return std::nullopt;
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::int64_t scale = unit_milliseconds(text.substr(unit_start, i - unit_start));
    if (scale == 0) return std::nullopt;
    total += whole * scale + fraction * scale / fraction_scale;
    if (total > kMaxMilliseconds) return std::nullopt;
  }
  return Duration(total);
}

std::string format_duration(Duration duration) {
  const std::int64_t ms = duration.count();
  if (ms == 0) return "0";
  if (ms % 1000 != 0) {
    if (ms < 1000) return std::to_string(ms) + "ms";
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    return std::to_string(ms / 1000) + "." + fraction + "s";
  }
  const std::int64_t seconds = ms / 1000;
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

}  // namespace reuserun
