// Base of the SunSpec devices (inverter, battery, grid meter): a model chain at 40000 laid out
// from the official tables, model 1 filled in, and a table of the points a client may write with
// their valid ranges. Writes to anything else are refused with exception 2 (illegal data
// address), as SMA's SunSpec devices do for non-writable registers; values out of range get
// exception 3 (illegal data value).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tests/sim/device.hpp"
#include "tests/sim/sunspec_layout.hpp"

namespace gridlet::devsim {

inline constexpr std::uint16_t kSunSpecBase = 40000;

class SunSpecDevice : public Device {
 public:
  SunSpecDevice(std::uint8_t unit, const DeviceContext& ctx);

  bool has_registers(Table table, std::uint16_t address, std::uint16_t count) const override;
  std::uint8_t check_write(std::uint16_t address, std::span<const std::uint16_t> values) const override;
  bool has_power_sf() const override { return true; }
  void set_power_sf(std::optional<int> sf) override { power_sf_override_ = sf; }

 protected:
  // Call once after all models are added: writes the skeleton and model 1.
  void finish_layout(std::string_view model_name, std::string_view serial);
  // A point that clients may write, with its valid range in raw units (the whole value of a
  // 32-bit point: a write of part of it is judged with the other half as it stands).
  void allow_write(std::uint16_t model, std::string_view point, std::int64_t min_raw, std::int64_t max_raw);
  // The scale factor every W point of this device uses (the default, or the injected one).
  int power_sf() const { return power_sf_override_.value_or(default_power_sf_); }
  // Scaled value of a point, from the registers (e.g. a written setpoint).
  double read_scaled(const PlacedModel& m, std::string_view point, std::string_view sf_point);
  bool write_touches(const PlacedModel& m, std::string_view point, std::uint16_t address,
                     std::uint16_t count) const;
  std::uint16_t reg(const PlacedModel& m, std::string_view point) { return holding()[m.at(point)]; }
  // Raw value of a 16/32-bit point, signed for int16/int32.
  std::int64_t raw_value(const PlacedModel& m, std::string_view point) const;
  void set(const PlacedModel& m, std::string_view point, std::uint16_t raw) { holding()[m.at(point)] = raw; }
  void set_i16(const PlacedModel& m, std::string_view point, std::int16_t raw) {
    holding()[m.at(point)] = static_cast<std::uint16_t>(raw);
  }
  // The time a setpoint written now takes effect: the device's delay plus a random part of the
  // randomization window (`window_s`), as IEEE 1547 / SunSpec WinTms asks.
  TimePoint effective_time(TimePoint now, std::uint16_t window_s);

  SunSpecLayout layout_{kSunSpecBase};
  DeviceContext ctx_;
  int default_power_sf_ = 0;

 private:
  struct WritableRange {
    std::uint16_t start;  // absolute address of the point's first register
    std::uint16_t size;   // 1 or 2 registers
    std::int64_t min_raw;
    std::int64_t max_raw;
    bool is_signed;
  };
  std::map<std::uint16_t, WritableRange> writable_;  // by absolute address of each register
  std::optional<int> power_sf_override_;
};

}  // namespace gridlet::devsim
