// Small text helpers shared by the /proc readers.
#pragma once

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace reuserun {

// The whole file, or "" when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}


// "a:b::c" -> {"a", "b", "", "c"}; "" -> {""}.
inline std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// Text that others control (a command line, a name) as one safe line for a log, a terminal or
// JSON: control characters (C0, DEL, C1) and bytes that are not well-formed UTF-8 become \xNN,
// a backslash \\; well-formed UTF-8 stays as it is. Nobody can start a new log record (a
// journald "<0>" after a newline), move a terminal's cursor, or break a strict JSON reader.
std::string escape_foreign(std::string_view text);
// The log's backstop for every line: true when `text` has no control character and is
// well-formed UTF-8; otherwise loggable() gives it with those bytes as \xNN (backslashes stay).
bool is_loggable(std::string_view text);
std::string loggable(std::string_view text);

// The whole of `text` as a number in `base`; false when anything else is there.
template <typename Number>
bool parse_number(std::string_view text, Number& out, int base = 10) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

}  // namespace reuserun
