// MQTT device profiles: what a device publishes and accepts, declared in TOML
// (configs/profiles/mqtt/*.toml), so that one transport-free mapping (mapping.hpp) serves Shelly,
// Tasmota, Zigbee2MQTT, OpenDTU and whatever an installer describes. Loading checks everything
// and reports ALL problems with file:line:col and a key path (the Modbus profiles' conventions);
// a Profile is returned only when there are none. No I/O except reading the file; never throws.
//
// Templates: topics and command payloads contain placeholders `{name}`. `{id}` is the device's
// topic id from the configuration (Shelly topic prefix, Tasmota topic, Zigbee2MQTT friendly name,
// OpenDTU inverter serial); other names must be declared under [variables] with a default the
// device configuration may override (`base = "zigbee2mqtt"`). Command payloads also have
// `{value}`. In topics every brace is a placeholder; in payloads a brace that does not open
// `{identifier}` is literal text, so JSON templates are written as they are sent.
//
// Keys (unknown keys are errors):
//   [profile] name, manufacturer, model, kind, source, description, max_age (default of points)
//   [variables] NAME = "default", ...
//   [availability] topic, payload_online, payload_offline, json
//   [[points]] name, topic, json, when, values, scale, unit, kind, timestamp, max_age, min, max,
//              description
//   [[controls]] name, description, unit, command_topic, payload, payload_format, command_values,
//                state_topic, state_json, state_when, state_values, confirm_timeout, tolerance,
//                min, max, failsafe, nonpersistent
// `when` is an inline table { json = "/pointer", equals = "x" | ["x", "y"] }; `timestamp` is
// { json = "/pointer", unit = "s" | "ms" }; `values` maps payload strings to numbers
// ({ ON = 1, OFF = 0 }); `command_values` maps command values to what is sent ({ "1" = "ON" }).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/toml_diagnostics.hpp"

namespace gridlet::adapters::mqtt {

// What a point's readings are. counter: energy accumulators (the runtime checks them for
// monotonicity and resets); status: states and flags (relay on, inverter reachable); measured:
// everything else. (Not named PointKind: ha_discovery.hpp has that name in this namespace.)
enum class ReadingKind : std::uint8_t { kMeasured, kCounter, kStatus };
std::string_view to_string(ReadingKind k);

// A JSON pointer (RFC 6901): "" is the whole document, "/params/switch:0/apower" a member path
// ("~1" stands for '/', "~0" for '~'; array elements by decimal index).
struct JsonPointer {
  std::string text;                 // as written, for messages
  std::vector<std::string> tokens;  // unescaped reference tokens
};
std::optional<JsonPointer> parse_json_pointer(std::string_view text);

// A TOML scalar a payload field is compared with, or a command value is rendered as.
struct Literal {
  enum class Type : std::uint8_t { kString, kNumber, kBool };
  Type type = Type::kString;
  std::string string;
  double number = 0.0;
  bool boolean = false;
};

// Holds when the payload is JSON and the field at `json` equals one of `equals`
// (strings compare exactly, numbers by value, booleans as booleans).
struct Condition {
  JsonPointer json;
  std::vector<Literal> equals;
};

// Where a value comes from: a topic filter, and in the payload a field or the whole text.
// Strings are looked up in `values`; JSON booleans become 1/0 unless `values` maps
// "true"/"false"; other strings must be numbers.
struct Source {
  std::string topic;                // template; an MQTT filter (+ and # allowed) once rendered
  std::optional<JsonPointer> json;  // nullopt: the payload is the value (text such as "231.5")
  std::optional<Condition> when;    // nullopt: every message on the topic
  std::map<std::string, double, std::less<>> values;
};

enum class TimestampUnit : std::uint8_t { kSeconds, kMilliseconds };

struct Point {
  std::string name;  // valid_name, unique among points
  Source source;
  double scale = 1.0;  // physical = payload value * scale (e.g. 1000 for kWh -> Wh)
  std::string unit;    // "W", "Wh", "V", "A", "%", "" for dimensionless
  ReadingKind kind = ReadingKind::kMeasured;
  std::optional<JsonPointer> timestamp;  // Unix time in the payload; nullopt: the receive time
  TimestampUnit timestamp_unit = TimestampUnit::kSeconds;
  // How long a value stays good while the device is available (devices that report on change
  // need long ones; periodic reporters about two periods).
  std::chrono::milliseconds max_age{0};
  std::optional<double> min;  // physical units; a value outside is rejected as bad_value
  std::optional<double> max;
  std::string description;
  int line = 0;  // where the point is defined, for messages
};

enum class PayloadFormat : std::uint8_t {
  kText,  // placeholders are replaced by their text
  kJson,  // `{value}` becomes a JSON literal (number, true/false, "string"), variables are
          // JSON-string-escaped; the rendered payload must be valid JSON (checked when loading)
};

// A value the gateway can command, confirmed by what the device reports back.
struct Control {
  std::string name;  // valid_name, unique among controls; may equal the name of the point it sets
  std::string description;
  std::string unit;
  std::string command_topic;  // template; a topic name (no wildcards) once rendered
  std::string payload = "{value}";
  PayloadFormat format = PayloadFormat::kText;
  // Command value -> what `{value}` renders as (1 -> true, 0 -> "OFF"). When not empty, only
  // these values can be commanded. Empty: the number itself, shortest form ("50", "12.5").
  std::vector<std::pair<double, Literal>> command_values;
  std::optional<Source> state;  // what confirms a command; nullopt: nothing (fire and forget)
  std::chrono::milliseconds confirm_timeout{10'000};
  double tolerance = 0.0;  // |reported - commanded| <= tolerance confirms
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> failsafe;  // commanded on release (nullopt: a release leaves it)
  // The device forgets the value at power loss (OpenDTU's limit_nonpersistent_*: reset at night):
  // the runtime re-asserts a held value whenever the device comes back.
  bool nonpersistent = false;
  int line = 0;

  ControlInfo info() const;  // the device vocabulary's view of this control
};

// Online/offline messages (usually the device's MQTT last will). With `json`, a JSON payload's
// field is compared (Zigbee2MQTT {"state":"online"}); a payload that is not JSON, or lacks the
// field, is compared whole (Zigbee2MQTT's legacy "online"). Without `json`, the whole payload.
struct Availability {
  std::string topic;  // template; a topic name (no wildcards) once rendered
  std::string payload_online;
  std::string payload_offline;
  std::optional<JsonPointer> json;
};

struct Profile {
  std::string name;
  std::string manufacturer;
  std::string model;
  DeviceKind kind = DeviceKind::kOther;
  std::string source;  // citation of the vendor document (title, URL)
  std::string description;
  std::map<std::string, std::string, std::less<>> variables;  // declared template variables -> default
  std::optional<Availability> availability;
  std::vector<Point> points;      // in file order
  std::vector<Control> controls;  // in file order

  const Point* find_point(std::string_view point_name) const;
  const Control* find_control(std::string_view control_name) const;
};

// One piece of a template: literal text, or a placeholder's name.
struct TemplatePart {
  bool placeholder = false;
  std::string text;
};
// Splits a template. Placeholders are `{name}` with name of [a-z][a-z0-9_]* (at most 32).
// In `strict` mode (topics) any other brace makes the template malformed (nullopt).
std::optional<std::vector<TemplatePart>> split_template(std::string_view text, bool strict);

using ProfileError = TomlError;

struct ProfileLoadResult {
  std::optional<Profile> profile;    // set when errors is empty
  std::vector<ProfileError> errors;  // in file order
};

inline constexpr std::size_t kMaxProfileBytes = 1 << 20;
inline constexpr std::size_t kMaxProfilePoints = 1000;
inline constexpr std::size_t kMaxProfileControls = 100;
inline constexpr std::size_t kMaxValueMapEntries = 256;
inline constexpr std::size_t kMaxVariables = 16;

ProfileLoadResult load_profile_file(const std::filesystem::path& path);
ProfileLoadResult load_profile_string(std::string_view toml_text, std::string_view source_name);

}  // namespace gridlet::adapters::mqtt
