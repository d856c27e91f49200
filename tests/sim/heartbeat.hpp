// The controller heartbeat watchdog of SunSpec devices (715 ControllerHb, 802 CtrlHb): the
// controller changes a register every second; once the device has seen it change, a pause of
// `timeout` without a change means the controller is gone and the device falls back to its
// fail-safe. It then waits for the next change before watching again. Wall clock, like the
// setpoint timers. A timeout of 0 disables the watchdog.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "tests/sim/device.hpp"

namespace gridlet::devsim {

class HeartbeatWatchdog {
 public:
  HeartbeatWatchdog(std::chrono::seconds timeout, std::uint32_t initial)
      : timeout_(timeout), last_value_(initial) {}

  // The controller wrote its heartbeat register (now holding `value`).
  void written(std::uint32_t value, TimePoint now) {
    if (value == last_value_) return;  // the same value again is no sign of life
    last_value_ = value;
    if (timeout_.count() > 0) deadline_ = now + timeout_;
  }
  // True once per loss, when the heartbeat has not changed for the timeout.
  bool take_lost(TimePoint now) {
    if (!deadline_ || now < *deadline_) return false;
    deadline_.reset();
    ++losses_;
    return true;
  }
  std::uint32_t losses() const { return losses_; }

 private:
  std::chrono::seconds timeout_;
  std::uint32_t last_value_;
  std::optional<TimePoint> deadline_;
  std::uint32_t losses_ = 0;
};

}  // namespace gridlet::devsim
