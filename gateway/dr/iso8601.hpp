// ISO 8601 / RFC 3339 timestamps and ISO 8601 durations, as DR events carry them (OpenADR 3
// "dateTime" and "duration"), to and from integer milliseconds. Pure: no clock, no locale, no
// time zone database; only the offset written in the text.
//
// Timestamps: RFC 3339 date-time "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; 't' and 'z'
// may be lowercase; "-00:00" is UTC. A time without an offset is refused (local time on a gateway
// is ambiguous). Fractions finer than a millisecond are truncated (towards the past). A leap second
// ":60" counts as the first second of the next minute (Unix time has no leap seconds). The result,
// after the offset is applied, must lie in years 0001..9999 UTC.
//
// Durations: ISO 8601 "PnW", "PnD", "PTnHnMnS", "PnDTnHnMnS" and "PnWTnHnMnS" (the combinations
// OpenADR 3's pattern allows), units in that order, each at most once. Only seconds may have a
// fraction ("PT0.5S"); fractions finer than a millisecond are truncated. Years and months have no
// fixed length and are refused, except the one value "P9999Y", which OpenADR uses for "open-ended"
// and which becomes kOpenEndedMs. Negative durations ("-PT1H") are refused.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "gateway/dr/result.hpp"

namespace gridlet::dr {

// "P9999Y": no end. No finite duration reaches it (parse_duration_ms refuses the overflow).
inline constexpr std::int64_t kOpenEndedMs = std::numeric_limits<std::int64_t>::max();

// The range of timestamps we read and write: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
inline constexpr std::int64_t kMinTimestampMs = -62'135'596'800'000;
inline constexpr std::int64_t kMaxTimestampMs = 253'402'300'799'999;

// Unix milliseconds of an RFC 3339 timestamp, or why it is not one.
Result<std::int64_t> parse_timestamp_ms(std::string_view text);
// "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" when the milliseconds are not zero. Canonical: what
// parse_timestamp_ms reads back to the same value. Outside kMinTimestampMs..kMaxTimestampMs the
// text is the bare number of milliseconds (which parse_timestamp_ms refuses).
std::string format_timestamp_ms(std::int64_t unix_ms);

// Milliseconds of an ISO 8601 duration (kOpenEndedMs for "P9999Y"), or why it is not one.
Result<std::int64_t> parse_duration_ms(std::string_view text);
// Canonical "PnDTnHnMn.mmmS" form, leaving out zero parts: "PT15M", "P1DT0.5S", "PT0S";
// kOpenEndedMs is "P9999Y". A negative value gets a leading '-' (parse_duration_ms refuses it).
std::string format_duration_ms(std::int64_t ms);

}  // namespace gridlet::dr
