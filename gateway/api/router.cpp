#include "gateway/api/router.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "adapters/device.hpp"
#include "gateway/api/limits.hpp"
#include "gateway/api/metrics.hpp"
#include "gateway/api/openapi.hpp"
#include "gateway/runtime/clock.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/store/event_log.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {
namespace {

using nlohmann::json;

// The role matrix (see router.hpp). Roles per route, in match order.
const std::set<Role> kPublic{};
const std::set<Role> kReaders{Role::kViewer, Role::kInstaller, Role::kManager};
const std::set<Role> kIngest{Role::kInstaller};
const std::set<Role> kAllRoles{Role::kViewer, Role::kInstaller, Role::kManager, Role::kAggregator};
const std::set<Role> kOperators{Role::kInstaller, Role::kManager};

const std::vector<RouteSpec> kRoutes{
    {Endpoint::kHealth, "GET", "/api/v1/health", kPublic},
    {Endpoint::kOpenApi, "GET", "/api/v1/openapi.json", kPublic},
    {Endpoint::kDevices, "GET", "/api/v1/devices", kReaders},
    {Endpoint::kDevice, "GET", "/api/v1/devices/{id}", kReaders},
    {Endpoint::kBuses, "GET", "/api/v1/buses", kReaders},
    {Endpoint::kPoints, "GET", "/api/v1/points", kReaders},
    {Endpoint::kHistory, "GET", "/api/v1/points/{device}/{point}/history", kReaders},
    {Endpoint::kSamples, "POST", "/api/v1/samples", kIngest},
    {Endpoint::kSetpoints, "GET", "/api/v1/devices/{id}/setpoints", kAllRoles},
    {Endpoint::kSetpointPut, "PUT", "/api/v1/devices/{id}/setpoints/{point}", kOperators},
    {Endpoint::kSetpointDelete, "DELETE", "/api/v1/devices/{id}/setpoints/{point}", kOperators},
    {Endpoint::kEvents, "GET", "/api/v1/events", kAllRoles},
    {Endpoint::kAudit, "GET", "/api/v1/audit", kOperators},
    {Endpoint::kMetrics, "GET", "/metrics", kReaders},
};

constexpr std::int64_t kSecondMs = 1000;
constexpr std::int64_t kMinuteMs = 60 * kSecondMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;
constexpr std::int64_t kDayMs = 24 * kHourMs;

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  // Strings can echo request bytes (a path, a parameter) that are not UTF-8: replace them with
  // U+FFFD instead of throwing, which would take the daemon down (found by api_request_fuzz).
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    const auto end = s.find(sep, pos);
    out.push_back(s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding ('+' stays '+', so "+02:00" offsets survive). nullopt on a broken escape.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

bool valid_unit(std::string_view s) {
  if (s.size() > kMaxUnitLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != '"' && c != '\\';
  });
}

std::optional<std::int64_t> parse_uint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

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

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The token of "Bearer <token>", or empty.
std::string_view bearer_token(std::string_view header) {
  header = trim(header);
  constexpr std::string_view kScheme = "Bearer";
  if (header.size() <= kScheme.size() || !iequals(header.substr(0, kScheme.size()), kScheme) ||
      (header[kScheme.size()] != ' ' && header[kScheme.size()] != '\t')) {
    return {};
  }
  return trim(header.substr(kScheme.size()));
}

json nullable_ms(std::int64_t ms) { return ms == 0 ? json(nullptr) : json(ms); }

json point_json(const runtime::PointValue& pv) {
  json j;
  j["unit"] = pv.unit;
  const bool has_value =
      pv.quality == adapters::Quality::kGood || pv.quality == adapters::Quality::kStale;
  j["value"] = has_value && std::isfinite(pv.value) ? json(pv.value) : json(nullptr);
  j["quality"] = std::string(adapters::to_string(pv.quality));
  j["timestamp_ms"] = nullable_ms(pv.timestamp_ms);
  return j;
}

json device_json(const runtime::DeviceState& d) {
  json j;
  j["id"] = d.config.id;
  j["name"] = d.config.name;
  j["kind"] = std::string(adapters::to_string(d.config.kind));
  j["bus"] = d.config.bus;
  j["unit_id"] = d.config.unit_id;
  j["profile"] = d.config.profile;
  j["enabled"] = d.config.enabled;
  j["online"] = d.online;
  j["last_seen_ms"] = nullable_ms(d.last_seen_ms);
  j["errors"] = d.errors;
  j["last_error"] = d.last_error.empty() ? json(nullptr) : json(d.last_error);
  return j;
}

Response unavailable(std::string_view message) {
  Response r = error_response(503, "unavailable", message);
  r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
  return r;
}

// The answer to a store operation that failed: a full disk is 503 with Retry-After (space may be
// freed, or the disk budget will make room), anything else is 500. Both say what failed.
Response store_failure(std::string_view what, const store::Status& status) {
  if (status.is_no_space()) {
    Response r = error_response(503, "no_space", std::string(what) + ": " + status.to_string());
    r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
    return r;
  }
  return error_response(500, "internal", std::string(what) + ": " + status.to_string());
}

// Matches path segments against a pattern; fills captures.
bool match(std::string_view pattern, const std::vector<std::string>& segments,
           std::map<std::string, std::string, std::less<>>* params) {
  const auto parts = split(pattern.substr(1), '/');
  if (parts.size() != segments.size()) return false;
  std::map<std::string, std::string, std::less<>> captured;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto part = parts[i];
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      if (segments[i].empty()) return false;
      captured.emplace(std::string(part.substr(1, part.size() - 2)), segments[i]);
    } else if (part != segments[i]) {
      return false;
    }
  }
  *params = std::move(captured);
  return true;
}

// One validated sample of a POST /api/v1/samples body.
struct IngestSample {
  std::string device, point, unit;
  std::int64_t t = 0;
  double value = 0;
};

// Validates the body; on failure returns the error response.
std::optional<Response> parse_samples(std::string_view body, std::vector<IngestSample>* out) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return error_response(400, "bad_request", "body is not valid JSON");
  if (!doc.is_object() || !doc.contains("samples") || !doc["samples"].is_array()) {
    return error_response(400, "bad_request", "body must be an object with a 'samples' array");
  }
  const auto& arr = doc["samples"];
  if (arr.empty()) return error_response(400, "bad_request", "samples: must not be empty");
  if (arr.size() > kMaxSamplesPerRequest) {
    return error_response(413, "payload_too_large",
                          "samples: at most " + std::to_string(kMaxSamplesPerRequest) +
                              " per request, got " + std::to_string(arr.size()));
  }
  out->reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& e = arr[i];
    const std::string at = "samples[" + std::to_string(i) + "]";
    auto bad = [&](const std::string& field, const std::string& what) {
      return error_response(400, "bad_request", at + "." + field + ": " + what);
    };
    if (!e.is_object()) return error_response(400, "bad_request", at + ": must be an object");
    IngestSample s;
    for (const char* field : {"device", "point"}) {
      if (!e.contains(field) || !e[field].is_string() ||
          !valid_name(e[field].get_ref<const std::string&>())) {
        return bad(field, "must be a string of 1..64 characters of [A-Za-z0-9_.-]");
      }
    }
    s.device = e["device"].get<std::string>();
    s.point = e["point"].get<std::string>();
    if (e.contains("unit")) {
      if (!e["unit"].is_string() || !valid_unit(e["unit"].get_ref<const std::string&>())) {
        return bad("unit", "must be a string of at most " + std::to_string(kMaxUnitLength) +
                               " printable characters");
      }
      s.unit = e["unit"].get<std::string>();
    }
    if (!e.contains("t") || !(e["t"].is_number_integer()) ||
        (e["t"].is_number_unsigned() ? e["t"].get<std::uint64_t>() >
                                           static_cast<std::uint64_t>(INT64_MAX)
                                     : e["t"].get<std::int64_t>() <= 0)) {
      return bad("t", "must be a positive integer (Unix milliseconds)");
    }
    s.t = e["t"].get<std::int64_t>();
    if (s.t <= 0) return bad("t", "must be a positive integer (Unix milliseconds)");
    if (!e.contains("value") || !e["value"].is_number() ||
        !std::isfinite(e["value"].get<double>())) {
      return bad("value", "must be a finite number");
    }
    s.value = e["value"].get<double>();
    out->push_back(std::move(s));
  }
  return std::nullopt;
}

// Shows committed samples as live values: only the newest reading per point (the point store
// ignores older ones anyway). Runs on the loop.
void publish_ingested(runtime::PointStore* points, const std::vector<IngestSample>& batch) {
  if (points == nullptr) return;
  std::map<runtime::PointKey, const IngestSample*> newest;
  for (const auto& s : batch) {
    auto& slot = newest[runtime::PointKey{s.device, s.point}];
    if (slot == nullptr || slot->t <= s.t) slot = &s;
  }
  for (const auto& [key, s] : newest) {
    points->update(
        adapters::Reading{s->device, s->point, s->unit, s->value, adapters::Quality::kGood, s->t},
        runtime::PointStore::Origin::kAlreadyStored);
  }
}

}  // namespace

const std::vector<RouteSpec>& route_table() { return kRoutes; }

Response error_response(int status, std::string_view code, std::string_view message) {
  json body;
  body["error"]["code"] = std::string(code);
  body["error"]["message"] = std::string(message);
  return json_response(status, body);
}

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

std::optional<std::int64_t> parse_step_ms(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || n > 12) return std::nullopt;
  const auto number = parse_uint(s.substr(0, n));
  if (!number) return std::nullopt;
  const auto unit = s.substr(n);
  std::int64_t scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = kSecondMs;
  } else if (unit == "m") {
    scale = kMinuteMs;
  } else if (unit == "h") {
    scale = kHourMs;
  } else if (unit == "d") {
    scale = kDayMs;
  } else {
    return std::nullopt;
  }
  if (*number <= 0 || *number > kMaxHistoryRangeMs / scale) return std::nullopt;
  return *number * scale;
}

Router::Router(ApiContext context, Executors executors)
    : context_(std::move(context)), executors_(std::move(executors)), tokens_(context_.tokens) {
  if (context_.metrics != nullptr) {
    std::vector<std::string> patterns;
    for (const auto& r : kRoutes) patterns.emplace_back(r.pattern);
    metrics_ = std::make_shared<ApiMetrics>(*context_.metrics, patterns);
    // Known even where /proc/stat is hidden (systemd ProcSubset=pid).
    if (context_.started_ms > 0 && metrics_->start_time_seconds.Value() == 0) {
      metrics_->start_time_seconds.Set(static_cast<double>(context_.started_ms) / 1000.0);
    }
  }
}

Router::~Router() = default;

void Router::handle(const Request& request, Respond respond) {
  const auto started = std::chrono::steady_clock::now();
  const std::string_view target = request.target;
  const auto qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos);
  const std::string_view query_text =
      qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);

  // Route.
  const RouteSpec* route = nullptr;
  Params params;
  std::string allow;
  std::optional<Response> early;
  std::vector<std::string> segments;
  if (path.empty() || path.front() != '/') {
    early = error_response(400, "bad_request", "request target must be an absolute path");
  } else {
    for (const auto raw : split(path.substr(1), '/')) {
      auto seg = percent_decode(raw);
      if (!seg) {
        early = error_response(400, "bad_request", "malformed percent-encoding in path");
        break;
      }
      segments.push_back(std::move(*seg));
    }
  }
  if (!early) {
    for (const auto& r : kRoutes) {
      Params p;
      if (!match(r.pattern, segments, &p)) continue;
      if (r.method == request.method) {
        route = &r;
        params = std::move(p);
        break;
      }
      if (allow.find(r.method) == std::string::npos) {
        if (!allow.empty()) allow += ", ";
        allow += r.method;
      }
    }
  }

  Respond done = [metrics = metrics_, label = std::string(route ? route->pattern : "unmatched"),
                  started, respond = std::move(respond)](Response r) {
    if (metrics) {
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
      metrics->observe(label, r.status, elapsed.count());
    }
    respond(std::move(r));
  };

  if (early) return done(std::move(*early));
  if (route == nullptr) {
    if (allow.empty()) {
      return done(error_response(404, "not_found", "no such path: " + std::string(path)));
    }
    Response r = error_response(405, "method_not_allowed",
                                request.method + " is not allowed here; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    return done(std::move(r));
  }

  // Authenticate and authorize.
  std::optional<TokenInfo> who;
  if (!route->roles.empty()) {
    const std::string_view token = bearer_token(request.authorization);
    const TokenStore* tokens = tokens_.load();
    if (!token.empty() && tokens != nullptr) who = tokens->authenticate(token);
    if (!who) {
      Response r = error_response(
          401, "unauthorized",
          token.empty() ? "missing 'Authorization: Bearer <token>'" : "unknown or revoked token");
      r.headers.emplace_back("WWW-Authenticate", token.empty()
                                                     ? "Bearer realm=\"gridlet\""
                                                     : "Bearer realm=\"gridlet\", error=\"invalid_token\"");
      return done(std::move(r));
    }
    if (!route->roles.contains(who->role)) {
      return done(error_response(403, "forbidden",
                                 "role '" + std::string(to_string(who->role)) +
                                     "' may not use " + std::string(route->method) + " " +
                                     std::string(route->pattern)));
    }
  }

  Query query;
  for (const auto item : split(query_text, '&')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    auto key = percent_decode(item.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                             : item.substr(eq + 1));
    if (!key || !value) {
      return done(error_response(400, "bad_request", "malformed percent-encoding in query"));
    }
    query.try_emplace(std::move(*key), std::move(*value));  // the first of repeated keys wins
  }

  switch (route->endpoint) {
    case Endpoint::kHealth: return health(std::move(done));
    case Endpoint::kOpenApi: return openapi(std::move(done));
    case Endpoint::kDevices: return devices(std::move(done));
    case Endpoint::kDevice: return device(params, std::move(done));
    case Endpoint::kPoints: return points(query, std::move(done));
    case Endpoint::kHistory: return history(params, query, std::move(done));
    case Endpoint::kSamples: return samples(request, std::move(done));
    case Endpoint::kMetrics: return metrics(std::move(done));
    case Endpoint::kBuses: return buses(std::move(done));
    case Endpoint::kSetpoints: return setpoints(params, std::move(done));
    case Endpoint::kSetpointPut: return put_setpoint(params, request, *who, std::move(done));
    case Endpoint::kSetpointDelete: return delete_setpoint(params, query, *who, std::move(done));
    case Endpoint::kEvents: return logs(false, query, std::move(done));
    case Endpoint::kAudit: return logs(true, query, std::move(done));
  }
  done(error_response(500, "internal", "route without handler"));
}

// "ok" only when the store writes, every enabled device is online and the tokens file is in
// use; otherwise "degraded", with one line per problem in "problems".
void Router::health(Respond respond) {
  json j;
  json problems = json::array();
  json store;
  if (context_.store != nullptr) {
    const auto s = context_.store->stats();
    store["status"] = s.status;
    store["samples_committed"] = s.samples_committed;
    store["queue_depth"] = s.queue_depth;
    store["file_bytes"] = s.file_bytes;
    store["last_commit_ms"] = nullable_ms(s.last_commit_ms);
    if (s.status != "ok") problems.push_back("store: " + s.status);
  } else {
    store["status"] = "unavailable";
    problems.push_back("store: unavailable");
  }
  runtime::DeviceSummary devices;
  if (context_.devices != nullptr) devices = context_.devices->summary();
  if (devices.online < devices.enabled) {
    problems.push_back("devices: " + std::to_string(devices.online) + " of " +
                       std::to_string(devices.enabled) + " enabled devices online");
  }
  json tokens = {{"status", "ok"}};
  if (const TokenStore* t = tokens_.load(); t != nullptr && !t->problem().empty()) {
    tokens = {{"status", "refusing all tokens"}, {"error", t->problem()}};
    problems.push_back("tokens: every token is refused: " + t->problem());
  }
  const std::int64_t now = context_.clock != nullptr ? context_.clock->now_ms() : 0;
  j["status"] = problems.empty() ? "ok" : "degraded";
  j["problems"] = std::move(problems);
  j["version"] = context_.version;
  j["uptime_s"] = context_.started_ms > 0 && now > context_.started_ms
                      ? (now - context_.started_ms) / 1000
                      : 0;
  j["store"] = std::move(store);
  j["devices"] = {{"total", devices.total}, {"enabled", devices.enabled}, {"online", devices.online}};
  j["tokens"] = std::move(tokens);
  respond(json_response(200, j));
}

void Router::openapi(Respond respond) {
  Response r;
  r.body = openapi_json(context_.version);
  respond(std::move(r));
}

void Router::devices(Respond respond) {
  json arr = json::array();
  if (context_.devices != nullptr) {
    for (const auto* d : context_.devices->list()) arr.push_back(device_json(*d));
  }
  respond(json_response(200, arr));
}

void Router::buses(Respond respond) {
  respond(json_response(200, context_.buses ? context_.buses() : json::array()));
}

void Router::device(const Params& params, Respond respond) {
  const std::string& id = params.find("id")->second;
  const runtime::DeviceState* d = context_.devices ? context_.devices->find(id) : nullptr;
  if (d == nullptr) return respond(error_response(404, "not_found", "no device '" + id + "'"));
  json j = device_json(*d);
  json pts = json::array();
  if (context_.points != nullptr) {
    const auto& all = context_.points->all();
    for (auto it = all.lower_bound(runtime::PointKey{id, ""});
         it != all.end() && it->first.device == id; ++it) {
      json p = point_json(it->second);
      p["point"] = it->first.point;
      pts.push_back(std::move(p));
    }
  }
  j["points"] = std::move(pts);
  respond(json_response(200, j));
}

void Router::points(const Query& query, Respond respond) {
  json arr = json::array();
  const auto filter = query.find("device");
  if (context_.points != nullptr) {
    for (const auto& [key, pv] : context_.points->all()) {
      if (filter != query.end() && key.device != filter->second) continue;
      json p;
      p["device"] = key.device;
      p["point"] = key.point;
      p.update(point_json(pv));
      arr.push_back(std::move(p));
    }
  }
  respond(json_response(200, arr));
}

void Router::history(const Params& params, const Query& query, Respond respond) {
  const std::int64_t now = context_.clock != nullptr ? context_.clock->now_ms() : 0;
  auto param = [&](std::string_view name) -> const std::string* {
    const auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  };
  std::int64_t to_ms = now;
  if (const auto* v = param("to")) {
    const auto t = parse_time_ms(*v);
    if (!t) {
      return respond(error_response(
          400, "bad_request",
          "to: expected Unix milliseconds or RFC 3339 UTC like 2026-11-25T10:00:00Z"));
    }
    to_ms = *t;
  }
  std::int64_t from_ms = to_ms - kDefaultHistoryRangeMs;
  if (const auto* v = param("from")) {
    const auto t = parse_time_ms(*v);
    if (!t) {
      return respond(error_response(
          400, "bad_request",
          "from: expected Unix milliseconds or RFC 3339 UTC like 2026-11-25T10:00:00Z"));
    }
    from_ms = *t;
  }
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

void Router::run_query(Respond respond, std::function<Response()> query) {
  // Bounded: every query holds a slot from here until its answer is on the loop, so a burst of
  // heavy queries is answered 503 instead of queueing without end.
  if (queries_in_flight_->fetch_add(1) >= kMaxQueriesInFlight) {
    queries_in_flight_->fetch_sub(1);
    return respond(unavailable("too many queries in progress; retry later"));
  }
  executors_.query([in_flight = queries_in_flight_, to_loop = executors_.to_loop,
                    respond = std::move(respond), query = std::move(query)]() mutable {
    Response r;
    try {
      r = query();
    } catch (const std::exception& e) {  // bad_alloc, json errors: nothing may escape a worker
      r = error_response(500, "internal", std::string("query failed: ") + e.what());
    }
    in_flight->fetch_sub(1);
    to_loop([respond = std::move(respond), r = std::move(r)]() mutable { respond(std::move(r)); });
  });
}

void Router::samples(const Request& request, Respond respond) {
  auto batch = std::make_shared<std::vector<IngestSample>>();
  if (auto err = parse_samples(request.body, batch.get())) return respond(std::move(*err));
  if (context_.store == nullptr) return respond(unavailable("the telemetry store is not open"));

  std::vector<store::NamedSample> rows;
  rows.reserve(batch->size());
  for (const auto& s : *batch) rows.push_back({s.device, s.point, s.unit, s.t, s.value});
  // Enqueueing touches memory only, so ingest never waits behind queries on a worker. The answer
  // comes once the store says the batch committed: that is what makes a 200 durable.
  auto on_commit = [points = context_.points, respond, batch,
                    to_loop = executors_.to_loop](const store::Status& st) {
    to_loop([points, respond, batch, st] {
      if (st.is_ok()) {
        publish_ingested(points, *batch);
        return respond(json_response(200, json{{"accepted", batch->size()}, {"committed", true}}));
      }
      respond(store_failure("the batch could not be committed", st));
    });
  };
  if (!context_.store->append(std::span<const store::NamedSample>(rows), std::move(on_commit))) {
    respond(unavailable("the ingest queue is full; retry later"));
  }
}

void Router::metrics(Respond respond) {
  if (metrics_ == nullptr) return respond(unavailable("metrics are not enabled"));
  metrics_->refresh_process();
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  auto families = context_.metrics->Collect();
  if (context_.store != nullptr) {
    for (auto& f : store_metric_families(context_.store->stats())) families.push_back(std::move(f));
  }
  r.body = prometheus::TextSerializer().Serialize(families);
  respond(std::move(r));
}

// ---- Setpoints, event log, audit log ------------------------------------------------------------

namespace {

json control_event_json(const adapters::ControlEvent& ev) {
  return {{"device", ev.device},
          {"point", ev.point},
          {"action", std::string(adapters::to_string(ev.action))},
          {"outcome", std::string(adapters::to_string(ev.outcome))},
          {"value", ev.value ? json(*ev.value) : json(nullptr)},
          {"readback", ev.readback ? json(*ev.readback) : json(nullptr)},
          {"actor", ev.actor},
          {"reason", ev.reason},
          {"detail", ev.detail},
          {"t", ev.timestamp_ms}};
}

constexpr std::int64_t kMaxSetpointDurationS = 7 * 24 * 3600;
constexpr std::size_t kMaxReasonLength = 200;

}  // namespace

void Router::setpoints(const Params& params, Respond respond) {
  if (!context_.controls.describe) return respond(unavailable("setpoints are not available"));
  const std::string& id = params.at("id");
  auto doc = context_.controls.describe(id);
  if (!doc) return respond(error_response(404, "not_found", "no such device: " + id));
  respond(json_response(200, *doc));
}

void Router::answer_control(const adapters::ControlEvent& ev, std::uint64_t audit_since,
                            Respond respond) {
  // Answer only once the audit row is durable: what was acknowledged survives kill -9.
  executors_.offload([events = context_.events, ev, audit_since, respond, to_loop = executors_.to_loop] {
    const bool audited = events == nullptr || events->flush(audit_since);
    to_loop([ev, audited, respond] {
      if (!audited) {
        return respond(error_response(
            500, "internal",
            "the audit log could not be written; the device outcome was " +
                std::string(adapters::to_string(ev.outcome)) + ": " + ev.detail));
      }
      json body = control_event_json(ev);
      switch (ev.outcome) {
        case adapters::ControlOutcome::kApplied:
          return respond(json_response(200, body));
        case adapters::ControlOutcome::kFailed:
          // Held: written when the device answers again.
          return respond(json_response(202, body));
        case adapters::ControlOutcome::kRejected: {
          Response r = error_response(422, "rejected", ev.detail);
          return respond(std::move(r));
        }
        case adapters::ControlOutcome::kRefused:
          return respond(error_response(502, "device_refused", ev.detail));
        case adapters::ControlOutcome::kMismatch:
          return respond(error_response(502, "device_mismatch", ev.detail));
      }
      respond(error_response(500, "internal", "unknown control outcome"));
    });
  });
}

void Router::put_setpoint(const Params& params, const Request& request, const TokenInfo& who,
                          Respond respond) {
  if (!context_.controls.set) return respond(unavailable("setpoints are not available"));
  const std::string& id = params.at("id");
  const std::string& point = params.at("point");
  if (!valid_name(id) || !valid_name(point)) {
    return respond(error_response(400, "bad_request", "device and point must be 1-64 of A-Z a-z 0-9 _ . -"));
  }
  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::exception&) {
    return respond(error_response(400, "bad_request", "the body must be a JSON object"));
  }
  if (!body.is_object()) return respond(error_response(400, "bad_request", "the body must be a JSON object"));
  adapters::SetpointCommand cmd;
  cmd.point = point;
  cmd.actor = std::string(to_string(who.role)) + ":" + who.name;
  for (const auto& [key, value] : body.items()) {
    if (key == "value") {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        return respond(error_response(400, "bad_request", "value must be a finite number"));
      }
      cmd.value = value.get<double>();
    } else if (key == "duration_s") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > kMaxSetpointDurationS) {
        return respond(error_response(400, "bad_request", "duration_s must be an integer 1..604800"));
      }
      cmd.until_ms = (context_.clock ? context_.clock->now_ms() : 0) + value.get<std::int64_t>() * 1000;
    } else if (key == "reason") {
      if (!value.is_string() || value.get<std::string>().size() > kMaxReasonLength) {
        return respond(error_response(400, "bad_request", "reason must be a string of at most 200 bytes"));
      }
      cmd.reason = value.get<std::string>();
    } else {
      return respond(error_response(400, "bad_request", "unknown field: " + key));
    }
  }
  if (!body.contains("value")) return respond(error_response(400, "bad_request", "value is required"));
  const std::uint64_t since = context_.events ? context_.events->appended() : 0;
  if (!context_.controls.set(id, std::move(cmd), [this, since, respond](const adapters::ControlEvent& ev) {
        answer_control(ev, since, respond);
      })) {
    respond(error_response(404, "not_found", "no such enabled Modbus device: " + id));
  }
}

void Router::delete_setpoint(const Params& params, const Query& query, const TokenInfo& who,
                             Respond respond) {
  if (!context_.controls.release) return respond(unavailable("setpoints are not available"));
  const std::string& id = params.at("id");
  const std::string& point = params.at("point");
  const auto reason_it = query.find("reason");
  const std::string reason = reason_it == query.end() ? "released through the API" : reason_it->second;
  if (reason.size() > kMaxReasonLength) {
    return respond(error_response(400, "bad_request", "reason must be at most 200 bytes"));
  }
  const std::string actor = std::string(to_string(who.role)) + ":" + who.name;
  const std::uint64_t since = context_.events ? context_.events->appended() : 0;
  if (!context_.controls.release(id, point, actor, reason,
                                 [this, since, respond](const adapters::ControlEvent& ev) {
                                   answer_control(ev, since, respond);
                                 })) {
    respond(error_response(404, "not_found", "no such enabled Modbus device: " + id));
  }
}

void Router::logs(bool audit, const Query& query, Respond respond) {
  if (context_.events == nullptr) return respond(unavailable("the event log is not open"));
  store::LogQuery q;
  if (const auto it = query.find("device"); it != query.end()) {
    if (!valid_name(it->second)) return respond(error_response(400, "bad_request", "bad device"));
    q.device = it->second;
  }
  if (const auto it = query.find("before"); it != query.end()) {
    const auto v = parse_uint(it->second);
    if (!v) return respond(error_response(400, "bad_request", "before must be an id (integer)"));
    q.before_id = *v;
  }
  if (const auto it = query.find("limit"); it != query.end()) {
    const auto v = parse_uint(it->second);
    if (!v || *v < 1 || *v > 1000) return respond(error_response(400, "bad_request", "limit must be 1..1000"));
    q.limit = static_cast<std::size_t>(*v);
  }
  run_query(std::move(respond), [events = context_.events, q, audit]() -> Response {
    json out = json::array();
    if (audit) {
      const auto rows = events->audit(q);
      if (!rows.is_ok()) return store_failure("audit log query failed", rows.status());
      for (const auto& r : rows.value()) {
        out.push_back({{"id", r.id}, {"t", r.timestamp_ms}, {"device", r.device}, {"point", r.point},
                       {"action", r.action},
                       {"value", r.value ? json(*r.value) : json(nullptr)},
                       {"readback", r.readback ? json(*r.readback) : json(nullptr)},
                       {"outcome", r.outcome}, {"actor", r.actor}, {"reason", r.reason},
                       {"detail", r.detail}});
      }
    } else {
      const auto rows = events->events(q);
      if (!rows.is_ok()) return store_failure("event log query failed", rows.status());
      for (const auto& r : rows.value()) {
        out.push_back({{"id", r.id}, {"t", r.timestamp_ms}, {"severity", r.severity}, {"kind", r.kind},
                       {"device", r.device}, {"point", r.point}, {"message", r.message}});
      }
    }
    return json_response(200, out);
  });
}

}  // namespace gridlet::api
