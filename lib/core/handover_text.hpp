// The handover's text a token at a time (handover.cpp): a string quoted as one space-free
// token, numbers as their decimal text ("-" for none), and one line's fields read in order.
#pragma once

#include <sys/types.h>

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text.hpp"

namespace reuserun::handover_text {

// A string as one space-free token: backslash, space and newline escaped; "\e" is empty.
std::string quote(std::string_view text);
std::optional<std::string> unquote(std::string_view token);
std::string join_pids(const std::vector<pid_t>& pids);  // "-" for none

std::string optional_number(const auto& value) {
  return value ? std::to_string(*value) : std::string("-");
}

// A number of the supervisor's line, as encode_handover writes it.
inline std::string token(bool value) { return value ? "1" : "0"; }
std::string token(std::integral auto value) { return std::to_string(value); }
template <class Number>
std::string token(const std::optional<Number>& value) {
  return optional_number(value);
}

// One line's fields, read in order; the first failure is remembered.
class Fields {
 public:
  explicit Fields(std::vector<std::string_view> tokens) : tokens_(std::move(tokens)) {}

  template <typename Number>
  Number number() {
    Number value{};
    if (!parse_number(next(), value)) ok_ = false;
    return value;
  }
  template <typename Number>
  std::optional<Number> optional_number() {
    const std::string_view token = peek();
    if (token == "-") {
      next();
      return std::nullopt;
    }
    return number<Number>();
  }
  bool flag() {
    const std::string_view token = next();
    if (token != "0" && token != "1") ok_ = false;
    return token == "1";
  }
  std::string text() {
    auto value = unquote(next());
    if (!value) ok_ = false;
    return value.value_or("");
  }
  std::string_view word() { return next(); }
  // One number of the supervisor's line, of the field's type.
  template <typename Number>
  void read(Number& value) {
    if constexpr (std::same_as<Number, bool>)
      value = flag();
    else
      value = number<Number>();
  }
  template <typename Number>
  void read(std::optional<Number>& value) {
    value = optional_number<Number>();
  }
  // Every field was read and valid, and none is left over.
  bool done() const { return ok_ && index_ == tokens_.size(); }

 private:
  std::string_view peek() const { return index_ < tokens_.size() ? tokens_[index_] : ""; }
  std::string_view next() {
    if (index_ >= tokens_.size()) {
      ok_ = false;
      return "";
    }
    return tokens_[index_++];
  }

  std::vector<std::string_view> tokens_;
  std::size_t index_ = 0;
  bool ok_ = true;
};

}  // namespace reuserun::handover_text
