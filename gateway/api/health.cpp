// GET /api/v1/health, /api/v1/openapi.json and /metrics.
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>

#include "gateway/api/metrics.hpp"
#include "gateway/api/openapi.hpp"
#include "gateway/api/responses.hpp"
#include "gateway/api/router.hpp"
#include "adapters/clock.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {

using nlohmann::json;

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

void Router::metrics(Respond respond) {
  if (metrics_ == nullptr) return respond(unavailable("metrics are not enabled"));
  metrics_->refresh_process();
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  auto families = context_.metrics->Collect();
  if (context_.store != nullptr) {
    for (auto& f : store_metric_families(context_.store->stats())) families.push_back(std::move(f));
  }
  if (context_.mqtt_stats) {
    for (auto& f : mqtt_metric_families(context_.mqtt_stats())) families.push_back(std::move(f));
  }
  r.body = prometheus::TextSerializer().Serialize(families);
  respond(std::move(r));
}

}  // namespace gridlet::api
