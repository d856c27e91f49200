#include "gateway/api/openapi.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "gateway/api/limits.hpp"
#include "gateway/api/router.hpp"

namespace gridlet::api {
namespace {

using nlohmann::json;

json ref(std::string_view name) { return {{"$ref", "#/components/schemas/" + std::string(name)}}; }

json json_content(json schema) { return {{"application/json", {{"schema", std::move(schema)}}}}; }

json error_reply(std::string_view description) {
  return {{"description", std::string(description)}, {"content", json_content(ref("Error"))}};
}

json ok_reply(std::string_view description, json schema) {
  return {{"description", std::string(description)}, {"content", json_content(std::move(schema))}};
}

// Device ids and point names, as the router's valid_name() accepts them.
const json kNameSchema = {{"type", "string"}, {"pattern", "^[A-Za-z0-9_.-]{1,64}$"}};

// Point names as adapters publish them: SunSpec points in repeating groups carry an index in
// brackets (mppt.module[0].DCW), which API clients never send in their own samples.
const json kPublishedPointSchema = {{"type", "string"}, {"pattern", "^[A-Za-z0-9_.\\[\\]-]+$"}};

json path_param(std::string_view name, std::string_view description,
                const json& schema = kNameSchema) {
  return {{"name", std::string(name)},
          {"in", "path"},
          {"required", true},
          {"description", std::string(description)},
          {"schema", schema}};
}

// An optional query parameter; `schema` states what the router accepts, so that clients (and
// generated tests) can tell a well-formed value from one the router answers 400.
json query_param(std::string_view name, std::string_view description,
                 json schema = {{"type", "string"}}) {
  return {{"name", std::string(name)},
          {"in", "query"},
          {"required", false},
          {"description", std::string(description)},
          {"schema", std::move(schema)}};
}

// What parse_time_ms and parse_step_ms in history.cpp accept (the range between from and to and
// the number of rows are checked against each other, which a schema cannot say: 400 then).
const json kTimeParam = {
    {"type", "string"},
    {"pattern",
     "^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
     "([Zz]|[+-][0-9]{2}:[0-9]{2}))$"}};
const json kStepParam = {{"type", "string"}, {"pattern", "^[0-9]{1,12}(ms|s|m|h|d)?$"}};

json nullable(json schema) {
  schema["nullable"] = true;
  return schema;
}

const json kInt = {{"type", "integer"}, {"format", "int64"}};
const json kNum = {{"type", "number"}, {"format", "double"}};
const json kStr = {{"type", "string"}};
const json kBool = {{"type", "boolean"}};

json object(json properties) {
  json required = json::array();
  for (const auto& [key, value] : properties.items()) required.push_back(key);
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", required}};
}

json schemas() {
  json s;
  s["Error"] = object(
      {{"error", object({{"code",
                          {{"type", "string"},
                           {"enum",
                            {"unauthorized", "forbidden", "not_found", "method_not_allowed",
                             "bad_request", "payload_too_large", "header_too_large",
                             "unavailable", "no_space", "internal", "rejected", "device_refused",
                             "device_mismatch"}}}},
                         {"message", kStr}})}});
  s["Health"] = object(
      {{"status", {{"type", "string"}, {"enum", {"ok", "degraded"}}}},
       {"problems", {{"type", "array"}, {"items", kStr}}},
       {"version", kStr},
       {"uptime_s", kInt},
       {"store", object({{"status", kStr},
                         {"samples_committed", kInt},
                         {"queue_depth", kInt},
                         {"file_bytes", kInt},
                         {"last_commit_ms", nullable(kInt)}})},
       {"devices", object({{"total", kInt}, {"enabled", kInt}, {"online", kInt}})},
       {"tokens", {{"type", "object"},
                   {"properties", {{"status", kStr}, {"error", kStr}}},
                   {"required", {"status"}}}}});
  const json quality = {{"type", "string"}, {"enum", {"good", "stale", "missing", "error"}}};
  s["DevicePoint"] = object({{"point", kStr},
                             {"unit", kStr},
                             {"value", nullable(kNum)},
                             {"quality", quality},
                             {"timestamp_ms", nullable(kInt)}});
  s["Point"] = object({{"device", kStr},
                       {"point", kStr},
                       {"unit", kStr},
                       {"value", nullable(kNum)},
                       {"quality", quality},
                       {"timestamp_ms", nullable(kInt)}});
  json device = {{"id", kStr},
                 {"name", kStr},
                 {"kind", kStr},
                 {"bus", kStr},
                 {"unit_id", kInt},
                 {"profile", kStr},
                 {"enabled", kBool},
                 {"online", kBool},
                 {"last_seen_ms", nullable(kInt)},
                 {"errors", kInt},
                 {"last_error", nullable(kStr)}};
  s["Device"] = object(device);
  device["points"] = {{"type", "array"}, {"items", ref("DevicePoint")}};
  s["DeviceDetail"] = object(device);
  s["HistoryRow"] = object({{"t", kInt},
                            {"min", kNum},
                            {"max", kNum},
                            {"mean", kNum},
                            {"last", kNum},
                            {"count", kInt}});
  s["History"] = object({{"device", kStr},
                         {"point", kStr},
                         {"unit", kStr},
                         {"tier", {{"type", "string"}}},
                         {"step_ms", kInt},
                         {"rows", {{"type", "array"}, {"items", ref("HistoryRow")}}}});
  json sample = object({{"device", kNameSchema},
                        {"point", kNameSchema},
                        {"t", {{"type", "integer"}, {"format", "int64"}, {"minimum", 1}}},
                        {"value", kNum}});
  sample["properties"]["unit"] = {{"type", "string"}, {"maxLength", kMaxUnitLength}};
  s["Sample"] = sample;
  s["SamplesRequest"] = object({{"samples",
                                 {{"type", "array"},
                                  {"minItems", 1},
                                  {"maxItems", kMaxSamplesPerRequest},
                                  {"items", ref("Sample")}}}});
  s["SamplesResponse"] = object({{"accepted", kInt}, {"committed", kBool}});
  const json outcome = {{"type", "string"},
                        {"enum", {"applied", "rejected", "refused", "mismatch", "failed"}}};
  const json action = {{"type", "string"},
                       {"enum", {"set", "keepalive", "reassert", "release", "heartbeat"}}};
  s["ControlEvent"] = object({{"device", kStr},
                              {"point", kStr},
                              {"action", action},
                              {"outcome", outcome},
                              {"value", nullable(kNum)},
                              {"readback", nullable(kNum)},
                              {"actor", kStr},
                              {"reason", kStr},
                              {"detail", kStr},
                              {"t", kInt}});
  json request = object({{"value", kNum}});
  request["properties"]["duration_s"] = {{"type", "integer"}, {"minimum", 1}, {"maximum", 604800}};
  request["properties"]["reason"] = {{"type", "string"}, {"maxLength", 200}};
  request["additionalProperties"] = false;
  s["SetpointRequest"] = request;
  s["Control"] = object({{"point", kStr},
                         {"unit", kStr},
                         {"min", nullable(kNum)},
                         {"max", nullable(kNum)},
                         {"failsafe", nullable(kNum)},
                         {"release", kStr}});
  s["Setpoint"] = object({{"point", kStr},
                          {"value", kNum},
                          {"actor", kStr},
                          {"reason", kStr},
                          {"since_ms", kInt},
                          {"until_ms", kInt},
                          {"last_write_ms", kInt},
                          {"last_outcome", outcome},
                          {"last_detail", kStr},
                          {"keepalive_ms", kInt},
                          {"releasing", kBool}});
  s["DeviceSetpoints"] = object({{"device", kStr},
                                 {"controls", {{"type", "array"}, {"items", ref("Control")}}},
                                 {"setpoints", {{"type", "array"}, {"items", ref("Setpoint")}}}});
  s["Event"] = object({{"id", kInt},
                       {"t", kInt},
                       {"severity", {{"type", "string"}, {"enum", {"info", "warning", "alarm"}}}},
                       {"kind", kStr},
                       {"device", kStr},
                       {"point", kStr},
                       {"message", kStr}});
  s["AuditRecord"] = object({{"id", kInt},
                             {"t", kInt},
                             {"device", kStr},
                             {"point", kStr},
                             {"action", action},
                             {"value", nullable(kNum)},
                             {"readback", nullable(kNum)},
                             {"outcome", outcome},
                             {"actor", kStr},
                             {"reason", kStr},
                             {"detail", kStr}});
  return s;
}

// Roles and security of one route, from the route table (the one source of the role matrix).
void secure(json& operation, std::string_view method, std::string_view pattern) {
  for (const auto& r : route_table()) {
    if (r.method != method || r.pattern != pattern) continue;
    if (r.roles.empty()) {
      operation["security"] = json::array();
      return;
    }
    json roles = json::array();
    for (const Role role : r.roles) roles.push_back(std::string(to_string(role)));
    operation["x-gridlet-roles"] = roles;
    operation["responses"]["401"] = error_reply("Missing or unknown bearer token");
    operation["responses"]["403"] = error_reply("The token's role may not use this route");
  }
}

}  // namespace

std::string openapi_json(std::string_view version) {
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "Gridlet gateway API"},
                 {"version", std::string(version)},
                 {"description",
                  "Bearer tokens carry a role (viewer, installer, manager, aggregator); "
                  "x-gridlet-roles lists the roles allowed on each operation."}};
  doc["servers"] = json::array({{{"url", "/"}}});
  doc["components"]["securitySchemes"]["bearerAuth"] = {
      {"type", "http"}, {"scheme", "bearer"}, {"description", "glt_... token"}};
  doc["components"]["schemas"] = schemas();
  doc["security"] = json::array({{{"bearerAuth", json::array()}}});

  json& paths = doc["paths"];
  auto op = [&](std::string_view method, std::string_view path, std::string_view summary,
                json responses) -> json& {
    std::string m(method);
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
    json& o = paths[std::string(path)][m];
    o["summary"] = std::string(summary);
    o["responses"] = std::move(responses);
    secure(o, method, path);
    return o;
  };

  op("GET", "/api/v1/health", "Liveness and store/device summary",
     {{"200", ok_reply("Health; status is degraded (each reason in problems) when the store is "
                       "not ok, an enabled device is not online, or the tokens file could not "
                       "be used at the last reload (then every token is refused)",
                       ref("Health"))}});
  op("GET", "/api/v1/openapi.json", "This document",
     {{"200", ok_reply("OpenAPI 3.0.3 document", {{"type", "object"}})}});
  op("GET", "/api/v1/devices", "Configured devices with their live state",
     {{"200", ok_reply("Devices, ordered by id", {{"type", "array"}, {"items", ref("Device")}})}});
  op("GET", "/api/v1/devices/{id}", "One device and its points",
     {{"200", ok_reply("The device", ref("DeviceDetail"))},
      {"404", error_reply("No such device")}})["parameters"] = json::array({path_param("id", "Device id")});
  op("GET", "/api/v1/buses", "Health of every bus (Modbus and MQTT) and its devices",
     {{"200", ok_reply("Buses. Modbus (type tcp, rtu): requests, errors by kind, latency, adaptive "
                       "timeout, units online and backing off, devices with their poll counts and "
                       "SunSpec models. MQTT (type mqtt): the broker connection's counters and last "
                       "error, devices with their messages and rejections by reason",
                       {{"type", "array"}, {"items", {{"type", "object"}}}})}});
  op("GET", "/api/v1/points", "Latest value of every point",
     {{"200", ok_reply("Points; value is null unless quality is good or stale",
                       {{"type", "array"}, {"items", ref("Point")}})}})["parameters"] =
      json::array({query_param("device", "Only points of this device")});
  op("GET", "/api/v1/points/{device}/{point}/history", "Stored history of one point",
     {{"200", ok_reply("Rows, oldest first", ref("History"))},
      {"400", error_reply("Bad from/to/step, or more than kMaxHistoryRows rows: use a larger step")},
      {"404", error_reply("No stored series")},
      {"500", error_reply("The query failed (the message says why)")},
      {"503", error_reply("Store not open, or too many queries in progress (see Retry-After)")}})["parameters"] = {
      path_param("device", "Device id"),
      path_param("point", "Point name, e.g. inverter_three_phase.W or mppt.module[0].DCW",
                 kPublishedPointSchema),
      query_param("from", "Start, inclusive: Unix ms or RFC 3339 (default: to - 24 h)", kTimeParam),
      query_param("to", "End, exclusive: Unix ms or RFC 3339 (default: now)", kTimeParam),
      query_param("step", "Resolution: ms or 30s, 1m, 15m, 1h, 1d (default: finest stored)",
                  kStepParam)};
  json& samples =
      op("POST", "/api/v1/samples", "Ingest samples; answered after they are durably committed",
         {{"200", ok_reply("Committed", ref("SamplesResponse"))},
          {"400", error_reply("Invalid body; the message names the element and field")},
          {"413", error_reply("Body or sample count over the limit")},
          {"500", error_reply("The commit failed")},
          {"503", error_reply("Ingest queue full (unavailable) or disk full (no_space); see "
                              "Retry-After")}});
  samples["requestBody"] = {{"required", true}, {"content", json_content(ref("SamplesRequest"))}};
  op("GET", "/api/v1/devices/{id}/setpoints", "What a device lets the gateway control, and what it holds",
     {{"200", ok_reply("Controls with their ranges and fail-safes; setpoints held now",
                       ref("DeviceSetpoints"))},
      {"404", error_reply("No such device")},
      {"503", error_reply("No Modbus devices")}})["parameters"] = json::array({path_param("id", "Device id")});
  const json setpoint_params = {path_param("id", "Device id"),
                                path_param("point", "Control point, e.g. controls.WMaxLimPct")};
  json& put = op("PUT", "/api/v1/devices/{id}/setpoints/{point}",
                 "Write a setpoint (range-checked, written, read back) and hold it; answered once "
                 "the audit log holds the write",
                 {{"200", ok_reply("Applied: written and read back equal", ref("ControlEvent"))},
                  {"202", ok_reply("The device did not answer; the setpoint is held and written when "
                                   "it answers again",
                                   ref("ControlEvent"))},
                  {"400", error_reply("Invalid body")},
                  {"404", error_reply("No such enabled Modbus device")},
                  {"422", error_reply("Rejected before writing: unknown control, out of range, no "
                                      "nameplate yet")},
                  {"502", error_reply("The device refused the write (device_refused) or did not "
                                      "take it (device_mismatch): an alarm in the event log")},
                  {"503", error_reply("No Modbus devices")}});
  put["parameters"] = setpoint_params;
  put["requestBody"] = {{"required", true}, {"content", json_content(ref("SetpointRequest"))}};
  json& del = op("DELETE", "/api/v1/devices/{id}/setpoints/{point}",
                 "Release a setpoint to its fail-safe (or the device's own behaviour)",
                 {{"200", ok_reply("Released", ref("ControlEvent"))},
                  {"202", ok_reply("The device did not answer; its revert timer will release it",
                                   ref("ControlEvent"))},
                  {"400", error_reply("reason longer than 200 bytes")},
                  {"404", error_reply("No such enabled Modbus device")},
                  {"422", error_reply("No fail-safe value for this point")},
                  {"502", error_reply("The device refused or ignored the release")},
                  {"503", error_reply("No Modbus devices")}});
  del["parameters"] = setpoint_params;
  del["parameters"].push_back(
      query_param("reason", "For the audit log", {{"type", "string"}, {"maxLength", 200}}));
  const json log_params = {
      query_param("device", "Only this device", kNameSchema),
      query_param("before", "Only ids below this (paging backwards)",
                  {{"type", "integer"}, {"format", "int64"}, {"minimum", 0}}),
      query_param("limit", "Rows to return (default 100)",
                  {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}})};
  const json query_failed = error_reply("The query failed (the message says why)");
  const json query_busy =
      error_reply("Log not open, or too many queries in progress (see Retry-After)");
  op("GET", "/api/v1/events", "Event log: alarms and notices, newest first",
     {{"200", ok_reply("Events", {{"type", "array"}, {"items", ref("Event")}})},
      {"400", error_reply("Bad parameter")},
      {"500", query_failed},
      {"503", query_busy}})["parameters"] = log_params;
  op("GET", "/api/v1/audit", "Audit log: every write to a device, newest first",
     {{"200", ok_reply("Writes", {{"type", "array"}, {"items", ref("AuditRecord")}})},
      {"400", error_reply("Bad parameter")},
      {"500", query_failed},
      {"503", query_busy}})["parameters"] = log_params;
  op("GET", "/metrics", "Prometheus metrics",
     {{"200", {{"description", "Prometheus text exposition format 0.0.4"},
               {"content", {{"text/plain", {{"schema", kStr}}}}}}}});
  return doc.dump();
}

}  // namespace gridlet::api
