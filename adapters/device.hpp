// The device vocabulary shared by every adapter and the gateway: a point, its quality, a reading.
// Adapters publish Readings into a ReadingSink; they never see the gateway's types.
#pragma once

#include <cstddef>
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

// The one name rule. Names (point names, token names, and ids as the API accepts them in paths):
// 1..64 characters of [A-Za-z0-9_.-].
inline constexpr std::size_t kMaxNameLength = 64;
bool valid_name(std::string_view name);
// Ids of sites, buses and devices in the configuration: 1..64 characters of [a-z0-9_-], because
// they become MQTT topic levels and ledger ids. Every valid id is a valid name.
bool valid_id(std::string_view id);
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

// --- Setpoints ------------------------------------------------------------------------------------
// A setpoint is transactional: range-checked, written, read back; a refusal or a mismatch is an
// alarm, never a silent success. The adapter keeps it alive (re-written before the device's revert
// timer runs out, re-asserted after the device comes back) until it is released, expires, or the
// gateway stops; then the point goes to its fail-safe. Every write is reported as a ControlEvent.

// Asks a device to hold a writable point at a value.
struct SetpointCommand {
  std::string point;         // e.g. "controls.WMaxLimPct", or a profile point name
  double value = 0.0;        // physical units of the point
  std::string actor;         // who asked: an API token's name, "dr", "gateway"
  std::string reason;        // free text for the audit log
  std::int64_t until_ms = 0; // Unix ms: released to the fail-safe then (0 = until released)
};

enum class ControlOutcome : std::uint8_t {
  kApplied,   // written and read back equal (or the point cannot be read back: see detail)
  kRejected,  // refused before touching the device: unknown point, out of range, no nameplate
  kRefused,   // the device answered the write with a Modbus exception
  kMismatch,  // written, but the read-back differs: the device did not take it
  kFailed,    // no answer (timeout, I/O error, offline): the gateway retries when it is back
};
std::string_view to_string(ControlOutcome o);

enum class ControlAction : std::uint8_t {
  kSet,        // a command
  kKeepAlive,  // re-written before the device's revert timer runs out
  kReassert,   // re-written after the device came back (reconnect, restart)
  kRelease,    // released to the fail-safe (command, expiry or gateway stop)
  kHeartbeat,  // the controller heartbeat register (only failures and recoveries are reported)
};
std::string_view to_string(ControlAction a);

// One write (or attempted write) to a device, for the audit log and the event log.
struct ControlEvent {
  std::int64_t timestamp_ms = 0;
  std::string device;
  std::string point;
  ControlAction action = ControlAction::kSet;
  std::optional<double> value;        // written (rounded to the device's resolution); none for a
                                      // release that only disables, or writes nothing
  std::optional<double> readback;     // what the device holds after the write, when read back
  ControlOutcome outcome = ControlOutcome::kApplied;
  std::string actor;
  std::string reason;
  std::string detail;                 // why it failed; or the registers written ("40005=[...]")
  bool alarm() const { return outcome != ControlOutcome::kApplied; }
};

// Where adapters report control events. Called on adapter threads; must not block for long.
class ControlSink {
 public:
  virtual ~ControlSink() = default;
  virtual void on_control(const ControlEvent& event) = 0;
};

// A setpoint an adapter is holding.
struct ActiveSetpoint {
  std::string point;
  double value = 0.0;
  std::string actor;
  std::string reason;
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;          // 0 = until released
  std::int64_t last_write_ms = 0;
  ControlOutcome last_outcome = ControlOutcome::kApplied;
  std::string last_detail;
  std::int64_t keepalive_ms = 0;      // re-written this often (0 = not needed)
  bool releasing = false;             // released, but the device has not answered the release yet
};

// A point a device lets the gateway control, with the range a command must respect.
struct ControlInfo {
  std::string point;
  std::string unit;
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> failsafe;     // written on release (nullopt: release disables or leaves it)
  std::string release;                // how a release works, in words
};

}  // namespace gridlet::adapters
