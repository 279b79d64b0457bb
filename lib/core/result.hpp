// The error type of the syscall layer: a message that names the call and the object,
// systemd-style ("Failed to bind 0.0.0.0:8080: Address already in use"), and the errno.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace reuserun {

struct Error {
  std::string message;
  int code = 0;  // errno, 0 when there is none
};

// "Failed to <what>: <strerror(code)>"
Error system_error(const std::string& what, int code);

template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(state_); }
  const T& value() const { return std::get<T>(state_); }
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// A step that yields nothing but may fail: `Result<void> done = step(); if (!done) ...`.
template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace reuserun
