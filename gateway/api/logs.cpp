// GET /api/v1/events and /api/v1/audit: pages of the event and audit logs, newest first.
#include <nlohmann/json.hpp>

#include "gateway/api/responses.hpp"
#include "gateway/api/router.hpp"
#include "gateway/store/event_log.hpp"

namespace gridlet::api {

using nlohmann::json;

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
