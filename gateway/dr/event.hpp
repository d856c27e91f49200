// The one demand-response event model. Every source (the REST API, our MQTT channel, the OpenADR 3
// VEN) converts what it receives into a DrEvent; the planner, the store and the API work only with
// DrEvent. parse_event reads our own JSON wire format (below) and validates it; to_json writes it
// back (parse_event(to_json(e)) == e for every event parse_event accepts). Pure: no clock, no I/O,
// no floating point (amounts are Decimal micro-units), no unordered containers. Plain values, any
// thread.
//
// Wire format: OpenADR 3 (3.0.1/3.1.0) "event" with snake_case names, flattened to what we use.
// Field                 Type                          OpenADR 3                 Notes
// event_id              string 1..128 [A-Za-z0-9_-]   id                        required
// program               string 1..128 [A-Za-z0-9_-]   programID                 required
// name                  string 0..128                 eventName                 optional
// priority              integer 0..4294967295         priority                  0 = highest; absent/null
//                                                                               = kLowestPriority
// modification_number   integer 0..4294967295         (none; 2.0b's)            higher replaces lower
// created, modified     RFC 3339 timestamp            createdDateTime, modificationDateTime
// cancelled             boolean                       (cancel form, below)      default false
// targets               [string 1..128]               targets (3.1.0)           empty = every resource
// payload_descriptors   [{payload_type, units?,       payloadDescriptors        one per payload type
//                         currency?}]
// interval_period       {start?, duration?,           intervalPeriod            defaults for intervals
//                         randomize_start?}
// intervals             [{id, interval_period?,       intervals                 1..kMaxIntervals
//                         payloads: [{type, values}]}]                          (0.. when cancelled)
// Unknown fields are refused (a typo must not pass silently); null equals absent for optional ones.
//
// Timing (OpenADR's rules): an interval's own interval_period overrides the event's. An interval
// without a start begins where the previous interval ends (the first one at the event's start).
// Every interval needs a duration from one of the two. Start "0001-01-01T00:00:00Z" means "now"
// (the moment the event is received); "0001-01-01" and "0001-01-01T00:00:00" are read as it too.
// Starts in year 0001 are offsets from "now" (kStartNowMs + 15 min is "15 minutes after now"), which
// is what sequential intervals after a "now" start resolve to. "P9999Y" is open-ended. OpenADR's
// cancel form, start "now" with duration "PT0S" on the event (or on every interval), sets
// `cancelled`. A zero duration is refused unless the event is cancelled.
//
// The model is resolved: every DrInterval has its own start and duration, so consumers never apply
// the defaults again; to_json writes them per interval. Randomization is kept as written: the
// event's randomize_start_ms, and an interval's own value when it overrides it.
//
// Payload values: SIMPLE one integer 0..3; PRICE, EXPORT_PRICE one number; GHG one number >= 0;
// IMPORT_CAPACITY_LIMIT, EXPORT_CAPACITY_LIMIT one number >= 0; DISPATCH_SETPOINT and
// DISPATCH_SETPOINT_RELATIVE one number (sign = direction); CHARGE_STATE_SETPOINT one number,
// 0..100 when its descriptor's units are PERCENT or absent (note: OpenADR's PERCENT is a 0..1
// fraction; the OpenADR converter scales by 100), >= 0 otherwise; CONTROL_SETPOINT one value of any
// kind. Other type names are kept by name (PayloadType::kUnknown) with up to kMaxValuesPerPayload
// values of any kind (number, boolean, string 0..128, point {x, y}); the planner ignores them.
// Numbers are read exactly to micro-units (Decimal), rounding beyond the sixth decimal place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/dr/decimal.hpp"
#include "gateway/dr/iso8601.hpp"
#include "gateway/dr/result.hpp"

namespace gridlet::dr {

// Limits on what parse_event accepts (bounded input, bounded memory).
inline constexpr std::size_t kMaxEventJsonBytes = 64 * 1024;
inline constexpr std::size_t kMaxJsonDepth = 8;  // event > intervals > interval > payloads > ... > point
inline constexpr std::size_t kMaxIntervals = 512;
inline constexpr std::size_t kMaxPayloadsPerInterval = 16;
inline constexpr std::size_t kMaxValuesPerPayload = 64;
inline constexpr std::size_t kMaxTargets = 128;
inline constexpr std::size_t kMaxPayloadDescriptors = 32;
inline constexpr std::size_t kMaxStringLength = 128;  // OpenADR's maxLength for ids, names, types
inline constexpr std::int64_t kMaxDurationMs = 3660LL * 24 * 3600 * 1000;   // ~10 years, or open-ended
inline constexpr std::int64_t kMaxRandomizeStartMs = 24LL * 3600 * 1000;     // one day

inline constexpr std::uint32_t kLowestPriority = std::numeric_limits<std::uint32_t>::max();

// "Now": OpenADR's 0001-01-01T00:00:00Z. Starts before kRelativeToNowEndMs (0002-01-01T00:00:00Z)
// are offsets from the moment the event was received; real starts are from 1970 on.
inline constexpr std::int64_t kStartNowMs = kMinTimestampMs;
inline constexpr std::int64_t kRelativeToNowEndMs = kStartNowMs + 365LL * 24 * 3600 * 1000;

constexpr bool is_relative_to_now(std::int64_t start_ms) { return start_ms < kRelativeToNowEndMs; }
// The Unix ms of a start, given when the event was received (for starts relative to "now").
constexpr std::int64_t resolve_start_ms(std::int64_t start_ms, std::int64_t received_ms) {
  return is_relative_to_now(start_ms) ? received_ms + (start_ms - kStartNowMs) : start_ms;
}

enum class PayloadType : std::uint8_t {
  kUnknown,  // a name we do not interpret, kept in unknown_type
  kSimple,
  kPrice,
  kExportPrice,
  kGhg,
  kImportCapacityLimit,
  kExportCapacityLimit,
  kDispatchSetpoint,
  kDispatchSetpointRelative,
  kChargeStateSetpoint,
  kControlSetpoint,
};

// OpenADR's name ("SIMPLE", "IMPORT_CAPACITY_LIMIT", ...); "" for kUnknown.
std::string_view to_string(PayloadType type);
// kUnknown for any name that is not one of ours.
PayloadType payload_type_from_name(std::string_view name);

// An OpenADR "point" value (e.g. of a curve).
struct PayloadPoint {
  Decimal x;
  Decimal y;
  bool operator==(const PayloadPoint&) const = default;
};

using PayloadValue = std::variant<Decimal, bool, std::string, PayloadPoint>;

// OpenADR's valuesMap in an interval.
struct Payload {
  PayloadType type = PayloadType::kUnknown;
  std::string unknown_type;  // the name when type == kUnknown; empty otherwise
  std::vector<PayloadValue> values;

  std::string_view type_name() const { return type == PayloadType::kUnknown ? unknown_type : to_string(type); }
  // The single number of a one-number payload (SIMPLE, PRICE, limits, setpoints); nullopt otherwise.
  std::optional<Decimal> number() const;
  bool operator==(const Payload&) const = default;
};

// How to read the values of one payload type: units (OpenADR's KW, KWH, PERCENT, ...) and currency.
struct PayloadDescriptor {
  PayloadType type = PayloadType::kUnknown;
  std::string unknown_type;
  std::optional<std::string> units;
  std::optional<std::string> currency;

  std::string_view type_name() const { return type == PayloadType::kUnknown ? unknown_type : to_string(type); }
  bool operator==(const PayloadDescriptor&) const = default;
};

struct DrInterval {
  std::int32_t id = 0;  // the sender's number, unique in the event; not a sequence number
  std::int64_t start_ms = 0;     // Unix ms, or relative to now (is_relative_to_now)
  std::int64_t duration_ms = 0;  // > 0, kOpenEndedMs for open-ended; 0 only in cancelled events
  std::optional<std::int64_t> randomize_start_ms;  // overrides the event's when set
  std::vector<Payload> payloads;

  bool open_ended() const { return duration_ms == kOpenEndedMs; }
  bool operator==(const DrInterval&) const = default;
};

struct DrEvent {
  std::string event_id;
  std::string program;
  std::string name;
  std::uint32_t priority = kLowestPriority;  // 0 is the highest
  std::uint32_t modification_number = 0;
  std::optional<std::int64_t> created_ms;   // Unix ms
  std::optional<std::int64_t> modified_ms;  // Unix ms
  std::int64_t randomize_start_ms = 0;      // the range of a random delay of the start, 0 = none
  bool cancelled = false;
  std::vector<std::string> targets;  // resource or device names; empty = all
  std::vector<PayloadDescriptor> payload_descriptors;
  std::vector<DrInterval> intervals;  // in the order received

  // The descriptor of a payload's type, or nullptr.
  const PayloadDescriptor* descriptor_for(const Payload& payload) const;
  std::int64_t effective_randomize_start_ms(const DrInterval& interval) const {
    return interval.randomize_start_ms.value_or(randomize_start_ms);
  }
  bool operator==(const DrEvent&) const = default;
};

// Reads and validates one event in our wire format. Errors name the field by JSON pointer and say
// why, e.g. "/intervals/0/payloads/1/values: expected an array of numbers".
Result<DrEvent> parse_event(std::string_view json);

// The wire format, compact, fields in a fixed order, every interval with its resolved
// interval_period. Never throws (invalid UTF-8 in hand-made strings is replaced).
std::string to_json(const DrEvent& event);

}  // namespace gridlet::dr
