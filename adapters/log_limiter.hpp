// Rate limit for log lines about outside input (a flood of bad messages must not flood the log):
// at most `burst` lines per `period`; the first line allowed after some were held back says how
// many. Not thread-safe: one per thread or per owner on the event loop.
#pragma once

#include <chrono>
#include <cstdint>

namespace gridlet::adapters {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds period = std::chrono::seconds(10), int burst = 5)
      : period_ms_(period.count()), burst_(burst) {}

  // True when a line may be logged now; `suppressed` is then the number of lines held back since
  // the last one allowed.
  bool allow(std::int64_t now_ms, std::uint64_t& suppressed) {
    if (now_ms - window_start_ms_ >= period_ms_) {
      window_start_ms_ = now_ms;
      in_window_ = 0;
    }
    if (in_window_ >= burst_) {
      ++held_;
      return false;
    }
    ++in_window_;
    suppressed = held_;
    held_ = 0;
    return true;
  }

 private:
  std::int64_t period_ms_;
  int burst_;
  std::int64_t window_start_ms_ = INT64_MIN / 2;
  int in_window_ = 0;
  std::uint64_t held_ = 0;
};

}  // namespace gridlet::adapters
