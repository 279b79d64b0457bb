#include "env_file.hpp"

#include <cctype>
#include <cerrno>
#include <fstream>
#include <optional>

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

Result<EnvPairs> read_env_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return system_error("read --env-file " + path, errno != 0 ? errno : ENOENT);
  EnvPairs pairs;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    std::string_view text = line;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
      text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
      text.remove_suffix(1);
    if (text.empty() || text.front() == '#') continue;
    if (text.starts_with("export ")) text.remove_prefix(7);
    const auto assignment = parse_env_assignment(text);
    if (!assignment)
      return Error{path + ":" + std::to_string(number) + ": expected KEY=VALUE", EINVAL};
    pairs.push_back(*assignment);
  }
  return pairs;
}

}  // namespace reuserun
