// GET /api/v1/devices, /api/v1/devices/{id}, /api/v1/buses and /api/v1/points: live state, all
// on the event loop.
#include <nlohmann/json.hpp>

#include "gateway/api/device_service.hpp"
#include "gateway/api/responses.hpp"
#include "gateway/api/router.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"

namespace gridlet::api {

using nlohmann::json;

void Router::devices(Respond respond) {
  json arr = json::array();
  if (context_.devices != nullptr) {
    for (const auto* d : context_.devices->list()) arr.push_back(device_json(*d));
  }
  respond(json_response(200, arr));
}

namespace {

// The /api/v1/buses view of one bus, its units and the devices polled on it.
json bus_json(const DeviceService::Bus& b) {
  const auto& s = b.settings;
  const auto& h = b.health;
  json units = json::array();
  for (const auto& [unit, u] : h.units) {
    units.push_back({{"unit", unit}, {"online", u.online}, {"requests", u.requests},
                     {"failures", u.failures}, {"last_ok_ms", u.last_ok_ms},
                     {"backoff_until_ms", u.backoff_until_ms}});
  }
  json devs = json::array();
  for (const auto& st : b.devices) {
    devs.push_back({{"id", st.id}, {"unit", st.unit}, {"profile", st.profile},
                    {"sunspec_discovered", st.discovered}, {"sunspec_models", st.models},
                    {"polls", st.polls}, {"poll_failures", st.poll_failures},
                    {"counter_discontinuities", st.counter_discontinuities},
                    {"out_of_range", st.out_of_range}, {"last_error", st.last_error}});
  }
  return {{"id", h.id},
          {"type", s.rtu ? "rtu" : "tcp"},
          {"endpoint", s.rtu ? s.device : s.host + ":" + std::to_string(s.port)},
          {"connected", h.connected},
          {"requests", h.requests},
          {"ok", h.ok},
          {"errors", h.errors},
          {"queue_depth", h.queue_depth},
          {"latency_avg_ms", h.latency_avg_ms},
          {"latency_max_ms", h.latency_max_ms},
          {"timeout_ms", h.timeout.count()},
          {"units", std::move(units)},
          {"devices", std::move(devs)}};
}

// The /api/v1/buses view of a broker connection and the devices on it.
json mqtt_bus_json(const DeviceService::MqttBus& b) {
  const auto& s = b.stats;
  json devs = json::array();
  for (const auto& d : b.devices) {
    devs.push_back({{"id", d.id},
                    {"profile", d.profile},
                    {"online", d.online},
                    {"available", d.available ? json(*d.available) : json(nullptr)},
                    {"messages", d.messages},
                    {"rejected", d.rejected},
                    {"last_message_ms", d.last_message_ms},
                    {"last_error", d.last_error}});
  }
  return {{"id", b.id},
          {"type", "mqtt"},
          {"endpoint", b.url},
          {"connected", s.connected},
          {"connects", s.connects},
          {"connect_failures", s.connect_failures},
          {"connections_lost", s.connections_lost},
          {"messages_in", s.messages_in},
          {"messages_dropped", s.messages_dropped},
          {"messages_out", s.messages_out},
          {"publish_failures", s.publish_failures},
          {"last_error", s.last_error},
          {"devices", std::move(devs)}};
}

}  // namespace

void Router::buses(Respond respond) {
  json arr = json::array();
  if (context_.device_service != nullptr) {
    for (const auto& b : context_.device_service->buses()) arr.push_back(bus_json(b));
    for (const auto& b : context_.device_service->mqtt_buses()) arr.push_back(mqtt_bus_json(b));
  }
  respond(json_response(200, arr));
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

}  // namespace gridlet::api
