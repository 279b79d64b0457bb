// What the command line says to a person: `--help` for run mode and for `reuserun ctl` (usage
// lines, options in groups with the names of their values, examples, every exit status), and
// the one-line usage errors both parsers share, so a typo reads the same wherever it is made.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace reuserun {

inline constexpr const char* kRunUsage = "reuserun [OPTIONS] [--] COMMAND [ARGS...]";
inline constexpr const char* kCtlUsage = "reuserun ctl [OPTIONS] restart|status|upgrade";

// The groups of run mode's --help, in the order shown (`->group(help_group::kSockets)`). An
// option in none of these still shows, after them (CLI11's "Options"); one in group "" is
// hidden.
namespace help_group {
inline constexpr const char* kSockets = "Sockets";
inline constexpr const char* kReadiness = "Readiness and restarts";
inline constexpr const char* kStopping = "Stopping";
inline constexpr const char* kChildren = "Children";
inline constexpr const char* kControl = "Control and upgrades";
inline constexpr const char* kLogging = "Logging";
inline constexpr const char* kHelp = "Help";
}  // namespace help_group

// A range check whose bounds stay out of the value's name in --help ("N", not "INT in [1 -
// 1024]"); a value outside still gets CLI11's one line naming the bounds.
CLI::Validator in_range(int low, int high);

// Makes `app` print its help as described above: `usage` lines first, then the description,
// the options by group, and `footer` (examples, exit statuses).
void set_help_format(CLI::App& app, std::vector<std::string> usage, std::string footer);

// The footers: examples and every exit status, of run mode and of `reuserun ctl`.
std::string run_help_footer();
std::string ctl_help_footer();

// A usage error found after CLI11's parse: one line, exit status 2.
struct UsageError {
  std::string message;
};

// "unknown option --prot (see reuserun --help)"; with `expected`, after a colon: "unknown
// request stats: expected restart, status or upgrade (see reuserun ctl --help)".
std::string unknown_word(std::string_view program, std::string_view what, std::string_view word,
                         std::string_view expected = "");

}  // namespace reuserun
