#include "signal_name.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstring>
#include <string>
#include <tuple>

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
  // Real-time signals, as kill -l spells them: RTMIN, RTMIN+3, RTMAX-2, RTMAX.
  for (const auto& [prefix, base, sign] :
       {std::tuple{std::string_view("RTMIN"), SIGRTMIN, 1}, {"RTMAX", SIGRTMAX, -1}}) {
    if (!name.starts_with(prefix)) continue;
    std::string_view offset_text = name.substr(prefix.size());
    int offset = 0;
    if (!offset_text.empty()) {
      if (offset_text.front() != (sign > 0 ? '+' : '-')) return std::nullopt;
      offset_text.remove_prefix(1);
      const auto [end, error] =
          std::from_chars(offset_text.data(), offset_text.data() + offset_text.size(), offset);
      if (offset_text.empty() || error != std::errc() || end != offset_text.end())
        return std::nullopt;
    }
    const int sig = base + sign * offset;
    if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
    return sig;
  }
  return std::nullopt;
}

// Every name given here parses back to the same signal (tests/fuzz).
std::string signal_name(int sig) {
  if (const char* abbreviation = ::sigabbrev_np(sig)) return std::string("SIG") + abbreviation;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return std::to_string(sig);  // a signal without a name (glibc's reserved 32 and 33)
}

}  // namespace reuserun
