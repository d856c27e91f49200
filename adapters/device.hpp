// The device vocabulary shared by every adapter and the gateway: a point, its quality, a reading.
// Adapters publish Readings into a ReadingSink; they never see the gateway's types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gridlet::adapters {

// How much a value can be trusted. Ordered from best to worst.
enum class Quality : std::uint8_t {
  kGood = 0,     // read within the point's maximum age
  kStale = 1,    // last read is older than the point's maximum age
  kMissing = 2,  // never read, or the device reports "not implemented"
  kError = 3,    // the last read failed (timeout, exception, malformed reply)
};

std::string_view to_string(Quality q);
std::optional<Quality> parse_quality(std::string_view s);

enum class DeviceKind : std::uint8_t { kInverter, kBattery, kMeter, kEvCharger, kOther };

std::string_view to_string(DeviceKind k);
std::optional<DeviceKind> parse_device_kind(std::string_view s);

// One value of one point of one device, as an adapter read it.
struct Reading {
  std::string device;  // device id from the configuration
  std::string point;   // point name from the profile, e.g. "W", "WH", "SoC"
  std::string unit;    // SI-style unit symbol: "W", "Wh", "%", "V", ...
  double value = 0.0;  // meaningful only when quality is kGood or kStale
  Quality quality = Quality::kMissing;
  std::int64_t timestamp_ms = 0;  // Unix milliseconds when the value was read
  std::int64_t max_age_ms = 0;    // older than this it is stale (0: the consumer's default)
};

// Where adapters deliver readings. Implementations must be callable from adapter threads.
class ReadingSink {
 public:
  virtual ~ReadingSink() = default;
  virtual void publish(Reading reading) = 0;
};

}  // namespace gridlet::adapters
