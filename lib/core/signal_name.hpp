// Signal names as users write them: "TERM", "SIGTERM", "term", or a number.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace reuserun {

// Returns the signal number, or nullopt when the text names no signal (0 is not a signal).
std::optional<int> parse_signal(std::string_view text);

// "SIGTERM" for 15; "SIG<number>" for a signal without a name (real-time signals).
std::string signal_name(int sig);

}  // namespace reuserun
