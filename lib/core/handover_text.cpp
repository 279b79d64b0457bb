#include "handover_text.hpp"

namespace reuserun::handover_text {

std::string quote(std::string_view text) {
  if (text.empty()) return "\\e";
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == ' ')
      out += "\\s";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::optional<std::string> unquote(std::string_view token) {
  if (token == "\\e") return std::string();
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '\\') {
      out += token[i];
      continue;
    }
    if (++i == token.size()) return std::nullopt;
    switch (token[i]) {
      case '\\':
        out += '\\';
        break;
      case 's':
        out += ' ';
        break;
      case 'n':
        out += '\n';
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

std::string join_pids(const std::vector<pid_t>& pids) {
  if (pids.empty()) return "-";
  std::string out;
  for (const pid_t pid : pids) out += (out.empty() ? "" : ",") + std::to_string(pid);
  return out;
}

}  // namespace reuserun::handover_text
