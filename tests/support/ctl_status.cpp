#include "ctl_status.hpp"

#include <cctype>
#include <cstdlib>

#include "harness.hpp"

namespace rrtest {

namespace {

// A recursive-descent reader over one JSON text; any malformation makes the whole parse fail.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  std::optional<Json> document() {
    Json value;
    if (!read(value, 0)) return std::nullopt;
    skip_space();
    if (at_ != text_.size()) return std::nullopt;
    return value;
  }

 private:
  static constexpr int kMaxDepth = 32;

  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool take(char c) {
    skip_space();
    if (at_ >= text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
  }
  bool word(std::string_view literal) {
    if (text_.substr(at_, literal.size()) != literal) return false;
    at_ += literal.size();
    return true;
  }

  bool read(Json& value, int depth) {
    if (depth > kMaxDepth) return false;
    skip_space();
    if (at_ >= text_.size()) return false;
    const char c = text_[at_];
    if (c == '{') return read_object(value, depth);
    if (c == '[') return read_array(value, depth);
    if (c == '"') {
      value.kind = Json::Kind::string;
      return read_string(value.text);
    }
    if (word("null")) return true;
    if (word("true")) {
      value.kind = Json::Kind::boolean;
      value.boolean = true;
      return true;
    }
    if (word("false")) {
      value.kind = Json::Kind::boolean;
      return true;
    }
    return read_number(value);
  }

  bool read_number(Json& value) {
    const std::string digits(text_.substr(at_, 40));
    char* end = nullptr;
    value.number = std::strtod(digits.c_str(), &end);
    if (end == digits.c_str()) return false;
    value.kind = Json::Kind::number;
    at_ += static_cast<std::size_t>(end - digits.c_str());
    return true;
  }

  // Escapes are kept as they are, except \" and \\: the tests compare plain ASCII reasons.
  bool read_string(std::string& out) {
    ++at_;
    while (at_ < text_.size() && text_[at_] != '"') {
      if (text_[at_] == '\\' && at_ + 1 < text_.size()) {
        const char next = text_[at_ + 1];
        if (next == '"' || next == '\\') {
          out += next;
          at_ += 2;
          continue;
        }
      }
      out += text_[at_++];
    }
    if (at_ >= text_.size()) return false;
    ++at_;
    return true;
  }

  bool read_array(Json& value, int depth) {
    value.kind = Json::Kind::array;
    ++at_;
    if (take(']')) return true;
    do {
      value.items.emplace_back();
      if (!read(value.items.back(), depth + 1)) return false;
    } while (take(','));
    return take(']');
  }

  bool read_object(Json& value, int depth) {
    value.kind = Json::Kind::object;
    ++at_;
    if (take('}')) return true;
    do {
      std::string key;
      skip_space();
      if (at_ >= text_.size() || text_[at_] != '"' || !read_string(key) || !take(':')) return false;
      value.members.emplace_back(std::move(key), Json{});
      if (!read(value.members.back().second, depth + 1)) return false;
    } while (take(','));
    return take('}');
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

const Json kNull;

}  // namespace

const Json& Json::operator[](std::string_view key) const {
  for (const auto& [name, value] : members)
    if (name == key) return value;
  return kNull;
}

std::optional<Json> parse_json(std::string_view text) { return JsonReader(text).document(); }

std::vector<pid_t> StatusView::pids_of(int generation) const {
  std::vector<pid_t> pids;
  for (const GenerationView& view : generations)
    if (view.generation == generation) pids.push_back(view.pid);
  return pids;
}

std::optional<int> StatusView::generation_in(std::string_view wanted) const {
  for (const GenerationView& view : generations)
    if (view.state == wanted) return view.generation;
  return std::nullopt;
}

std::optional<StatusView> ctl_status(pid_t reuserun) {
  // The control protocol answers "<exit code>\n<body>".
  const std::string answer = unix_exchange(control_socket_of(reuserun), "status json\n");
  if (!answer.starts_with("0\n")) return std::nullopt;
  const auto json = parse_json(std::string_view(answer).substr(2));
  if (!json || json->kind != Json::Kind::object) return std::nullopt;
  StatusView status;
  status.state = (*json)["state"].text;
  if (!(*json)["serving_generation"].is_null())
    status.serving = static_cast<int>((*json)["serving_generation"].integer());
  status.restarts = static_cast<int>((*json)["restarts"].integer());
  status.upgrades = static_cast<int>((*json)["upgrades"].integer());
  status.recovery = (*json)["recovery"]["how"].text;
  status.recovery_detail = (*json)["recovery"]["detail"].text;
  for (const Json& path : (*json)["watching"].items) status.watching.push_back(path.text);
  status.restart_trigger = (*json)["restart_trigger"].text;
  if (const Json& last = (*json)["last_restart"]; !last.is_null())
    status.last_restart =
        RestartView{static_cast<int>(last["generation"].integer()), last["outcome"].text,
                    last["succeeded"].boolean, last["reason"].text};
  for (const Json& item : (*json)["listeners"].items)
    status.listeners.push_back(item["address"].text);
  for (const Json& item : (*json)["generations"].items)
    status.generations.push_back(GenerationView{
        static_cast<int>(item["generation"].integer()), static_cast<int>(item["worker"].integer()),
        static_cast<pid_t>(item["pid"].integer()), item["state"].text, item["ready_by"].text,
        item["bound_itself"].text});
  return status;
}

std::optional<StatusView> wait_for_status(pid_t reuserun,
                                          const std::function<bool(const StatusView&)>& condition,
                                          std::chrono::milliseconds limit) {
  std::optional<StatusView> status;
  const bool met =
      wait_until([&] { return (status = ctl_status(reuserun)) && condition(*status); }, limit);
  return met ? status : std::nullopt;
}

}  // namespace rrtest
