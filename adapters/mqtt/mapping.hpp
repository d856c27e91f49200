// What an MQTT message from a device means, and what to publish to command it: pure functions of
// a Profile (profile.hpp), the device's topic variables, and the bytes. No broker, no clock, no
// I/O; the MQTT adapter subscribes, feeds every message to interpret() and publishes what
// render_command() returns. Nothing here throws, and no input crashes it (tests/fuzz).
//
// Untrusted input is answered with a Rejection (a reason to count, a short message to log),
// never an exception. A message can be partly used: a Shelly NotifyStatus carries only what
// changed, so fields a point wants but the message lacks are not errors unless nothing at all
// in the message could be used.
//
// Topics follow MQTT 3.1.1 section 4.7: '+' matches one level, '#' (last) any number of levels
// including the parent ("sport/#" matches "sport"), and a filter starting with a wildcard never
// matches a topic starting with '$'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/mqtt/profile.hpp"

namespace gridlet::adapters::mqtt {

// Named limits on what a device may send.
inline constexpr std::size_t kMaxPayloadBytes = 64 * 1024;  // larger payloads are not parsed
inline constexpr std::size_t kMaxJsonDepth = 32;            // nesting of arrays and objects
inline constexpr std::size_t kMaxTopicBytes = 65535;        // MQTT's own limit on a topic
inline constexpr std::size_t kMaxVariableBytes = 256;       // a topic variable's value

// --- Topics ---------------------------------------------------------------------------------------
bool valid_topic_name(std::string_view topic);     // non-empty, no wildcards, no NUL, <= 65535 bytes
bool valid_topic_filter(std::string_view filter);  // '+' a whole level, '#' the whole last level
bool topic_matches(std::string_view filter, std::string_view topic);  // false when either is invalid
// A template variable's value: 1..256 bytes, no '+', '#' or NUL ('/' is allowed: Zigbee2MQTT
// friendly names and base topics may span levels).
bool valid_topic_variable(std::string_view value);

// --- Templates ------------------------------------------------------------------------------------
// Template variable name -> value: "id" and the profile's declared variables.
using Variables = std::map<std::string, std::string, std::less<>>;

// A topic template with its placeholders replaced; nullopt when it is malformed or names a
// variable not in `variables`. The result is not checked (valid_topic_name/valid_topic_filter).
std::optional<std::string> render_topic(std::string_view text, const Variables& variables);
// A control's payload for `value` (see PayloadFormat); nullopt when the value is not finite, not
// in command_values, or the template is malformed. Range checks are render_command's.
std::optional<std::string> render_payload(const Control& control, const Variables& variables, double value);

// --- Binding a profile to one device --------------------------------------------------------------
// A profile with a device's variables filled in: the topics it uses, rendered once.
struct DeviceBinding {
  std::shared_ptr<const Profile> profile;
  Variables variables;                      // "id" and every declared variable
  std::string availability_topic;           // empty when the profile has no [availability]
  std::vector<std::string> point_filters;   // per point, in profile order
  std::vector<std::string> state_filters;   // per control; empty when it has no state_topic
  std::vector<std::string> command_topics;  // per control
};

struct BindResult {
  std::optional<DeviceBinding> binding;  // set when errors is empty
  std::vector<std::string> errors;       // e.g. "variable base: \"a/+\" contains a wildcard"
};

// `topic_id` fills {id}; `overrides` replace declared variables' defaults (an unknown name is an
// error, so a typo in the configuration is caught).
BindResult bind_device(std::shared_ptr<const Profile> profile, std::string_view topic_id,
                       const Variables& overrides = {});

// The filters to subscribe to for this device, in profile order, each once (a filter that another
// one covers, like a/b under a/#, is still listed: profiles rarely overlap so).
std::vector<std::string> subscriptions(const DeviceBinding& binding);

// --- Interpreting a message -----------------------------------------------------------------------
enum class RejectReason : std::uint8_t {
  kNotJson,       // a JSON payload was expected
  kWrongType,     // the field is an object, array or null, or a JSON string that is not a number
  kMissingField,  // the message matched, but none of the fields its points want is there
  kTooLarge,      // over kMaxPayloadBytes, kMaxJsonDepth or kMaxTopicBytes
  kNoMapping,     // no point, control state or availability of the profile wants this message
  kBadValue,      // a text payload that is not a number, a string not in the value map, a value
                  // outside min/max, an availability payload that is neither online nor offline
};
std::string_view to_string(RejectReason r);

struct Rejection {
  RejectReason reason = RejectReason::kNoMapping;
  std::string point;    // the point or control concerned; empty for the whole message
  std::string message;  // short, for a log line
};

struct PointValue {
  std::string point;
  std::string unit;
  double value = 0.0;  // physical units (scaled), finite, within the point's min/max
  ReadingKind kind = ReadingKind::kMeasured;
  std::optional<std::int64_t> timestamp_ms;  // from the payload, when it has a plausible one
  std::int64_t max_age_ms = 0;
};

// A control's state as the device reports it (to confirm a command).
struct ControlObservation {
  std::string control;
  double value = 0.0;
};

struct Interpretation {
  std::vector<PointValue> readings;
  std::vector<ControlObservation> observations;
  std::optional<bool> online;         // the availability topic said online (true) or offline
  std::vector<Rejection> rejections;  // what could not be used; never empty when !used()
  bool used() const { return !readings.empty() || !observations.empty() || online.has_value(); }
};

Interpretation interpret(const DeviceBinding& binding, std::string_view topic, std::string_view payload);

// A reading for the ReadingSink: the payload's timestamp when it had one, else `received_ms`.
Reading to_reading(const PointValue& value, std::string device, std::int64_t received_ms);

// --- Commands -------------------------------------------------------------------------------------
struct Command {
  std::string topic;
  std::string payload;
};

struct CommandResult {
  std::optional<Command> command;      // what to publish (QoS 1, not retained)
  std::optional<Rejection> rejection;  // unknown control (no_mapping); value not finite, out of
                                       // range or not in command_values (bad_value)
};

CommandResult render_command(const DeviceBinding& binding, std::string_view control, double value);

// Whether a reported state confirms a commanded value.
bool confirms(const Control& control, double commanded, double reported);

}  // namespace gridlet::adapters::mqtt
