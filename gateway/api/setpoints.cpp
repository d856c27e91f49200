// GET, PUT and DELETE of /api/v1/devices/{id}/setpoints: answered once the audit log holds the
// write.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "adapters/device.hpp"
#include "gateway/api/device_service.hpp"
#include "gateway/api/responses.hpp"
#include "gateway/api/router.hpp"
#include "adapters/clock.hpp"
#include "gateway/store/event_log.hpp"

namespace gridlet::api {
namespace {

using nlohmann::json;

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
  if (context_.device_service == nullptr) return respond(unavailable("setpoints are not available"));
  const std::string& id = params.at("id");
  const auto c = context_.device_service->controls(id);
  if (!c) return respond(error_response(404, "not_found", "no such device: " + id));
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json controls = json::array();
  for (const auto& info : c->controls) {
    controls.push_back({{"point", info.point}, {"unit", info.unit}, {"min", opt(info.min)},
                        {"max", opt(info.max)}, {"failsafe", opt(info.failsafe)}, {"release", info.release}});
  }
  json held = json::array();
  for (const auto& s : c->setpoints) {
    held.push_back({{"point", s.point}, {"value", s.value}, {"actor", s.actor}, {"reason", s.reason},
                    {"since_ms", s.since_ms}, {"until_ms", s.until_ms}, {"last_write_ms", s.last_write_ms},
                    {"last_outcome", std::string(adapters::to_string(s.last_outcome))},
                    {"last_detail", s.last_detail}, {"keepalive_ms", s.keepalive_ms},
                    {"releasing", s.releasing}});
  }
  respond(json_response(200, json{{"device", id}, {"controls", std::move(controls)}, {"setpoints", std::move(held)}}));
}

void Router::answer_control(store::EventLog* events, const Executors& executors,
                            const adapters::ControlEvent& ev, std::uint64_t audit_since, Respond respond) {
  // Answer only once the audit row is durable: what was acknowledged survives kill -9.
  executors.offload([events, ev, audit_since, respond, to_loop = executors.to_loop] {
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
  if (context_.device_service == nullptr) return respond(unavailable("setpoints are not available"));
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
  if (!context_.device_service->set(id, std::move(cmd), [events = context_.events, executors = executors_, since,
                                                   respond](const adapters::ControlEvent& ev) {
        answer_control(events, executors, ev, since, respond);
      })) {
    respond(error_response(404, "not_found", "no such enabled device: " + id));
  }
}

void Router::delete_setpoint(const Params& params, const Query& query, const TokenInfo& who,
                             Respond respond) {
  if (context_.device_service == nullptr) return respond(unavailable("setpoints are not available"));
  const std::string& id = params.at("id");
  const std::string& point = params.at("point");
  const auto reason_it = query.find("reason");
  const std::string reason = reason_it == query.end() ? "released through the API" : reason_it->second;
  if (reason.size() > kMaxReasonLength) {
    return respond(error_response(400, "bad_request", "reason must be at most 200 bytes"));
  }
  const std::string actor = std::string(to_string(who.role)) + ":" + who.name;
  const std::uint64_t since = context_.events ? context_.events->appended() : 0;
  if (!context_.device_service->release(id, point, actor, reason,
                                 [events = context_.events, executors = executors_, since,
                                  respond](const adapters::ControlEvent& ev) {
                                   answer_control(events, executors, ev, since, respond);
                                 })) {
    respond(error_response(404, "not_found", "no such enabled device: " + id));
  }
}

}  // namespace gridlet::api
