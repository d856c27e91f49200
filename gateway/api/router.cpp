// The route table, authentication and dispatch. Each resource's handlers live in their own file
// (health.cpp, devices.cpp, history.cpp, samples.cpp, setpoints.cpp, logs.cpp); shared answers
// and JSON views in responses.hpp.
#include "gateway/api/router.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "gateway/api/limits.hpp"
#include "gateway/api/metrics.hpp"
#include "gateway/api/responses.hpp"

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

}  // namespace

const std::vector<RouteSpec>& route_table() { return kRoutes; }

Response error_response(int status, std::string_view code, std::string_view message) {
  json body;
  body["error"]["code"] = std::string(code);
  body["error"]["message"] = std::string(message);
  return json_response(status, body);
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

}  // namespace gridlet::api
