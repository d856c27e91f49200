// Outcomes of store operations that can fail for expected reasons: the disk is full, the file is
// busy, damaged or unreadable. One convention for gateway/store and its callers (gateway/api): a
// Status, or a Result<T> that holds either a value or a failed Status (after LevelDB's Status).
// A Status says what kind of failure it was (code) so callers can answer it (503 + Retry-After
// for "no space", 500 otherwise) and what happened (message, for people and logs).
// Thread: plain values, safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gridlet::store {

enum class StatusCode : std::uint8_t {
  kOk,
  kNoSpace,   // the disk (or the file's page limit) is full: retry after space was freed
  kBusy,      // the database stayed locked beyond the busy timeout
  kCorrupt,   // the file is damaged or not a database
  kIoError,   // reading or writing failed (also: cannot open)
  kInternal,  // anything else: a bug, out of memory, a broken schema
};

std::string_view to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status ok() { return {}; }
  static Status error(StatusCode code, std::string message) {
    return Status(code, std::move(message));
  }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  bool is_no_space() const { return code_ == StatusCode::kNoSpace; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok", or "<code>: <message>", e.g. "no space: database or disk is full".
  std::string to_string() const {
    if (is_ok()) return "ok";
    return std::string(store::to_string(code_)) + ": " + message_;
  }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value, or the Status that says why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                   // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}           // NOLINT: must not be ok
  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

inline std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kNoSpace: return "no space";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace gridlet::store
