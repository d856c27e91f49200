// Time is injected: production code reads a Clock, tests use a ManualClock and never sleep.
// Here, in the lowest module that needs it (setpoint holding); the gateway uses it from here.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace gridlet::adapters {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
};

// Unix milliseconds of the system clock: the timestamps of readings and logs (the one place that
// reads it for them; code that plans with time takes a Clock instead).
inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::seconds(1'700'000'000)})
      : now_(start) {}
  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void set(TimePoint t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

}  // namespace gridlet::adapters

namespace gridlet::adapters {

// Wall-clock-shaped time that never goes backwards: the system time at construction plus the
// monotonic time elapsed since. Drives the daemon's scheduler, so an NTP step on a Pi without a
// real-time clock neither stalls periodic tasks (the watchdog among them) nor fires them early.
class MonotonicClock final : public Clock {
 public:
  MonotonicClock()
      : wall_start_(std::chrono::system_clock::now()), steady_start_(std::chrono::steady_clock::now()) {}
  TimePoint now() const override {
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                             std::chrono::steady_clock::now() - steady_start_);
  }

 private:
  TimePoint wall_start_;
  std::chrono::steady_clock::time_point steady_start_;
};

}  // namespace gridlet::adapters
