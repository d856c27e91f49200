// Fault injection, libmodbus test-server style: every unit has a small block of special holding
// registers at 64000, outside any SunSpec chain or Eastron map, that a test writes to make the
// unit misbehave. The block itself always answers normally (it is the control channel), with no
// delay, whatever fault is active. Map (also in tests/sim/README.md):
//   64000 mode   0 none, 1 no reply (timeout), 2 exception (code = arg), 3 malformed reply,
//                4 wrong transaction id (TCP) / wrong unit id (RTU), 5 ignore writes
//                (acknowledged, not stored, not applied), 6 disappear for `arg` seconds
//   64001 arg    exception code 1..11 for mode 2; seconds 1..3600 for mode 6
//   64002 delay  response delay in ms, 0..60000, for every reply of the unit
//   64003 W_SF   scale factor for every W point of the unit, -6..6, or 0x8000 for the default;
//                values are rescaled so the physical power is unchanged
//   64004-5      requests received by the unit, uint32, read-only (fault block excluded)
//   64006-7      controller heartbeat losses of the unit (715/802 watchdog), uint32, read-only
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tests/sim/device.hpp"

namespace gridlet::devsim {

enum class FaultMode : std::uint16_t {
  kNone = 0,
  kNoReply = 1,
  kException = 2,
  kMalformed = 3,
  kWrongId = 4,
  kIgnoreWrites = 5,
  kDisappear = 6,
};

inline constexpr std::uint16_t kFaultBase = 64000;
inline constexpr std::uint16_t kFaultRegs = 8;

class FaultBlock {
 public:
  // The block lives in `device`'s holding registers.
  explicit FaultBlock(Device& device) : device_(device) {}

  static bool covers(std::uint16_t address, std::uint16_t count) {
    return address >= kFaultBase && std::uint32_t{address} + count <= kFaultBase + kFaultRegs;
  }

  std::uint8_t check_write(std::uint16_t address, std::span<const std::uint16_t> values) const;
  // The write is in the registers: act on it (start a disappearance, change W_SF).
  void on_written(TimePoint now);
  // Start state from the command line.
  void set(FaultMode mode, std::uint16_t arg, TimePoint now);
  void set_delay_ms(std::uint16_t ms);
  void set_power_sf(std::optional<int> sf);

  // The fault that applies to a request arriving now (a disappearance that has run out ends here).
  FaultMode active(TimePoint now);
  std::uint8_t exception_code() const;
  std::chrono::milliseconds delay() const;
  void count_request();
  // Mirrors the device's heartbeat-loss count into 64006-64007.
  void show_heartbeat_losses(std::uint32_t n);

 private:
  std::uint16_t& reg(std::uint16_t i) { return device_.holding()[kFaultBase + i]; }
  std::uint16_t reg(std::uint16_t i) const { return device_.holding()[kFaultBase + i]; }

  Device& device_;
  std::optional<TimePoint> disappear_until_;
};

// "none", "timeout", "exception[:N]", "malformed", "wrong-tid", "ignore-writes",
// "disappear[:S]" into mode and argument; nullopt for anything else.
std::optional<std::pair<FaultMode, std::uint16_t>> parse_fault_mode(std::string_view text);

}  // namespace gridlet::devsim
