// Small text helpers shared by the /proc readers.
#pragma once

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace reuserun {

// The whole file, or "" when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// The whole of `text` as a number in `base`; false when anything else is there.
template <typename Number>
bool parse_number(std::string_view text, Number& out, int base = 10) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

}  // namespace reuserun
