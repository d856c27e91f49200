// The router without a network: the whole role matrix, 404/405, history parameters, sample
// validation, device/point/health/metrics answers, and the OpenAPI document against the table.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "gateway/api/auth.hpp"
#include "gateway/api/limits.hpp"
#include "gateway/api/metrics.hpp"
#include "gateway/api/openapi.hpp"
#include "gateway/api/router.hpp"
#include "gateway/config/config.hpp"
#include "adapters/clock.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/store/event_log.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr Role kAllRoles[] = {Role::kViewer, Role::kInstaller, Role::kManager, Role::kAggregator};

// The role matrix as the specification states it, written independently of route_table().
const std::map<std::pair<std::string, std::string>, std::set<Role>> kExpectedMatrix = {
    {{"GET", "/api/v1/health"}, {}},
    {{"GET", "/api/v1/openapi.json"}, {}},
    {{"GET", "/api/v1/devices"}, {Role::kViewer, Role::kInstaller, Role::kManager}},
    {{"GET", "/api/v1/devices/{id}"}, {Role::kViewer, Role::kInstaller, Role::kManager}},
    {{"GET", "/api/v1/buses"}, {Role::kViewer, Role::kInstaller, Role::kManager}},
    {{"GET", "/api/v1/points"}, {Role::kViewer, Role::kInstaller, Role::kManager}},
    {{"GET", "/api/v1/points/{device}/{point}/history"},
     {Role::kViewer, Role::kInstaller, Role::kManager}},
    {{"POST", "/api/v1/samples"}, {Role::kInstaller}},
    {{"GET", "/api/v1/devices/{id}/setpoints"},
     {Role::kViewer, Role::kInstaller, Role::kManager, Role::kAggregator}},
    {{"PUT", "/api/v1/devices/{id}/setpoints/{point}"}, {Role::kInstaller, Role::kManager}},
    {{"DELETE", "/api/v1/devices/{id}/setpoints/{point}"}, {Role::kInstaller, Role::kManager}},
    {{"GET", "/api/v1/events"}, {Role::kViewer, Role::kInstaller, Role::kManager, Role::kAggregator}},
    {{"GET", "/api/v1/audit"}, {Role::kInstaller, Role::kManager}},
    {{"GET", "/metrics"}, {Role::kViewer, Role::kInstaller, Role::kManager}},
};

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("gridlet_api_router_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
    std::string error;
    for (Role r : kAllRoles) {
      auto t = TokenStore::create(dir_ / "tokens", r, std::string(to_string(r)), &error);
      ASSERT_TRUE(t) << error;
      tokens_[r] = *t;
    }
    token_store_ = TokenStore::load(dir_ / "tokens", &error);
    ASSERT_TRUE(token_store_) << error;

    config::DeviceConfig inv;
    inv.id = "inv1";
    inv.name = "Roof inverter";
    inv.kind = adapters::DeviceKind::kInverter;
    inv.bus = "rs485";
    inv.unit_id = 3;
    inv.profile = "sunspec";
    config::DeviceConfig bat = inv;
    bat.id = "bat1";
    bat.kind = adapters::DeviceKind::kBattery;
    bat.enabled = false;
    devices_.load({inv, bat});
    devices_.mark_online("inv1", clock_.now_ms() - 500);
    points_.update({"inv1", "W", "W", 1234.5, adapters::Quality::kGood, clock_.now_ms() - 500});
    points_.update({"inv1", "Hz", "Hz", 49.9, adapters::Quality::kError, clock_.now_ms() - 500});
    points_.update({"bat1", "SoC", "%", 55, adapters::Quality::kStale, clock_.now_ms() - 90000});

    config_.api.max_connections = 4;
    ApiContext ctx;
    ctx.config = &config_;
    ctx.clock = &clock_;
    ctx.devices = &devices_;
    ctx.points = &points_;
    ctx.store = nullptr;  // store-backed routes answer 503; the integration test covers them
    ctx.tokens = token_store_.get();
    ctx.metrics = &registry_;
    ctx.version = "1.2.3-test";
    ctx.started_ms = clock_.now_ms() - 42'000;
    // Both executors run inline: the test is single-threaded and deterministic.
    Router::Executors ex;
    ex.offload = [](Router::Task t) { t(); };
    ex.query = [](Router::Task t) { t(); };
    ex.to_loop = [](Router::Task t) { t(); };
    router_ = std::make_unique<Router>(ctx, ex);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Response call(const std::string& method, const std::string& target,
                std::optional<Role> role = std::nullopt, const std::string& body = {}) {
    Request req;
    req.method = method;
    req.target = target;
    if (role) req.authorization = "Bearer " + tokens_.at(*role);
    req.body = body;
    std::optional<Response> out;
    int calls = 0;
    router_->handle(req, [&](Response r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_EQ(calls, 1) << method << " " << target;
    return out.value_or(Response{});
  }

  json call_json(const std::string& method, const std::string& target, Role role,
                 int expect_status = 200, const std::string& body = {}) {
    const Response r = call(method, target, role, body);
    EXPECT_EQ(r.status, expect_status) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  fs::path dir_;
  std::map<Role, std::string> tokens_;
  std::unique_ptr<TokenStore> token_store_;
  config::Config config_;
  adapters::ManualClock clock_;
  runtime::DeviceRegistry devices_;
  runtime::PointStore points_{clock_};
  prometheus::Registry registry_;
  std::unique_ptr<Router> router_;
};

std::string concrete(std::string_view pattern) {
  std::string out(pattern);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"{id}", "inv1"}, {"{device}", "inv1"}, {"{point}", "W"}}) {
    if (auto p = out.find(from); p != std::string::npos) out.replace(p, from.size(), to);
  }
  return out;
}

const std::string kValidSamples =
    R"({"samples":[{"device":"inv1","point":"W","unit":"W","t":1700000000000,"value":1.5}]})";

TEST_F(RouterTest, RouteTableMatchesTheSpecifiedRoleMatrix) {
  std::map<std::pair<std::string, std::string>, std::set<Role>> table;
  for (const auto& r : route_table()) {
    table[{std::string(r.method), std::string(r.pattern)}] = r.roles;
  }
  EXPECT_EQ(table, kExpectedMatrix);
}

TEST_F(RouterTest, WholeRoleMatrix) {
  for (const auto& route : route_table()) {
    const std::string method(route.method);
    const std::string target = concrete(route.pattern);
    const std::string body = method == "POST" ? kValidSamples : "";
    SCOPED_TRACE(method + " " + target);

    const Response anonymous = call(method, target, std::nullopt, body);
    if (route.roles.empty()) {
      EXPECT_NE(anonymous.status, 401);
      EXPECT_NE(anonymous.status, 403);
    } else {
      EXPECT_EQ(anonymous.status, 401) << anonymous.body;
      EXPECT_EQ(header(anonymous, "WWW-Authenticate").rfind("Bearer", 0), 0u);
      EXPECT_EQ(json::parse(anonymous.body)["error"]["code"], "unauthorized");
    }
    for (Role role : kAllRoles) {
      SCOPED_TRACE(std::string(to_string(role)));
      const Response r = call(method, target, role, body);
      if (route.roles.empty() || route.roles.contains(role)) {
        EXPECT_NE(r.status, 401) << r.body;
        EXPECT_NE(r.status, 403) << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << r.body;
        EXPECT_EQ(json::parse(r.body)["error"]["code"], "forbidden");
      }
    }
  }
}

TEST_F(RouterTest, BadTokensAre401) {
  for (const std::string& auth :
       {std::string("Bearer glt_nope"), std::string("Basic dXNlcjpwYXNz"), std::string("Bearer"),
        std::string("Bearer "), "Token " + tokens_.at(Role::kViewer)}) {
    Request req{"GET", "/api/v1/devices", auth, "", ""};
    std::optional<Response> out;
    router_->handle(req, [&](Response r) { out = std::move(r); });
    ASSERT_TRUE(out);
    EXPECT_EQ(out->status, 401) << auth;
  }
  // Scheme is case-insensitive.
  Request req{"GET", "/api/v1/devices", "bearer " + tokens_.at(Role::kViewer), "", ""};
  std::optional<Response> out;
  router_->handle(req, [&](Response r) { out = std::move(r); });
  EXPECT_EQ(out->status, 200);
}

TEST_F(RouterTest, NoTokenStoreMeansEveryProtectedRouteIs401) {
  router_->set_tokens(nullptr);
  EXPECT_EQ(call("GET", "/api/v1/devices", Role::kManager).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/health").status, 200);
}

TEST_F(RouterTest, NotFoundAndMethodNotAllowed) {
  for (const char* target :
       {"/", "/api", "/api/v1", "/api/v1/nope", "/api/v1/devices/", "/api/v1/points/inv1/W",
        "/api/v1/points/inv1/W/history/x", "/metrics/x", "/api/v2/health"}) {
    const Response r = call("GET", target, Role::kManager);  // NOLINT
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "not_found");
  }
  Response r = call("POST", "/api/v1/devices", Role::kManager, "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET");
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "method_not_allowed");
  r = call("GET", "/api/v1/samples", Role::kInstaller);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "POST");
  r = call("DELETE", "/api/v1/health");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(call("GET", "no-slash").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/devices/%zz", Role::kViewer).status, 400);
}

TEST_F(RouterTest, Health) {
  const Response r = call("GET", "/api/v1/health");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  const json j = json::parse(r.body);
  EXPECT_EQ(j["status"], "degraded");  // no store
  EXPECT_EQ(j["version"], "1.2.3-test");
  EXPECT_EQ(j["uptime_s"], 42);
  EXPECT_EQ(j["store"]["status"], "unavailable");
  EXPECT_EQ(j["devices"], (json{{"total", 2}, {"enabled", 1}, {"online", 1}}));
  EXPECT_EQ(j["problems"], json::array({"store: unavailable"}));
  EXPECT_EQ(j["tokens"], (json{{"status", "ok"}}));
}

TEST_F(RouterTest, HealthIsDegradedWhileAnEnabledDeviceIsOffline) {
  devices_.mark_offline("inv1", "timeout");
  const json j = json::parse(call("GET", "/api/v1/health").body);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["problems"], json::array({"store: unavailable", "devices: 0 of 1 enabled devices online"}));
  EXPECT_EQ(j["devices"], (json{{"total", 2}, {"enabled", 1}, {"online", 0}}));
}

TEST_F(RouterTest, ATokenStoreThatRefusesAllIsShownInHealth) {
  auto refusing = TokenStore::refusing_all("tokens file /x is accessible by group or other");
  router_->set_tokens(refusing.get());
  EXPECT_EQ(call("GET", "/api/v1/devices", Role::kManager).status, 401);
  const json j = json::parse(call("GET", "/api/v1/health").body);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["tokens"]["status"], "refusing all tokens");
  EXPECT_EQ(j["tokens"]["error"], "tokens file /x is accessible by group or other");
  router_->set_tokens(token_store_.get());
}

TEST_F(RouterTest, Devices) {
  const json list = call_json("GET", "/api/v1/devices", Role::kViewer);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], "bat1");  // ordered by id
  const json& inv = list[1];
  EXPECT_EQ(inv["id"], "inv1");
  EXPECT_EQ(inv["name"], "Roof inverter");
  EXPECT_EQ(inv["kind"], std::string(adapters::to_string(adapters::DeviceKind::kInverter)));
  EXPECT_EQ(inv["bus"], "rs485");
  EXPECT_EQ(inv["unit_id"], 3);
  EXPECT_EQ(inv["profile"], "sunspec");
  EXPECT_EQ(inv["enabled"], true);
  EXPECT_EQ(inv["online"], true);
  EXPECT_EQ(inv["last_seen_ms"], clock_.now_ms() - 500);
  EXPECT_EQ(inv["errors"], 0);
  EXPECT_TRUE(inv["last_error"].is_null());
  EXPECT_TRUE(list[0]["last_seen_ms"].is_null());

  const json one = call_json("GET", "/api/v1/devices/inv%31", Role::kManager);
  EXPECT_EQ(one["id"], "inv1");
  ASSERT_EQ(one["points"].size(), 2u);
  EXPECT_EQ(one["points"][0]["point"], "Hz");
  EXPECT_TRUE(one["points"][0]["value"].is_null());  // quality error: no value
  EXPECT_EQ(one["points"][0]["quality"], "error");
  EXPECT_EQ(one["points"][1]["point"], "W");
  EXPECT_EQ(one["points"][1]["value"], 1234.5);

  const json missing = call_json("GET", "/api/v1/devices/ghost", Role::kViewer, 404);
  EXPECT_EQ(missing["error"]["code"], "not_found");
}

TEST_F(RouterTest, Points) {
  const json all = call_json("GET", "/api/v1/points", Role::kViewer);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (json{{"device", "bat1"},
                          {"point", "SoC"},
                          {"unit", "%"},
                          {"value", 55.0},
                          {"quality", "stale"},
                          {"timestamp_ms", clock_.now_ms() - 90000}}));
  const json inv = call_json("GET", "/api/v1/points?device=inv1", Role::kViewer);
  ASSERT_EQ(inv.size(), 2u);
  for (const auto& p : inv) EXPECT_EQ(p["device"], "inv1");
  EXPECT_EQ(call_json("GET", "/api/v1/points?device=none", Role::kViewer).size(), 0u);
}

TEST(HistoryParams, Times) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 25;
  tm.tm_hour = 10;
  const std::int64_t expected = static_cast<std::int64_t>(::timegm(&tm)) * 1000;
  EXPECT_EQ(parse_time_ms("2026-11-25T10:00:00Z"), expected);
  EXPECT_EQ(parse_time_ms("2026-11-25t10:00:00z"), expected);
  EXPECT_EQ(parse_time_ms("2026-11-25T10:00:00.250Z"), expected + 250);
  EXPECT_EQ(parse_time_ms("2026-11-25T10:00:00.5Z"), expected + 500);
  EXPECT_EQ(parse_time_ms("2026-11-25T10:00:00.123456Z"), expected + 123);
  EXPECT_EQ(parse_time_ms("2026-11-25T12:00:00+02:00"), expected);
  EXPECT_EQ(parse_time_ms("2026-11-25T09:30:00-00:30"), expected);
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time_ms("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(parse_time_ms("1764064800000"), 1764064800000);
  EXPECT_EQ(parse_time_ms("0"), 0);
  for (const char* bad :
       {"", "abc", "-5", "12.5", "2026-11-25", "2026-11-25T10:00:00", "2026-11-25T10:00Z",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-25T24:00:00Z",
        "2026-11-25T10:60:00Z", "2026-11-25T10:00:60Z", "2026-11-25T10:00:00.Z",
        "2026-11-25T10:00:00Zjunk", "2026-11-25T10:00:00+0200", "1969-12-31T23:59:59Z",
        "99999999999999999999"}) {
    EXPECT_FALSE(parse_time_ms(bad)) << bad;
  }
}

TEST(HistoryParams, Steps) {
  EXPECT_EQ(parse_step_ms("500"), 500);
  EXPECT_EQ(parse_step_ms("500ms"), 500);
  EXPECT_EQ(parse_step_ms("30s"), 30'000);
  EXPECT_EQ(parse_step_ms("1m"), 60'000);
  EXPECT_EQ(parse_step_ms("15m"), 900'000);
  EXPECT_EQ(parse_step_ms("1h"), 3'600'000);
  EXPECT_EQ(parse_step_ms("1d"), 86'400'000);
  for (const char* bad : {"", "0", "0m", "-1", "1x", "m", "1.5m", "1 m", "1M", "99999999999999d"}) {
    EXPECT_FALSE(parse_step_ms(bad)) << bad;
  }
}

TEST_F(RouterTest, HistoryBadParametersAre400NamingTheParameter) {
  const std::string base = "/api/v1/points/inv1/W/history";
  struct Case {
    std::string query;
    std::string param;
  };
  for (const Case& c : std::vector<Case>{
           {"?from=yesterday", "from:"},
           {"?to=2026-11-25", "to:"},
           {"?step=fast", "step:"},
           {"?step=0", "step:"},
           {"?from=2000&to=1000", "from:"},
           {"?from=1000&to=1000", "from:"},
           {"?from=0&to=2026-11-25T10:00:00Z", "from:"},     // longer than the maximum range
           {"?step=1s", "step:"},                            // 86400 rows over 24 h
           {"?from=2026-11-01T00:00:00Z&to=2026-11-25T00:00:00Z&step=1m", "step:"},
       }) {
    const json j = call_json("GET", base + c.query, Role::kViewer, 400);
    EXPECT_EQ(j["error"]["code"], "bad_request") << c.query;
    EXPECT_EQ(j["error"]["message"].get<std::string>().rfind(c.param, 0), 0u)
        << c.query << " -> " << j["error"]["message"];
  }
  // Too many rows suggests a step that fits (24 h / 1 m = 1440 rows).
  const json j = call_json("GET", base + "?step=1s", Role::kViewer, 400);
  EXPECT_NE(j["error"]["message"].get<std::string>().find("step=1m"), std::string::npos)
      << j["error"]["message"];
  // Valid parameters reach the (absent) store: 503.
  for (const char* q :
       {"", "?step=1m", "?from=2026-11-25T00:00:00Z&to=2026-11-25T10:00:00Z&step=15m",
        "?from=1764028800000&to=1764064800000", "?step=60000"}) {
    const Response r = call("GET", base + q, Role::kViewer);
    EXPECT_EQ(r.status, 503) << q << " " << r.body;
    EXPECT_EQ(header(r, "Retry-After"), std::to_string(kRetryAfterSeconds));
  }
}

TEST_F(RouterTest, SamplesValidation) {
  auto post = [&](const std::string& body) {
    return call("POST", "/api/v1/samples", Role::kInstaller, body);
  };
  auto sample = [](const std::string& fields) {
    return R"({"samples":[{"device":"d","point":"p","unit":"W","t":1,"value":1},{)" + fields +
           "}]}";
  };
  struct Case {
    std::string body;
    std::string message_start;
  };
  for (const Case& c : std::vector<Case>{
           {"not json", "body is not valid JSON"},
           {"[]", "body must be an object"},
           {R"({"samples":{}})", "body must be an object"},
           {R"({"samples":[]})", "samples: must not be empty"},
           {R"({"samples":[1]})", "samples[0]: must be an object"},
           {sample(R"("point":"p","t":1,"value":1)"), "samples[1].device"},
           {sample(R"("device":"","point":"p","t":1,"value":1)"), "samples[1].device"},
           {sample(R"("device":"a b","point":"p","t":1,"value":1)"), "samples[1].device"},
           {sample(R"("device":")" + std::string(65, 'x') + R"(","point":"p","t":1,"value":1)"),
            "samples[1].device"},
           {sample(R"("device":"d","point":7,"t":1,"value":1)"), "samples[1].point"},
           {sample(R"("device":"d","point":"p/q","t":1,"value":1)"), "samples[1].point"},
           {sample(R"("device":"d","point":"p","unit":"WWWWWWWWWWWWWWWWW","t":1,"value":1)"),
            "samples[1].unit"},
           {sample(R"("device":"d","point":"p","unit":5,"t":1,"value":1)"), "samples[1].unit"},
           {sample(R"("device":"d","point":"p","value":1)"), "samples[1].t"},
           {sample(R"("device":"d","point":"p","t":0,"value":1)"), "samples[1].t"},
           {sample(R"("device":"d","point":"p","t":-5,"value":1)"), "samples[1].t"},
           {sample(R"("device":"d","point":"p","t":1.5,"value":1)"), "samples[1].t"},
           {sample(R"("device":"d","point":"p","t":"1","value":1)"), "samples[1].t"},
           {sample(R"("device":"d","point":"p","t":18446744073709551615,"value":1)"),
            "samples[1].t"},
           {sample(R"("device":"d","point":"p","t":1)"), "samples[1].value"},
           {sample(R"("device":"d","point":"p","t":1,"value":"1")"), "samples[1].value"},
           {sample(R"("device":"d","point":"p","t":1,"value":null)"), "samples[1].value"},
           // JSON has no infinity: an overflowing literal is refused by the parser.
           {sample(R"("device":"d","point":"p","t":1,"value":1e999)"), "body is not valid JSON"},
       }) {
    const Response r = post(c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    const json j = json::parse(r.body);
    EXPECT_EQ(j["error"]["code"], "bad_request");
    EXPECT_EQ(j["error"]["message"].get<std::string>().rfind(c.message_start, 0), 0u)
        << c.body << " -> " << j["error"]["message"];
  }
  // Too many samples: 413.
  json many;
  many["samples"] = json::array();
  for (std::size_t i = 0; i <= kMaxSamplesPerRequest; ++i) {
    many["samples"].push_back({{"device", "d"}, {"point", "p"}, {"t", 1 + i}, {"value", 1}});
  }
  const Response big = post(many.dump());
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(json::parse(big.body)["error"]["code"], "payload_too_large");
  // Valid bodies (unit optional) reach the absent store: 503.
  EXPECT_EQ(post(kValidSamples).status, 503);
  EXPECT_EQ(post(R"({"samples":[{"device":"d.1","point":"p_2-x","t":5,"value":-1e10}]})").status,
            503);
}

TEST_F(RouterTest, MetricsExposition) {
  call("GET", "/api/v1/health");
  call("GET", "/api/v1/nope");
  const Response r = call("GET", "/metrics", Role::kViewer);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  for (const char* needle :
       {"gridlet_api_requests_total{code=\"200\",route=\"/api/v1/health\"} 1",
        "gridlet_api_requests_total{code=\"404\",route=\"unmatched\"} 1",
        "gridlet_api_request_seconds_bucket", "gridlet_api_connections 0",
        "process_resident_memory_bytes", "process_cpu_seconds_total",
        "process_start_time_seconds"}) {
    EXPECT_NE(r.body.find(needle), std::string::npos) << needle << "\n" << r.body;
  }
}

TEST_F(RouterTest, RequestBytesThatAreNotUtf8AreAnsweredNotThrown) {
  // Found by api_request_fuzz: an error message echoing a non-UTF-8 path made json::dump throw.
  const std::string target = "/api/v1/devices/pv\xff\xfe";
  const Response r = call("GET", target, Role::kViewer);
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(json::accept(r.body)) << r.body;
  EXPECT_NE(r.body.find("\xef\xbf\xbd"), std::string::npos) << "invalid bytes become U+FFFD";
}

TEST(ProcessStats, ParsesProcText) {
  // comm with spaces and a ')' inside; utime=250 stime=150 starttime=1000 (ticks).
  const std::string stat =
      "1234 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0 1000 123456 789";
  const auto s = parse_process_stats(stat, "5000 300 100 1 0 200 0\n", "cpu 1 2\nbtime 1700000000\n",
                                     100, 4096);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(s->resident_memory_bytes, 300.0 * 4096);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1700000010.0);
  EXPECT_FALSE(parse_process_stats("garbage", "1 2", "btime 1", 100, 4096));
  // Under ProcSubset=pid /proc/stat is unreadable: memory and CPU are still reported.
  const auto hidden = parse_process_stats(stat, "1 2", "", 100, 4096);
  ASSERT_TRUE(hidden);
  EXPECT_EQ(hidden->resident_memory_bytes, 2 * 4096.0);
  EXPECT_EQ(hidden->start_time_seconds, 0);
}

TEST(OpenApi, DescribesExactlyTheRouteTable) {
  const json doc = json::parse(openapi_json("9.9.9"));
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_EQ(doc["info"]["version"], "9.9.9");
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
  std::set<std::pair<std::string, std::string>> in_doc, in_table;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      in_doc.insert({m, path});
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  }
  for (const auto& r : route_table()) {
    in_table.insert({std::string(r.method), std::string(r.pattern)});
    std::string lower(r.method);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const json& op = doc["paths"][std::string(r.pattern)][lower];
    if (r.roles.empty()) {
      EXPECT_EQ(op["security"], json::array()) << r.pattern;
    } else {
      EXPECT_FALSE(op.contains("security")) << r.pattern;  // inherits bearerAuth
      EXPECT_EQ(op["x-gridlet-roles"].size(), r.roles.size()) << r.pattern;
      EXPECT_TRUE(op["responses"].contains("401"));
      EXPECT_TRUE(op["responses"].contains("403"));
    }
    // Every {param} of the pattern is declared as a path parameter.
    std::string_view p = r.pattern;
    for (auto open = p.find('{'); open != std::string_view::npos; open = p.find('{', open + 1)) {
      const auto name = std::string(p.substr(open + 1, p.find('}', open) - open - 1));
      bool declared = false;
      for (const auto& param : op["parameters"]) {
        declared |= param["in"] == "path" && param["name"] == name;
      }
      EXPECT_TRUE(declared) << r.pattern << " " << name;
    }
  }
  EXPECT_EQ(in_doc, in_table);
  // Every $ref points at a defined schema.
  const std::string text = doc.dump();
  for (auto pos = text.find("#/components/schemas/"); pos != std::string::npos;
       pos = text.find("#/components/schemas/", pos + 1)) {
    const auto start = pos + std::string("#/components/schemas/").size();
    const auto name = text.substr(start, text.find('"', start) - start);
    EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << name;
  }
}

// Queries wait on their own executor, at most kMaxQueriesInFlight at a time: one more is 503.
TEST(RouterQueries, AtMostTheLimitAreInFlightAndOneMoreIs503) {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("gridlet_router_queries_" +
                                                    std::to_string(::getpid()) + "_" +
                                                    std::to_string(rd()));
  fs::create_directories(dir);
  {
    std::string error;
    const auto token = TokenStore::create(dir / "tokens", Role::kViewer, "v", &error);
    ASSERT_TRUE(token) << error;
    auto tokens = TokenStore::load(dir / "tokens", &error);
    ASSERT_TRUE(tokens) << error;
    store::StoreOptions options;
    options.path = dir / "telemetry.db";
    store::OpenError open_error;
    auto store = store::TelemetryStore::open(options, &open_error);
    ASSERT_TRUE(store) << open_error.message;
    auto events = store::EventLog::open(*store, 100, &open_error);
    ASSERT_TRUE(events) << open_error.message;

    std::vector<Router::Task> held;  // queries accepted, not yet run
    ApiContext ctx;
    ctx.store = store.get();
    ctx.events = events.get();
    ctx.tokens = tokens.get();
    Router::Executors ex;
    ex.offload = [](Router::Task t) { t(); };
    ex.query = [&held](Router::Task t) { held.push_back(std::move(t)); };
    ex.to_loop = [](Router::Task t) { t(); };
    Router router(ctx, ex);

    std::vector<int> statuses;
    auto ask = [&](const std::string& target) {
      Request req;
      req.method = "GET";
      req.target = target;
      req.authorization = "Bearer " + *token;
      router.handle(req, [&](Response r) { statuses.push_back(r.status); });
    };
    for (std::size_t i = 0; i < kMaxQueriesInFlight; ++i) ask(i % 2 ? "/api/v1/events" : "/api/v1/points/x/y/history");
    EXPECT_TRUE(statuses.empty());
    ask("/api/v1/events");
    ASSERT_EQ(statuses, std::vector<int>{503});
    for (auto& t : held) t();
    held.clear();
    EXPECT_EQ(statuses.size(), 1 + kMaxQueriesInFlight);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), static_cast<long>(kMaxQueriesInFlight / 2));
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 404), static_cast<long>(kMaxQueriesInFlight / 2));
    // Answered queries free their slots.
    ask("/api/v1/events");
    ASSERT_EQ(held.size(), 1u);
    held.front()();
    EXPECT_EQ(statuses.back(), 200);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gridlet::api
