// POST /api/v1/samples: validation, then an enqueue that is answered once the batch committed.
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "adapters/device.hpp"
#include "gateway/api/limits.hpp"
#include "gateway/api/responses.hpp"
#include "gateway/api/router.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {
namespace {

using nlohmann::json;

bool valid_unit(std::string_view s) {
  if (s.size() > kMaxUnitLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != '"' && c != '\\';
  });
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

}  // namespace gridlet::api
