#include "signal_name.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstring>

namespace reuserun {

std::optional<int> parse_signal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(text.front()))) {
    int number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    if (number <= 0 || number >= NSIG) return std::nullopt;
    return number;
  }
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbreviation = ::sigabbrev_np(sig);  // glibc >= 2.32, async-signal-safe table
    if (abbreviation != nullptr && name == abbreviation) return sig;
  }
  return std::nullopt;
}

std::string signal_name(int sig) {
  const char* abbreviation = ::sigabbrev_np(sig);
  return std::string("SIG") + (abbreviation != nullptr ? abbreviation : std::to_string(sig));
}

}  // namespace reuserun
