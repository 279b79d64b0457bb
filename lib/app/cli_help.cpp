#include "cli_help.hpp"

#include <algorithm>
#include <sstream>
#include <utility>

#include "control.hpp"
#include "exit_code.hpp"

namespace reuserun {
namespace {

constexpr std::size_t kWidth = 100;      // a line of help, at most
constexpr std::size_t kDescribeAt = 30;  // where an option's description starts
constexpr std::size_t kExampleAt = 6;    // where an example's explanation starts

constexpr const char* kGroupOrder[] = {
    help_group::kSockets, help_group::kReadiness, help_group::kStopping, help_group::kChildren,
    help_group::kControl, help_group::kLogging,   help_group::kHelp};

// `text` in lines of at most kWidth, the first after `first` (already `indent` wide, or less
// when it ends with a newline), the others indented by `indent`.
std::string wrap(const std::string& text, std::size_t indent, std::string first = "") {
  std::string out = std::move(first);
  std::size_t column = out.size();
  if (column > indent) {
    out += "\n";
    column = 0;
  }
  std::istringstream words(text);
  std::string word;
  bool line_empty = true;
  while (words >> word) {
    if (!line_empty && column + 1 + word.size() > kWidth) {
      out += "\n";
      column = 0;
      line_empty = true;
    }
    if (line_empty) {
      out.append(indent - std::min(column, indent), ' ');
      column = std::max(column, indent);
    } else {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_empty = false;
  }
  return out + "\n";
}

// A vector's default reads "[auto]" in CLI11: shown as the user would type it.
std::string shown_default(std::string text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  return text;
}

std::string option_line(const CLI::Option& option) {
  std::string name = "  " + option.get_name(false, true);
  if (option.get_type_size() != 0) name += " " + option.get_type_name();
  std::string description = option.get_description();
  if (const std::string shown = shown_default(option.get_default_str()); !shown.empty())
    description += " [default: " + shown + "]";
  if (!option.get_envname().empty()) description += " [env: " + option.get_envname() + "]";
  name.resize(std::max(name.size(), kDescribeAt), ' ');
  return wrap(description, kDescribeAt, name);
}

std::vector<std::string> ordered_groups(const CLI::App& app) {
  std::vector<std::string> groups(std::begin(kGroupOrder), std::end(kGroupOrder));
  for (const std::string& group : app.get_groups())
    if (!group.empty() && std::find(groups.begin(), groups.end(), group) == groups.end())
      groups.push_back(group);
  return groups;
}

class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter(std::vector<std::string> usage, std::string footer)
      : usage_(std::move(usage)), footer_(std::move(footer)) {}

  std::string make_help(const CLI::App* app, std::string /*name*/,
                        CLI::AppFormatMode /*mode*/) const override {
    std::string out;
    for (std::size_t i = 0; i < usage_.size(); ++i)
      out += (i == 0 ? "Usage: " : "       ") + usage_[i] + "\n";
    out += "\n" + wrap(app->get_description(), 0);
    for (const std::string& group : ordered_groups(*app)) {
      const auto options = app->get_options([&](const CLI::Option* option) {
        return option->get_group() == group && option->nonpositional();
      });
      if (options.empty()) continue;
      out += "\n" + group + ":\n";
      for (const CLI::Option* option : options) out += option_line(*option);
    }
    return out + "\n" + footer_;
  }

 private:
  std::vector<std::string> usage_;
  std::string footer_;
};

struct Example {
  const char* command;
  const char* explanation;
};

struct ExitStatus {
  int code;
  const char* meaning;
};

std::string examples(std::initializer_list<Example> list) {
  std::string out = "Examples:\n";
  for (const Example& example : list)
    out += "  " + std::string(example.command) + "\n" + wrap(example.explanation, kExampleAt);
  return out;
}

std::string exit_statuses(std::initializer_list<ExitStatus> list) {
  std::string out = "Exit status:\n";
  for (const ExitStatus& status : list) {
    std::string code = "  " + std::to_string(status.code);
    code.resize(kExampleAt + 1, ' ');
    out += wrap(status.meaning, kExampleAt + 1, code);
  }
  return out;
}

}  // namespace

CLI::Validator in_range(int low, int high) { return CLI::Range(low, high).description(""); }

void set_help_format(CLI::App& app, std::vector<std::string> usage, std::string footer) {
  app.formatter(std::make_shared<HelpFormatter>(std::move(usage), std::move(footer)));
}

std::string run_help_footer() {
  return examples({
             {"reuserun --port 8080 -- gunicorn app:app",
              "Serve the app on port 8080 (gunicorn takes the socket from LISTEN_FDS); SIGHUP to "
              "reuserun restarts it without dropping a connection."},
             {"reuserun --port 443 --user www-data --ready http:/health -- ./server",
              "Bind as root, serve as www-data; a new generation is ready once GET /health "
              "answers 2xx."},
             {"reuserun ctl --port 8080 restart",
              "Restart the reuserun of port 8080 and wait for the outcome: exit 0 once the new "
              "generation serves (reuserun ctl --help)."},
         }) +
         "\n" +
         exit_statuses({
             {kExitOk, "stopped on request; every child exited within --stop-timeout"},
             {kExitFailure, "runtime error"},
             {kExitUsage, "invalid option or value, or no command"},
             {kExitListen, "the port could not be freed or bound"},
             {kExitForcedStop, "stopped, but a child had to be killed with SIGKILL"},
             {kExitPidFile, "the pid file names another running reuserun, or cannot be written"},
             {kExitHandover, "an upgrade's new image refused the handover (reuserun(1), UPGRADE)"},
             {kExitStartFailed,
              "the first start failed for good: the command daemonized, or --start-attempts "
              "starts failed in a row"},
             {kExitNotExecutable, "COMMAND exists but cannot be executed"},
             {kExitNotFound, "COMMAND (or its interpreter) was not found"},
         }) +
         "\nSee reuserun(1).\n";
}

std::string ctl_help_footer() {
  return "Requests:\n"
         "  restart   restart the command, as SIGHUP does, and wait for the outcome\n"
         "  status    print reuserun's state, listeners, generations and last restart\n"
         "  upgrade   upgrade reuserun in place, as SIGUSR2 does, and wait for the outcome\n\n" +
         examples({
             {"reuserun ctl --port 8080 restart",
              "Restart the reuserun of port 8080; exit 0 once the new generation serves."},
             {"reuserun ctl --json status", "The only reuserun of this user, as JSON."},
         }) +
         "\n" +
         exit_statuses({
             {kExitOk, "restarted or upgraded, or status printed"},
             {kCtlUnreachable, "reuserun could not be reached, or refused the request"},
             {kExitUsage, "invalid option or request"},
             {kCtlExited, "the new generation exited before it was ready"},
             {kCtlGateFailed, "it failed its readiness gate"},
             {kCtlTimedOut, "it was not ready within --ready-timeout"},
             {kCtlSpawnFailed, "it could not be started"},
             {kCtlStopping, "reuserun stopped before the restart (or upgrade) ended"},
             {kCtlUpgradeFailed, "the upgrade failed; reuserun runs on as it was"},
         }) +
         "\nSee reuserun(1), CONTROL.\n";
}

std::string unknown_word(std::string_view program, std::string_view what, std::string_view word,
                         std::string_view expected) {
  std::string line = "unknown " + std::string(what) + " " + std::string(word);
  if (!expected.empty()) line += ": expected " + std::string(expected);
  return line + " (see " + std::string(program) + " --help)";
}

}  // namespace reuserun
