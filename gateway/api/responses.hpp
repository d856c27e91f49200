// Answers and JSON views shared by the API's route handlers (router.cpp and one file per resource:
// health.cpp, devices.cpp, history.cpp, samples.cpp, setpoints.cpp, logs.cpp). Private to
// gateway/api.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "adapters/device.hpp"
#include "gateway/api/router.hpp"
#include "gateway/store/status.hpp"

namespace gridlet::runtime {
struct DeviceState;
struct PointValue;
}  // namespace gridlet::runtime

namespace gridlet::api {

// A JSON answer. Strings that are not UTF-8 are replaced, never thrown about.
Response json_response(int status, const nlohmann::json& body);
// 503 with Retry-After.
Response unavailable(std::string_view message);
// The answer to a store operation that failed: a full disk is 503 with Retry-After (space may be
// freed, or the disk budget will make room), anything else is 500. Both say what failed.
Response store_failure(std::string_view what, const store::Status& status);

// Device and point names in paths and queries follow the one name rule (adapters/device.hpp).
using adapters::valid_name;
// Non-negative decimal digits only.
std::optional<std::int64_t> parse_uint(std::string_view s);

// Unix ms, or null for 0 ("never").
nlohmann::json nullable_ms(std::int64_t ms);
nlohmann::json point_json(const runtime::PointValue& pv);
nlohmann::json device_json(const runtime::DeviceState& d);

}  // namespace gridlet::api
