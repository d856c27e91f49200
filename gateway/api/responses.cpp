#include "gateway/api/responses.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "adapters/device.hpp"
#include "gateway/api/limits.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"

namespace gridlet::api {

using nlohmann::json;

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  // Strings can echo request bytes (a path, a parameter) that are not UTF-8: replace them with
  // U+FFFD instead of throwing, which would take the daemon down (found by api_request_fuzz).
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
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

std::optional<std::int64_t> parse_uint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
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

}  // namespace gridlet::api
