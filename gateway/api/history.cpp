// GET /api/v1/points/{device}/{point}/history: its parameters (times, steps) and the query.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>

#include "gateway/api/limits.hpp"
#include "gateway/api/responses.hpp"
#include "gateway/api/router.hpp"
#include "adapters/clock.hpp"
#include "adapters/toml_diagnostics.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {
namespace {

using nlohmann::json;

constexpr std::int64_t kSecondMs = 1000;
constexpr std::int64_t kMinuteMs = 60 * kSecondMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;
constexpr std::int64_t kDayMs = 24 * kHourMs;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::string format_step(std::int64_t ms) {
  if (ms % kDayMs == 0) return std::to_string(ms / kDayMs) + "d";
  if (ms % kHourMs == 0) return std::to_string(ms / kHourMs) + "h";
  if (ms % kMinuteMs == 0) return std::to_string(ms / kMinuteMs) + "m";
  if (ms % kSecondMs == 0) return std::to_string(ms / kSecondMs) + "s";
  return std::to_string(ms) + "ms";
}

// The smallest "round" step that keeps (range / step) within kMaxHistoryRows.
std::string suggest_step(std::int64_t range_ms) {
  static constexpr std::int64_t kRoundSteps[] = {kMinuteMs,     15 * kMinuteMs, kHourMs,
                                                 6 * kHourMs,   kDayMs,         7 * kDayMs};
  for (const auto step : kRoundSteps) {
    if (range_ms / step <= static_cast<std::int64_t>(kMaxHistoryRows)) return format_step(step);
  }
  return format_step(kRoundSteps[std::size(kRoundSteps) - 1]);
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return parse_uint(s);
  }
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  auto digits = [&](std::size_t pos, std::size_t n) -> std::optional<std::int64_t> {
    if (pos + n > s.size()) return std::nullopt;
    const auto part = s.substr(pos, n);
    if (!std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return parse_uint(part);
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 ||
      *day > days_in_month(*year, static_cast<unsigned>(*month)) || *hour > 23 || *minute > 59 ||
      *second > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start) return std::nullopt;
    for (std::size_t n = pos - start; n < 3; ++n) frac_ms *= 10;
  }
  std::int64_t offset_ms = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const auto oh = digits(pos + 1, 2), om = digits(pos + 4, 2);
    if (!oh || !om || pos + 3 >= s.size() || s[pos + 3] != ':' || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset_ms = (*oh * kHourMs + *om * kMinuteMs) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  const std::int64_t ms = days * kDayMs + *hour * kHourMs + *minute * kMinuteMs +
                          *second * kSecondMs + frac_ms - offset_ms;
  if (ms < 0) return std::nullopt;
  return ms;
}

// Milliseconds ("900000"), or a duration in the configuration's syntax ("30s", "15m", "1d").
std::optional<std::int64_t> parse_step_ms(std::string_view s) {
  std::optional<std::int64_t> ms;
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) {
    ms = parse_uint(s);
  } else if (const auto d = adapters::parse_duration(s)) {
    ms = d->count();
  }
  if (!ms || *ms <= 0 || *ms > kMaxHistoryRangeMs) return std::nullopt;
  return ms;
}

void Router::history(const Params& params, const Query& query, Respond respond) {
  const std::int64_t now = context_.clock != nullptr ? context_.clock->now_ms() : 0;
  auto param = [&](std::string_view name) -> const std::string* {
    const auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  };
  // A time parameter: absent (nullopt inside), or Unix ms / RFC 3339; false when malformed.
  auto time_param = [&](std::string_view name, std::optional<std::int64_t>& out) {
    const auto* v = param(name);
    if (v == nullptr) return true;
    out = parse_time_ms(*v);
    return out.has_value();
  };
  std::optional<std::int64_t> to, from;
  for (auto [name, out] : {std::pair{"to", &to}, std::pair{"from", &from}}) {
    if (!time_param(name, *out)) {
      return respond(error_response(
          400, "bad_request",
          std::string(name) + ": expected Unix milliseconds or RFC 3339 UTC like 2026-11-25T10:00:00Z"));
    }
  }
  const std::int64_t to_ms = to.value_or(now);
  const std::int64_t from_ms = from.value_or(to_ms - kDefaultHistoryRangeMs);
  if (from_ms >= to_ms) {
    return respond(error_response(400, "bad_request", "from: must be before to"));
  }
  if (to_ms - from_ms > kMaxHistoryRangeMs) {
    return respond(error_response(400, "bad_request",
                                  "from: range is longer than " +
                                      std::to_string(kMaxHistoryRangeMs / kDayMs) + " days"));
  }
  std::int64_t step_ms = 0;
  if (const auto* v = param("step")) {
    const auto s = parse_step_ms(*v);
    if (!s) {
      return respond(error_response(
          400, "bad_request", "step: expected milliseconds or a duration like 30s, 1m, 15m, 1h"));
    }
    step_ms = *s;
    const std::int64_t rows = (to_ms - from_ms + step_ms - 1) / step_ms;
    if (rows > static_cast<std::int64_t>(kMaxHistoryRows)) {
      return respond(error_response(
          400, "bad_request",
          "step: " + std::to_string(rows) + " rows over this range, more than " +
              std::to_string(kMaxHistoryRows) + "; use a larger step, e.g. step=" +
              suggest_step(to_ms - from_ms)));
    }
  }
  if (context_.store == nullptr) return respond(unavailable("the telemetry store is not open"));

  // The store touches the disk: query off the loop (on the query workers), answer on the loop.
  run_query(std::move(respond), [store = context_.store, device = params.find("device")->second,
                                 point = params.find("point")->second, from_ms, to_ms,
                                 step_ms]() -> Response {
    const auto info = store->find_series(device, point);
    if (!info) {
      return error_response(404, "not_found",
                            "no stored series for device '" + device + "' point '" + point + "'");
    }
    const auto result = store->history({info->id, from_ms, to_ms, step_ms, kMaxHistoryRows});
    if (!result.is_ok()) return store_failure("history query failed", result.status());
    if (result->truncated) {
      return error_response(400, "bad_request",
                            "step: more than " + std::to_string(kMaxHistoryRows) +
                                " rows over this range; use a larger step, e.g. step=" +
                                suggest_step(to_ms - from_ms));
    }
    json j;
    j["device"] = device;
    j["point"] = point;
    j["unit"] = info->unit;
    j["tier"] = std::string(store::to_string(result->tier));
    j["step_ms"] = result->step_ms;
    json rows = json::array();
    for (const auto& row : result->rows) {
      rows.push_back({{"t", row.timestamp_ms},
                      {"min", row.min},
                      {"max", row.max},
                      {"mean", row.mean},
                      {"last", row.last},
                      {"count", row.count}});
    }
    j["rows"] = std::move(rows);
    return json_response(200, j);
  });
}

}  // namespace gridlet::api
