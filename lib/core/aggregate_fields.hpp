// A struct's fields, described once and checked by the compiler. kFieldCount<T> counts the fields
// of an aggregate: the largest N for which T{x1, ..., xN} compiles, each x converting to anything
// (no member of T may itself take several initializers by brace elision: every x converts). A
// description of T's fields, a tuple of Field, is checked against it, so that a field added to T
// and left out of its description does not compile.
#pragma once

#include <cstddef>
#include <string_view>
#include <tuple>
#include <utility>

namespace reuserun {

// One field of a description: its name, and where it is.
template <class T>
struct Field {
  std::string_view name;
  T& value;
};
template <class T>
Field(std::string_view, T&) -> Field<T>;  // clang 14 deduces no aggregate's arguments

namespace aggregate_detail {

struct AnyValue {
  template <class T>
  operator T() const;  // NOLINT(google-explicit-constructor): never called, only named
};

template <class T, std::size_t... Index>
constexpr bool takes(std::index_sequence<Index...> /*unused*/) {
  return requires { T{(static_cast<void>(Index), AnyValue{})...}; };
}

template <class T, std::size_t N = 0>
constexpr std::size_t count_fields() {
  if constexpr (takes<T>(std::make_index_sequence<N + 1>{}))
    return count_fields<T, N + 1>();
  else
    return N;
}

}  // namespace aggregate_detail

template <class T>
inline constexpr std::size_t kFieldCount = aggregate_detail::count_fields<T>();

// each(first's i-th element, the i-th of each of rest...) for every i, in order: two
// descriptions of the same fields walked side by side.
template <class Each, class First, class... Rest>
void for_each_zipped(Each&& each, const First& first, const Rest&... rest) {
  constexpr std::size_t kSize = std::tuple_size_v<First>;
  static_assert(((std::tuple_size_v<Rest> == kSize) && ...), "descriptions of one length");
  const auto at = [&](auto index) {
    each(std::get<decltype(index)::value>(first), std::get<decltype(index)::value>(rest)...);
  };
  [&]<std::size_t... Index>(std::index_sequence<Index...> /*unused*/) {
    (at(std::integral_constant<std::size_t, Index>{}), ...);
  }(std::make_index_sequence<kSize>{});
}

}  // namespace reuserun
