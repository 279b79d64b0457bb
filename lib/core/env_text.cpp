#include "env_text.hpp"

#include <cctype>
#include <cerrno>
#include <sstream>

namespace reuserun {

std::optional<std::pair<std::string, std::string>> parse_env_assignment(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == 0 || equals == std::string_view::npos) return std::nullopt;
  const std::string_view key = text.substr(0, equals);
  if (std::isdigit(static_cast<unsigned char>(key.front()))) return std::nullopt;
  for (const char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
  std::string_view value = text.substr(equals + 1);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front())
    value = value.substr(1, value.size() - 2);
  return std::pair{std::string(key), std::string(value)};
}

Result<EnvPairs> parse_env_text(std::string_view text, const std::string& path) {
  std::istringstream file{std::string(text)};
  EnvPairs pairs;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    std::string_view text_line = line;
    while (!text_line.empty() && std::isspace(static_cast<unsigned char>(text_line.front())))
      text_line.remove_prefix(1);
    while (!text_line.empty() && std::isspace(static_cast<unsigned char>(text_line.back())))
      text_line.remove_suffix(1);
    if (text_line.empty() || text_line.front() == '#') continue;
    if (text_line.starts_with("export ")) text_line.remove_prefix(7);
    const auto assignment = parse_env_assignment(text_line);
    if (!assignment)
      return Error{path + ":" + std::to_string(number) + ": expected KEY=VALUE", EINVAL};
    pairs.push_back(*assignment);
  }
  return pairs;
}

}  // namespace reuserun
