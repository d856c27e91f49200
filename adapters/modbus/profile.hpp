// Device profiles: declarative register maps loaded from TOML (configs/profiles/*.toml).
// A profile names a device's points (table, address, type, scale, unit, access, range, poll class)
// and the register ranges that must never be read. Loading checks everything and reports ALL
// problems with file:line:col and a key path; a Profile is returned only when there are none.
//
// Address convention: `address` is the 0-based protocol address sent on the wire (the one
// libmodbus takes). `register` is the alternative 1-based Modicon number that many vendor
// documents print: 1..9999 coil, 10001..19999 discrete, 30001..39999 input, 40001..49999
// holding, and the 6-digit forms 100001..165536, 300001..365536, 400001..465536. It implies the
// table and means address = number - base - 1 (e.g. register = 30001 is input address 0).
//
// Keys (unknown keys are errors): [profile] name, manufacturer, model, kind, source, description,
// word_order, byte_order, sentinels, max_read_registers; [[forbidden]] table, start, end (inclusive
// protocol addresses), reason; [[points]] as in struct Point below (type/length/word_order/
// byte_order/sentinels form the Encoding; `values` is a table of raw value = "label").
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/toml_diagnostics.hpp"
#include "adapters/modbus/codec.hpp"
#include "adapters/modbus/read_plan.hpp"

namespace gridlet::adapters::modbus {

enum class Access : std::uint8_t { kRead, kWrite, kReadWrite };
enum class PollClass : std::uint8_t { kFast, kNormal, kSlow };  // 1 s, 10 s, 5 min (README)
// counter: energy accumulators; the runtime checks them for monotonicity and resets.
enum class PointKind : std::uint8_t { kMeasured, kSetpoint, kStatus, kCounter };

std::string_view to_string(Access a);
std::string_view to_string(PollClass p);
std::string_view to_string(PointKind k);

struct Point {
  std::string name;  // unique within the profile
  Table table = Table::kHolding;
  std::uint16_t address = 0;  // 0-based protocol address
  Encoding encoding;          // type, word/byte order (profile default unless overridden), sentinels
  double scale = 1.0;         // constant multiplier: physical = raw * scale [* 10^SF]
  std::string scale_point;    // name of an i16/sunssf point used as SunSpec scale factor; or empty
  std::string unit;           // "W", "Wh", "V", "A", "%", "Hz", "" for dimensionless
  Access access = Access::kRead;
  std::optional<double> min;  // physical units; reads outside -> error quality, writes refused
  std::optional<double> max;
  PollClass poll = PollClass::kNormal;
  PointKind kind = PointKind::kMeasured;
  std::map<std::int64_t, std::string> enum_values;  // raw value -> label
  std::string description;
  // Writable points only.
  bool readback = true;             // read the value back after writing and compare
  std::string readback_point;       // read back through this point instead (write-only registers)
  std::string revert_timeout_point; // point holding the device's revert timer (seconds): the
                                    // setpoint is re-written at a third of it
  std::string heartbeat_point;      // reserved: point the device expects to be rewritten periodically
  std::optional<double> failsafe;   // written when the setpoint is released or the gateway stops
  int keepalive_s = 0;              // re-write this often while held (devices that forget a value
                                    // without a readable timer, e.g. Victron ESS); 0 = not needed
  int line = 0;                     // where the point is defined, for messages

  std::uint16_t register_count() const { return encoding.registers(); }
  bool readable() const { return access != Access::kWrite; }
  bool writable() const { return access != Access::kRead; }
  PointSpan span(std::uint32_t group = 0) const { return {table, address, register_count(), group}; }
};

struct Profile {
  std::string name;
  std::string manufacturer;
  std::string model;
  DeviceKind kind = DeviceKind::kOther;
  std::string source;  // citation of the public register document (title, version, URL)
  WordOrder word_order = WordOrder::kHighFirst;
  ByteOrder byte_order = ByteOrder::kBigEndian;
  bool sentinels = false;  // profile default for Encoding::sentinels
  std::uint16_t max_read_registers = 125;  // device limit per read request (<= 125)
  std::vector<RegisterRange> forbidden;
  std::vector<Point> points;  // in file order

  const Point* find(std::string_view point_name) const;

  // Read planning: the spans of the given points (indices into `points`), plus the scale-factor
  // points they need; a point and its scale factor share a group so they are read in one request.
  // `indices_out` receives, for each returned span, the index of its point.
  std::vector<PointSpan> read_spans(const std::vector<std::size_t>& point_indices,
                                    std::vector<std::size_t>& indices_out) const;
  // Plan options honoring this profile's forbidden ranges and read limit.
  PlanOptions plan_options() const;
};

// A problem in a profile file: file, line, column, key path and message (toml_diagnostics.hpp).
using ProfileError = TomlError;

struct ProfileLoadResult {
  std::optional<Profile> profile;    // set when errors is empty
  std::vector<ProfileError> errors;  // in file order
};

inline constexpr std::size_t kMaxProfileBytes = 4 << 20;
inline constexpr std::size_t kMaxProfilePoints = 10'000;

ProfileLoadResult load_profile_file(const std::filesystem::path& path);
ProfileLoadResult load_profile_string(std::string_view toml_text, std::string_view source_name);

}  // namespace gridlet::adapters::modbus
