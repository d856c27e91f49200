#include "gateway/dr/iso8601.hpp"

#include <cstddef>
#include <optional>

namespace gridlet::dr {
namespace {

constexpr std::int64_t kMsPerSecond = 1000;
constexpr std::int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr std::int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr std::int64_t kMsPerDay = 24 * kMsPerHour;
constexpr std::int64_t kMsPerWeek = 7 * kMsPerDay;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(1, 1, 1) * kMsPerDay == kMinTimestampMs);
static_assert(days_from_civil(10000, 1, 1) * kMsPerDay - 1 == kMaxTimestampMs);

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `width` digits at `pos`.
std::optional<unsigned> fixed_digits(std::string_view s, std::size_t pos, std::size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (!is_digit(s[i])) return std::nullopt;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return v;
}

InputError bad(std::string message) { return InputError{"", std::move(message)}; }

void append_padded(std::string& out, std::int64_t value, int width) {
  std::string digits = std::to_string(value);
  for (auto i = static_cast<int>(digits.size()); i < width; ++i) out.push_back('0');
  out += digits;
}

// The milliseconds of a fraction's digits ("5" -> 500, "0625" -> 62), truncated.
std::int64_t fraction_ms(std::string_view digits) {
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 3; ++i) ms = ms * 10 + (i < digits.size() ? digits[i] - '0' : 0);
  return ms;
}

}  // namespace

Result<std::int64_t> parse_timestamp_ms(std::string_view s) {
  constexpr std::string_view kShape = "expected an RFC 3339 timestamp like 2024-06-01T17:00:00Z";
  // YYYY-MM-DDTHH:MM:SS is 19 characters; then an optional fraction and the offset.
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return bad(std::string(kShape));
  }
  const auto year = fixed_digits(s, 0, 4);
  const auto month = fixed_digits(s, 5, 2);
  const auto day = fixed_digits(s, 8, 2);
  const auto hour = fixed_digits(s, 11, 2);
  const auto minute = fixed_digits(s, 14, 2);
  const auto second = fixed_digits(s, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return bad(std::string(kShape));
  if (*year == 0) return bad("year 0000 is out of range (0001..9999)");
  if (*month < 1 || *month > 12) return bad("month " + std::to_string(*month) + " is out of range");
  if (*day < 1 || *day > days_in_month(*year, *month)) {
    return bad("day " + std::to_string(*day) + " does not exist in that month");
  }
  if (*hour > 23) return bad("hour " + std::to_string(*hour) + " is out of range");
  if (*minute > 59) return bad("minute " + std::to_string(*minute) + " is out of range");
  if (*second > 60) return bad("second " + std::to_string(*second) + " is out of range");

  std::size_t pos = 19;
  std::int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    const std::size_t begin = ++pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == begin) return bad("a fraction of a second needs digits after '.'");
    ms = fraction_ms(s.substr(begin, pos - begin));
  }
  if (pos >= s.size()) return bad("missing offset: end with Z or +HH:MM (local times are ambiguous)");
  std::int64_t offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const auto oh = fixed_digits(s, pos + 1, 2);
    const auto om = fixed_digits(s, pos + 4, 2);
    if (!oh || !om || s.size() < pos + 6 || s[pos + 3] != ':') return bad("offset must be +HH:MM or -HH:MM");
    if (*oh > 23 || *om > 59) return bad("offset is out of range");
    offset_minutes = static_cast<std::int64_t>(*oh) * 60 + *om;
    if (s[pos] == '-') offset_minutes = -offset_minutes;
    pos += 6;
  } else {
    return bad("missing offset: end with Z or +HH:MM (local times are ambiguous)");
  }
  if (pos != s.size()) return bad("unexpected text after the offset");

  const std::int64_t local = days_from_civil(*year, *month, *day) * kMsPerDay + *hour * kMsPerHour +
                             *minute * kMsPerMinute + *second * kMsPerSecond + ms;
  const std::int64_t utc = local - offset_minutes * kMsPerMinute;
  if (utc < kMinTimestampMs || utc > kMaxTimestampMs) return bad("out of range (years 0001..9999 UTC)");
  return utc;
}

std::string format_timestamp_ms(std::int64_t unix_ms) {
  if (unix_ms < kMinTimestampMs || unix_ms > kMaxTimestampMs) return std::to_string(unix_ms);
  // Floor division: times before 1970 still have a non-negative time of day.
  std::int64_t days = unix_ms / kMsPerDay;
  std::int64_t rest = unix_ms % kMsPerDay;
  if (rest < 0) {
    rest += kMsPerDay;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  std::string out;
  out.reserve(24);
  append_padded(out, date.year, 4);
  out.push_back('-');
  append_padded(out, date.month, 2);
  out.push_back('-');
  append_padded(out, date.day, 2);
  out.push_back('T');
  append_padded(out, rest / kMsPerHour, 2);
  out.push_back(':');
  append_padded(out, rest % kMsPerHour / kMsPerMinute, 2);
  out.push_back(':');
  append_padded(out, rest % kMsPerMinute / kMsPerSecond, 2);
  if (rest % kMsPerSecond != 0) {
    out.push_back('.');
    append_padded(out, rest % kMsPerSecond, 3);
  }
  out.push_back('Z');
  return out;
}

Result<std::int64_t> parse_duration_ms(std::string_view s) {
  if (s == "P9999Y") return kOpenEndedMs;
  if (s.empty()) return bad("expected an ISO 8601 duration like PT15M");
  if (s.front() == '-') return bad("negative durations are not accepted");
  if (s.front() != 'P') return bad("expected an ISO 8601 duration like PT15M (starting with P)");

  std::size_t pos = 1;
  bool in_time = false;
  bool any_component = false;
  bool time_component = false;
  int last_rank = -1;  // units must come in order: W/D (rank 0), then H (1), M (2), S (3)
  std::int64_t total = 0;
  while (pos < s.size()) {
    if (s[pos] == 'T') {
      if (in_time) return bad("'T' appears twice");
      in_time = true;
      ++pos;
      continue;
    }
    const std::size_t begin = pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == begin) return bad(std::string("expected a number before '") + s[pos] + "'");
    if (pos - begin > 15) return bad("number too large");
    std::int64_t n = 0;
    for (std::size_t i = begin; i < pos; ++i) n = n * 10 + (s[i] - '0');
    std::int64_t fraction = 0;
    bool has_fraction = false;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      const std::size_t fbegin = ++pos;
      while (pos < s.size() && is_digit(s[pos])) ++pos;
      if (pos == fbegin) return bad("a fraction needs digits after the decimal sign");
      fraction = fraction_ms(s.substr(fbegin, pos - fbegin));
      has_fraction = true;
    }
    if (pos >= s.size()) return bad("number without a unit at the end");
    const char unit = s[pos++];
    int rank = 0;
    std::int64_t scale = 0;
    if (!in_time && (unit == 'Y' || unit == 'M')) {
      return bad("years and months have no fixed length; use weeks or days (only P9999Y, open-ended, "
                 "is accepted)");
    } else if (!in_time && unit == 'W') {
      scale = kMsPerWeek;
    } else if (!in_time && unit == 'D') {
      scale = kMsPerDay;
    } else if (in_time && unit == 'H') {
      rank = 1, scale = kMsPerHour;
    } else if (in_time && unit == 'M') {
      rank = 2, scale = kMsPerMinute;
    } else if (in_time && unit == 'S') {
      rank = 3, scale = kMsPerSecond;
    } else {
      return bad(std::string("unexpected '") + unit + "'" + (in_time ? " after T" : " before T"));
    }
    if (rank <= last_rank) return bad(std::string("'") + unit + "' is out of order or repeated");
    if (has_fraction && unit != 'S') return bad("only seconds may have a fraction");
    last_rank = rank;
    std::int64_t part = 0;
    if (__builtin_mul_overflow(n, scale, &part) || __builtin_add_overflow(part, fraction, &part) ||
        __builtin_add_overflow(total, part, &total) || total == kOpenEndedMs) {
      return bad("duration too long");
    }
    any_component = true;
    time_component = time_component || in_time;
  }
  if (!any_component) return bad("a duration needs at least one number and unit");
  if (in_time && !time_component) return bad("'T' must be followed by hours, minutes or seconds");
  return total;
}

std::string format_duration_ms(std::int64_t ms) {
  if (ms == kOpenEndedMs) return "P9999Y";
  if (ms == 0) return "PT0S";
  std::string out;
  auto magnitude = static_cast<std::uint64_t>(ms);
  if (ms < 0) {
    out.push_back('-');
    magnitude = 0 - magnitude;
  }
  out.push_back('P');
  const std::uint64_t days = magnitude / kMsPerDay;
  const std::uint64_t hours = magnitude % kMsPerDay / kMsPerHour;
  const std::uint64_t minutes = magnitude % kMsPerHour / kMsPerMinute;
  const std::uint64_t seconds = magnitude % kMsPerMinute / kMsPerSecond;
  const std::uint64_t millis = magnitude % kMsPerSecond;
  if (days != 0) out += std::to_string(days) + "D";
  if (hours == 0 && minutes == 0 && seconds == 0 && millis == 0) return out;
  out.push_back('T');
  if (hours != 0) out += std::to_string(hours) + "H";
  if (minutes != 0) out += std::to_string(minutes) + "M";
  if (seconds != 0 || millis != 0) {
    out += std::to_string(seconds);
    if (millis != 0) {
      std::string frac = std::to_string(millis + 1000).substr(1);  // three digits
      while (frac.back() == '0') frac.pop_back();
      out += "." + frac;
    }
    out.push_back('S');
  }
  return out;
}

}  // namespace gridlet::dr
