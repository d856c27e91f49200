// A setpoint handled the way real inverters and batteries handle one: written now, in force after
// the device's delay (plus a random part of its window), and back to the default when its revert
// timer (RvrtTms, counted from the write) runs out unless it is written again.
// Timers run on the wall clock, not the simulated one: the gateway keeps setpoints alive in real
// seconds, whatever --speed does to the sun.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "tests/sim/device.hpp"

namespace gridlet::devsim {

class TimedSetpoint {
 public:
  void latch(TimePoint now, TimePoint effective, std::uint32_t revert_s) {
    effective_at_ = effective;
    revert_at_ = revert_s > 0 ? std::optional(now + std::chrono::seconds(revert_s)) : std::nullopt;
  }
  // True once, when the latched value should take effect.
  bool take_effect(TimePoint now) {
    if (!effective_at_ || now < *effective_at_) return false;
    effective_at_.reset();
    return true;
  }
  // True once, when the revert timer has run out (after the value took effect).
  bool take_revert(TimePoint now) {
    if (effective_at_ || !revert_at_ || now < *revert_at_) return false;
    revert_at_.reset();
    return true;
  }
  // When the revert timer runs out; nullopt when none is running.
  std::optional<TimePoint> revert_at() const { return revert_at_; }

 private:
  std::optional<TimePoint> effective_at_;
  std::optional<TimePoint> revert_at_;
};

}  // namespace gridlet::devsim
