// A simulated Modbus device behind one unit id: its register image (a libmodbus mapping), which
// addresses exist, which writes it accepts, and how it turns writes into plant controls.
// All calls happen under the simulator's lock.
#pragma once

#include <modbus/modbus.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "tests/sim/physics.hpp"

namespace gridlet::devsim {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class Table : std::uint8_t { kHolding, kInput };

// What every device needs from the simulator when it is created.
struct DeviceContext {
  Building* building;
  std::chrono::milliseconds setpoint_delay{500};  // a write takes effect this long after it
  std::mt19937_64* rng;                          // seeded: randomized windows (WinTms)
  // Controller heartbeat watchdog (715 ControllerHb, 802 CtrlHb): fail-safe after this long
  // without a change, once the controller has changed it at least once. 0 = no watchdog.
  std::chrono::seconds heartbeat_timeout{30};
};

class Device {
 public:
  explicit Device(std::uint8_t unit, std::uint32_t holding_count, std::uint32_t input_count);
  virtual ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  std::uint8_t unit() const { return unit_; }
  virtual std::string_view kind() const = 0;

  // True when every register of [address, address + count) exists in `table` (else exception 2).
  virtual bool has_registers(Table table, std::uint16_t address, std::uint16_t count) const = 0;
  // Largest read this device answers (Eastron meters answer fewer than 125 registers).
  virtual std::uint16_t max_read_count() const { return 125; }
  // 0 when the holding-register write may be stored, else the Modbus exception code.
  virtual std::uint8_t check_write(std::uint16_t address, std::span<const std::uint16_t> values) const = 0;
  // The write is now in the register image: latch setpoints (applied later by control()).
  virtual void on_written(std::uint16_t /*address*/, std::uint16_t /*count*/, TimePoint /*now*/) {}
  // Applies setpoints whose delay has passed and reverts those whose timer ran out.
  virtual void control(TimePoint /*now*/) {}
  // Copies the plant's state into the register image.
  virtual void refresh(TimePoint now) = 0;
  // Fault injection: report W with this scale factor from now on (nullopt = the device's own),
  // the value rescaled so the physical power stays the same. Only devices with a W_SF have it.
  virtual bool has_power_sf() const { return false; }
  virtual void set_power_sf(std::optional<int> /*sf*/) {}
  // Times the controller heartbeat watchdog went off (fault block 64006-64007).
  virtual std::uint32_t heartbeat_losses() const { return 0; }

  modbus_mapping_t* mapping() { return mapping_.get(); }
  std::uint16_t* holding() { return mapping_->tab_registers; }
  const std::uint16_t* holding() const { return mapping_->tab_registers; }
  std::uint16_t* input() { return mapping_->tab_input_registers; }

 private:
  struct MappingFree {
    void operator()(modbus_mapping_t* m) const { modbus_mapping_free(m); }
  };
  std::uint8_t unit_;
  std::unique_ptr<modbus_mapping_t, MappingFree> mapping_;
};

// "inverter", "der", "battery", "meter", "sdm630"; nullptr for an unknown kind.
std::unique_ptr<Device> make_device(std::string_view kind, std::uint8_t unit, const DeviceContext& ctx);

}  // namespace gridlet::devsim
