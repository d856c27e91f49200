// The API's request handling, free of Beast and Asio: a route table (method, path pattern, roles
// allowed) and one handle() that turns a Request into a Response. server.cpp does the HTTP.
// router.cpp holds the table and the dispatch; each resource's handlers have their own file
// (health.cpp, devices.cpp, history.cpp, samples.cpp, setpoints.cpp, logs.cpp).
//
// Role matrix (kRoutes in router.cpp is the one source; the OpenAPI document follows it):
//
//   method  path                                          viewer installer manager aggregator
//   GET     /api/v1/health                                public
//   GET     /api/v1/openapi.json                          public
//   GET     /api/v1/devices                                 x       x        x
//   GET     /api/v1/devices/{id}                            x       x        x
//   GET     /api/v1/points                                  x       x        x
//   GET     /api/v1/points/{device}/{point}/history         x       x        x
//   POST    /api/v1/samples                                         x
//   GET     /api/v1/devices/{id}/setpoints                  x       x        x        x
//   PUT     /api/v1/devices/{id}/setpoints/{point}                  x        x
//   DELETE  /api/v1/devices/{id}/setpoints/{point}                  x        x
//   GET     /api/v1/events                                  x       x        x        x
//   GET     /api/v1/audit                                           x        x
//   GET     /metrics                                        x       x        x
//
// Order of checks: unknown path -> 404, known path with another method -> 405 (with Allow), no or
// unknown bearer token -> 401, role not allowed -> 403, then the handler (400, 413, 503, 500...).
// Thread: handle() runs on the event loop. Store queries (history, event and audit logs) go to
// Executors::query, at most kMaxQueriesInFlight at a time (more are answered 503); other blocking
// work (waiting for an audit row) goes to Executors::offload. Ingest never leaves the loop: it only
// enqueues, and its answer comes from the store's writer once the batch committed. Results come
// back through Executors::to_loop, and respond is always called on the loop, exactly once (unless
// the server shuts down first and drops the task).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/api/auth.hpp"
#include "gateway/api/server.hpp"

namespace gridlet::api {

struct Request {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query, e.g. "/api/v1/points?device=inv1"
  std::string authorization;  // value of the Authorization header, "" if absent
  std::string content_type;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

using Respond = std::function<void(Response)>;

enum class Endpoint : std::uint8_t {
  kHealth, kOpenApi, kDevices, kDevice, kBuses, kPoints, kHistory, kSamples, kMetrics,
  kSetpoints, kSetpointPut, kSetpointDelete, kEvents, kAudit
};

struct RouteSpec {
  Endpoint endpoint;
  std::string_view method;
  std::string_view pattern;  // segments in braces capture, e.g. "/api/v1/devices/{id}"
  std::set<Role> roles;      // empty = public
};

// The route table, in the order routes are matched.
const std::vector<RouteSpec>& route_table();

// {"error":{"code":CODE,"message":MESSAGE}} with that status.
Response error_response(int status, std::string_view code, std::string_view message);

// Parsers of the history query parameters; exposed for tests. Each returns nullopt on bad input.
// A time: Unix milliseconds (digits) or RFC 3339 ("2026-11-25T10:00:00Z", fraction and numeric
// offset allowed).
std::optional<std::int64_t> parse_time_ms(std::string_view text);
// A step: milliseconds (digits) or a number with a unit: "500ms", "30s", "1m", "15m", "1h", "1d".
std::optional<std::int64_t> parse_step_ms(std::string_view text);

struct ApiMetrics;

class Router {
 public:
  using Task = std::function<void()>;
  struct Executors {
    std::function<void(Task)> offload;  // runs short blocking work off the event loop
    std::function<void(Task)> query;    // runs a store query off the event loop
    std::function<void(Task)> to_loop;  // runs the task on the event loop
  };

  Router(ApiContext context, Executors executors);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void handle(const Request& request, Respond respond);

  // Replaces the executors; only before the first handle() (the server wires itself in).
  void set_executors(Executors executors) { executors_ = std::move(executors); }
  void set_tokens(const TokenStore* tokens) { tokens_.store(tokens); }
  // The API metrics (null when ApiContext::metrics is null); the server counts connections.
  std::shared_ptr<ApiMetrics> metrics() const { return metrics_; }

 private:
  using Params = std::map<std::string, std::string, std::less<>>;  // path captures
  using Query = std::map<std::string, std::string, std::less<>>;   // query parameters

  void health(Respond respond);
  void openapi(Respond respond);
  void devices(Respond respond);
  void buses(Respond respond);
  void device(const Params& params, Respond respond);
  void points(const Query& query, Respond respond);
  void history(const Params& params, const Query& query, Respond respond);
  void samples(const Request& request, Respond respond);
  void metrics(Respond respond);
  void setpoints(const Params& params, Respond respond);
  void put_setpoint(const Params& params, const Request& request, const TokenInfo& who, Respond respond);
  void delete_setpoint(const Params& params, const Query& query, const TokenInfo& who, Respond respond);
  void logs(bool audit, const Query& query, Respond respond);
  // Runs `query` on Executors::query and responds with its answer, or answers 503 at once when
  // kMaxQueriesInFlight queries are already in progress.
  void run_query(Respond respond, std::function<Response()> query);
  // Answers a control outcome once the audit log holds it (called on a bus thread).
  // `audit_since`: EventLog::appended() before the command was given.
  // Runs on a bus thread: it takes what it needs by value and never touches the router.
  static void answer_control(store::EventLog* events, const Executors& executors,
                             const adapters::ControlEvent& ev, std::uint64_t audit_since, Respond respond);

  ApiContext context_;
  Executors executors_;
  std::atomic<const TokenStore*> tokens_;
  std::shared_ptr<ApiMetrics> metrics_;  // shared with in-flight responses
  // Queries accepted and not yet answered; shared with the query tasks.
  std::shared_ptr<std::atomic<std::size_t>> queries_in_flight_ =
      std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace gridlet::api
