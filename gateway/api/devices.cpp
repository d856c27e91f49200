// GET /api/v1/devices, /api/v1/devices/{id}, /api/v1/buses and /api/v1/points: live state, all
// on the event loop.
#include <nlohmann/json.hpp>

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

}  // namespace gridlet::api
