// How gateway/dr reports input it refuses: a Result<T> holds a value or an InputError that names
// the place (a JSON pointer such as "/intervals/0/payloads/1/values", empty for a bare string) and
// says why. gateway/store's Result carries storage failure kinds (no space, busy, corrupt) that do
// not describe bad input, so DR has its own with the same shape. Plain values, any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace gridlet::dr {

struct InputError {
  std::string pointer;  // RFC 6901 JSON pointer of the offending value; "" = the whole input
  std::string message;  // why, for people and logs

  // "POINTER: MESSAGE", or just MESSAGE when there is no pointer.
  std::string to_string() const { return pointer.empty() ? message : pointer + ": " + message; }
  bool operator==(const InputError&) const = default;
};

// A value, or the InputError that says why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(InputError error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose
  bool is_ok() const { return value_.has_value(); }
  const InputError& error() const { return error_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  InputError error_;
};

}  // namespace gridlet::dr
