// The HTTP API end to end: a real ApiServer on 127.0.0.1 (port 0) over a real TelemetryStore in a
// temporary directory, its io_context on its own thread, and a Beast HTTP client.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <sqlite3.h>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "gateway/api/auth.hpp"
#include "gateway/api/limits.hpp"
#include "gateway/api/router.hpp"
#include "gateway/api/server.hpp"
#include "gateway/config/config.hpp"
#include "adapters/clock.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/store/event_log.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {
namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

constexpr std::size_t kTestMaxConnections = 3;

struct HttpResult {
  int status = 0;
  std::string body;
  http::fields headers;
  bool keep_alive = false;
};

// A blocking HTTP/1.1 client on one connection; reads time out so a broken server fails the
// test instead of hanging it.
class Client {
 public:
  // from: the local address to connect from (any of 127.0.0.0/8 reaches the server).
  explicit Client(std::uint16_t port, const char* from = nullptr) : socket_(ioc_) {
    beast::error_code ec;
    if (from != nullptr) {
      socket_.open(tcp::v4(), ec);
      if (!ec) socket_.bind(tcp::endpoint(net::ip::make_address(from), 0), ec);
    }
    if (!ec) socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    connected_ = !ec;
    if (connected_) {
      timeval tv{10, 0};
      ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  }
  bool connected() const { return connected_; }

  HttpResult send(http::verb method, const std::string& target, const std::string& token = {},
                  const std::string& body = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    beast::error_code ec;
    http::write(socket_, req, ec);
    if (ec) return {};
    return read();
  }

  void write_raw(const std::string& bytes, beast::error_code& ec) {
    net::write(socket_, net::buffer(bytes), ec);
  }

  // Writes raw bytes, then reads one response (status 0 if none came).
  HttpResult raw(const std::string& bytes) {
    beast::error_code ec;
    net::write(socket_, net::buffer(bytes), ec);
    return read();
  }

  HttpResult read() {
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(socket_, buffer_, parser, ec);
    if (ec) return {};
    auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    out.headers = res.base();
    out.keep_alive = res.keep_alive();
    return out;
  }

  // True when the server closed the connection (EOF or reset) within the read timeout.
  bool closed_by_peer() {
    char c;
    beast::error_code ec;
    socket_.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("gridlet_api_server_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);

    std::string error;
    for (Role r : {Role::kViewer, Role::kInstaller, Role::kManager, Role::kAggregator}) {
      auto t = TokenStore::create(dir_ / "tokens", r, std::string(to_string(r)), &error);
      ASSERT_TRUE(t) << error;
      tokens_[r] = *t;
    }
    token_store_ = TokenStore::load(dir_ / "tokens", &error);
    ASSERT_TRUE(token_store_) << error;

    store::StoreOptions options;
    options.path = dir_ / "telemetry.db";
    options.commit_interval = std::chrono::milliseconds(20);
    options.queue_limit_samples = queue_limit_samples_;
    options.test_max_page_count = max_page_count_;
    store::OpenError open_error;
    store_ = store::TelemetryStore::open(options, &open_error);
    ASSERT_TRUE(store_) << open_error.message;
    event_log_ = store::EventLog::open(*store_, 1000, &open_error);
    ASSERT_TRUE(event_log_) << open_error.message;

    config::DeviceConfig inv;
    inv.id = "inv1";
    inv.name = "Inverter";
    inv.kind = adapters::DeviceKind::kInverter;
    devices_.load({inv});
    config_.api.max_connections = max_connections_;
    config_.api.max_connections_per_address = max_connections_per_address_;
    config_.api.max_header_connections = max_header_connections_;
    config_.api.header_timeout = header_timeout_;

    ApiContext ctx;
    ctx.config = &config_;
    ctx.clock = &clock_;
    ctx.devices = &devices_;
    ctx.points = &points_;
    ctx.store = store_.get();
    ctx.events = event_log_.get();
    ctx.tokens = token_store_.get();
    ctx.metrics = &registry_;
    ctx.version = "0.1.0-test";
    ctx.started_ms = clock_.now_ms();
    server_ = std::make_unique<ApiServer>(ioc_, ctx);
    const std::string err = server_->start("127.0.0.1", 0);
    ASSERT_EQ(err, "");
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    loop_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    // Graceful stop: with the acceptor and every session closed, run() returns by itself.
    if (loop_.joinable()) loop_.join();
    server_.reset();
    event_log_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  HttpResult get(const std::string& target, std::optional<Role> role = std::nullopt) {
    Client c(port_);
    return c.send(http::verb::get, target, role ? tokens_.at(*role) : "");
  }

  std::int64_t now_ms() const { return clock_.now_ms(); }

  std::size_t queue_limit_samples_ = 100000;
  std::uint32_t max_page_count_ = 0;  // > 0: the store's file is "full" at this many pages
  std::size_t max_connections_ = kTestMaxConnections;
  std::size_t max_connections_per_address_ = kDefaultMaxConnectionsPerAddress;
  std::size_t max_header_connections_ = kDefaultMaxHeaderConnections;
  std::chrono::milliseconds header_timeout_ = kDefaultHeaderTimeout;
  fs::path dir_;
  std::map<Role, std::string> tokens_;
  std::unique_ptr<TokenStore> token_store_;
  prometheus::Registry registry_;
  adapters::SystemClock clock_;
  config::Config config_;
  runtime::DeviceRegistry devices_;
  runtime::PointStore points_{clock_};
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(ioc_);
  std::unique_ptr<store::TelemetryStore> store_;
  std::unique_ptr<store::EventLog> event_log_;
  std::unique_ptr<ApiServer> server_;
  std::uint16_t port_ = 0;
  std::thread loop_;
};

std::string samples_body(const std::string& device, const std::string& point,
                         const std::vector<std::pair<std::int64_t, double>>& values) {
  json j;
  j["samples"] = json::array();
  for (const auto& [t, v] : values) {
    j["samples"].push_back({{"device", device}, {"point", point}, {"unit", "W"}, {"t", t}, {"value", v}});
  }
  return j.dump();
}

TEST_F(ApiServerTest, Health) {
  const auto r = get("/api/v1/health");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers[http::field::content_type], "application/json");
  const json j = json::parse(r.body);
  // Its one device is configured but has never answered.
  EXPECT_EQ(j["status"], "degraded") << r.body;
  EXPECT_EQ(j["problems"], json::array({"devices: 0 of 1 enabled devices online"}));
  EXPECT_EQ(j["version"], "0.1.0-test");
  EXPECT_EQ(j["store"]["status"], "ok");
  EXPECT_EQ(j["devices"]["total"], 1);
}

TEST_F(ApiServerTest, UnauthorizedOverTheWire) {
  const auto r = get("/api/v1/devices");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(std::string(r.headers[http::field::www_authenticate]).rfind("Bearer", 0), 0u);
  EXPECT_EQ(get("/api/v1/devices", Role::kAggregator).status, 403);
  EXPECT_EQ(get("/api/v1/devices", Role::kViewer).status, 200);
}

TEST_F(ApiServerTest, IngestIsDurableThenReadableAsHistory) {
  const std::int64_t t0 = now_ms() - 10'000;
  Client c(port_);
  const auto posted = c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                             samples_body("inv1", "W", {{t0, 100}, {t0 + 1000, 250.5}, {t0 + 2000, 175}}));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(json::parse(posted.body), (json{{"accepted", 3}, {"committed", true}}));
  // Acknowledged means committed: the store already counts them, without a flush.
  EXPECT_GE(store_->stats().samples_committed, 3u);

  const auto hist = c.send(http::verb::get,
                           "/api/v1/points/inv1/W/history?from=" + std::to_string(t0 - 1000) +
                               "&to=" + std::to_string(t0 + 5000),
                           tokens_.at(Role::kViewer));
  ASSERT_EQ(hist.status, 200) << hist.body;
  const json h = json::parse(hist.body);
  EXPECT_EQ(h["device"], "inv1");
  EXPECT_EQ(h["point"], "W");
  EXPECT_EQ(h["unit"], "W");
  EXPECT_EQ(h["tier"], "raw");
  ASSERT_EQ(h["rows"].size(), 3u) << hist.body;
  EXPECT_EQ(h["rows"][0]["t"], t0);
  EXPECT_EQ(h["rows"][1]["last"], 250.5);
  EXPECT_EQ(h["rows"][2]["count"], 1);

  // The default range (last 24 h) holds them too.
  const auto recent = c.send(http::verb::get, "/api/v1/points/inv1/W/history",
                             tokens_.at(Role::kManager));
  ASSERT_EQ(recent.status, 200) << recent.body;
  EXPECT_EQ(json::parse(recent.body)["rows"].size(), 3u);

  // The newest sample is also the point's live value.
  const auto pts = c.send(http::verb::get, "/api/v1/points?device=inv1", tokens_.at(Role::kViewer));
  ASSERT_EQ(pts.status, 200);
  const json p = json::parse(pts.body);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["value"], 175.0);
  EXPECT_EQ(p[0]["quality"], "good");
  EXPECT_EQ(p[0]["timestamp_ms"], t0 + 2000);

  // Unknown series: 404.
  EXPECT_EQ(c.send(http::verb::get, "/api/v1/points/inv1/nope/history", tokens_.at(Role::kViewer))
                .status,
            404);
}

TEST_F(ApiServerTest, MetricsIncludeStoreApiAndProcess) {
  Client c(port_);
  ASSERT_EQ(c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                   samples_body("inv1", "W", {{now_ms(), 1}}))
                .status,
            200);
  const auto r = c.send(http::verb::get, "/metrics", tokens_.at(Role::kViewer));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers[http::field::content_type], "text/plain; version=0.0.4");
  // The store's counters, exported by the gateway at scrape time.
  for (const char* needle :
       {"gridlet_store_samples_committed_total 1\n", "gridlet_store_batches_total 1\n",
        "gridlet_store_series 1\n", "gridlet_store_samples_failed_total 0\n",
        "gridlet_store_batches_failed_total 0\n", "gridlet_store_queue_depth 0\n",
        "gridlet_store_ok 1\n", "# TYPE gridlet_store_samples_committed_total counter",
        "gridlet_store_file_bytes ", "gridlet_store_commit_seconds_total "}) {
    EXPECT_NE(r.body.find(needle), std::string::npos) << needle;
  }
  for (const char* needle :
       {"process_resident_memory_bytes",
        "process_cpu_seconds_total", "process_start_time_seconds",
        "gridlet_api_requests_total{code=\"200\",route=\"/api/v1/samples\"} 1",
        "gridlet_api_connections 1", "gridlet_api_request_seconds_count"}) {
    EXPECT_NE(r.body.find(needle), std::string::npos) << needle;
  }
}

TEST_F(ApiServerTest, EveryOpenApiPathIsServed) {
  Client c(port_);
  ASSERT_EQ(c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                   samples_body("inv1", "W", {{now_ms() - 1000, 5}}))
                .status,
            200);
  const auto doc_res = c.send(http::verb::get, "/api/v1/openapi.json");
  ASSERT_EQ(doc_res.status, 200);
  const json doc = json::parse(doc_res.body);
  int operations = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string target = path;
      for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
               {"{id}", "inv1"}, {"{device}", "inv1"}, {"{point}", "W"}}) {
        if (auto p = target.find(from); p != std::string::npos) target.replace(p, from.size(), to);
      }
      std::string token;
      if (op.contains("x-gridlet-roles")) {
        const auto role = parse_role(op["x-gridlet-roles"][0].get<std::string>());
        ASSERT_TRUE(role);
        token = tokens_.at(*role);
      }
      HttpResult r;
      if (method == "post") {
        r = c.send(http::verb::post, target, token, samples_body("inv1", "W", {{now_ms(), 6}}));
      } else if (method == "put") {
        r = c.send(http::verb::put, target, token, R"({"value": 50})");
      } else if (method == "delete") {
        r = c.send(http::verb::delete_, target, token);
      } else {
        r = c.send(http::verb::get, target, token);
      }
      if (path.find("/setpoints") != std::string::npos) {
        // This server has no Modbus fleet: the answer must be one the document promises.
        EXPECT_TRUE(op["responses"].contains(std::to_string(r.status)))
            << method << " " << target << ": " << r.status << " " << r.body;
      } else {
        EXPECT_EQ(r.status, 200) << method << " " << target << ": " << r.body;
      }
      ++operations;
    }
  }
  EXPECT_EQ(operations, static_cast<int>(route_table().size()));
}

class ApiServerSmallQueueTest : public ApiServerTest {
 protected:
  void SetUp() override {
    queue_limit_samples_ = 2;
    ApiServerTest::SetUp();
  }
};

TEST_F(ApiServerSmallQueueTest, FullIngestQueueIs503WithRetryAfter) {
  Client c(port_);
  const auto r = c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                        samples_body("inv1", "W", {{now_ms() - 3, 1}, {now_ms() - 2, 2}, {now_ms() - 1, 3}}));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.headers[http::field::retry_after], std::to_string(kRetryAfterSeconds));
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unavailable");
  // Nothing of a refused batch reaches the live view either.
  EXPECT_EQ(c.send(http::verb::get, "/api/v1/points", tokens_.at(Role::kViewer)).body, "[]");
  // A batch that fits is accepted.
  EXPECT_EQ(c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                   samples_body("inv1", "W", {{now_ms(), 4}}))
                .status,
            200);
}

class ApiServerFullDiskTest : public ApiServerTest {
 protected:
  void SetUp() override {
    max_page_count_ = 40;  // the schema and a few samples fit, a large batch does not
    ApiServerTest::SetUp();
  }
};

TEST_F(ApiServerFullDiskTest, IngestOnAFullDiskIs503WithRetryAfter) {
  std::vector<std::pair<std::int64_t, double>> values;
  const std::int64_t t0 = now_ms() - 20'000;
  for (int i = 0; i < 10000; ++i) values.emplace_back(t0 + i, i);
  Client c(port_);
  const auto r = c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                        samples_body("inv1", "W", values));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.headers[http::field::retry_after], std::to_string(kRetryAfterSeconds));
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "no_space") << r.body;
  const json health = json::parse(c.send(http::verb::get, "/api/v1/health").body);
  EXPECT_EQ(health["store"]["status"].get<std::string>().rfind("no space", 0), 0u) << health.dump();
  const auto metrics = c.send(http::verb::get, "/metrics", tokens_.at(Role::kViewer)).body;
  EXPECT_NE(metrics.find("gridlet_store_batches_failed_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("gridlet_store_samples_failed_total 10000\n"), std::string::npos);
  EXPECT_NE(metrics.find("gridlet_store_ok 0\n"), std::string::npos);
}

// A query that fails is a 500 that says so, not a 200 with no rows.
TEST_F(ApiServerTest, FailedQueriesAre500WithTheError) {
  Client c(port_);
  ASSERT_EQ(c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                   samples_body("inv1", "W", {{now_ms() - 1000, 5}}))
                .status,
            200);
  ASSERT_EQ(c.send(http::verb::get, "/api/v1/points/inv1/W/history", tokens_.at(Role::kViewer)).status,
            200);
  ASSERT_EQ(c.send(http::verb::get, "/api/v1/audit", tokens_.at(Role::kManager)).status, 200);
  // Break the file under the running server, as damage would.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "telemetry.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE samples; DROP TABLE audit;", nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  const auto hist = c.send(http::verb::get, "/api/v1/points/inv1/W/history", tokens_.at(Role::kViewer));
  EXPECT_EQ(hist.status, 500) << hist.body;
  EXPECT_NE(json::parse(hist.body)["error"]["message"].get<std::string>().find("history query failed"),
            std::string::npos)
      << hist.body;
  const auto audit = c.send(http::verb::get, "/api/v1/audit", tokens_.at(Role::kManager));
  EXPECT_EQ(audit.status, 500) << audit.body;
  EXPECT_NE(audit.body.find("audit log query failed"), std::string::npos) << audit.body;
}

class ApiServerLoadTest : public ApiServerTest {
 protected:
  void SetUp() override {
    max_connections_ = 32;
    ApiServerTest::SetUp();
  }
};

// Viewers' heavy history queries run on their own workers, bounded; the installer's ingest does
// not wait behind them.
TEST_F(ApiServerLoadTest, IngestStaysPromptWhileHeavyHistoryQueriesRun) {
  // 150,000 raw samples, one per second: a 30 s step over all of them aggregates every one.
  const std::int64_t end = now_ms() - 60'000;
  const std::int64_t start = end - 150'000'000;
  const store::SeriesId id = store_->series("inv1", "W", "W");
  ASSERT_NE(id, 0);
  std::vector<store::Sample> preload;
  for (std::int64_t t = start; t < end; t += 1000) preload.push_back({id, t, static_cast<double>(t % 977)});
  for (std::size_t at = 0; at < preload.size(); at += 50'000) {
    ASSERT_TRUE(store_->append(std::span(preload).subspan(at, std::min<std::size_t>(50'000, preload.size() - at))));
    store_->flush();
  }
  const std::string heavy = "/api/v1/points/inv1/W/history?from=" + std::to_string(start) +
                            "&to=" + std::to_string(end) + "&step=30s";

  using Clock = std::chrono::steady_clock;
  auto ingest_seconds = [&](int i) {
    Client c(port_);
    const auto t0 = Clock::now();
    const auto r = c.send(http::verb::post, "/api/v1/samples", tokens_.at(Role::kInstaller),
                          samples_body("inv1", "W2", {{now_ms() - 100 + i, 1.0 * i}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  Client probe(port_);
  const auto q0 = Clock::now();
  ASSERT_EQ(probe.send(http::verb::get, heavy, tokens_.at(Role::kViewer)).status, 200);
  const double query_seconds = std::chrono::duration<double>(Clock::now() - q0).count();
  std::vector<double> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(ingest_seconds(i));

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, refused{0}, other{0};
  std::vector<std::thread> viewers;
  for (int v = 0; v < 6; ++v) {
    viewers.emplace_back([&] {
      while (!stop.load()) {
        Client c(port_);
        const auto r = c.send(http::verb::get, heavy, tokens_.at(Role::kViewer));
        if (r.status == 200) {
          answered.fetch_add(1);
        } else if (r.status == 503 && r.headers.count(http::field::retry_after) == 1) {
          refused.fetch_add(1);
          return;  // a client that honours Retry-After is gone for a second: enough for the test
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  // Wait until the viewers keep the query workers busy.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (answered.load() < 2 && Clock::now() < deadline) std::this_thread::yield();
  std::vector<double> loaded;
  for (int i = 0; i < 10; ++i) loaded.push_back(ingest_seconds(100 + i));
  stop = true;
  for (auto& t : viewers) t.join();

  std::printf("heavy query %.3f s; ingest median idle %.3f s, under %d viewers %.3f s (max %.3f s); "
              "queries answered %d, refused %d\n",
              query_seconds, median(idle), static_cast<int>(viewers.size()), median(loaded),
              *std::max_element(loaded.begin(), loaded.end()), answered.load(), refused.load());
  EXPECT_GE(answered.load(), 2);
  EXPECT_EQ(other.load(), 0);
  // Generous: ingest must not queue behind the queries (each takes query_seconds).
  EXPECT_LT(median(loaded), std::max(0.5, query_seconds)) << "idle median " << median(idle);
}

TEST_F(ApiServerTest, OversizedBodyIs413) {
  Client c(port_);
  const auto r = c.raw("POST /api/v1/samples HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                       tokens_.at(Role::kInstaller) +
                       "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(kMaxBodyBytes + 1) + "\r\n\r\n{\"samples\":[");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "payload_too_large");
  EXPECT_FALSE(r.keep_alive);

  // A body actually sent in full (chunked, so no Content-Length tells in advance) also stops at
  // the limit.
  Client c2(port_);
  std::string chunked = "POST /api/v1/samples HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        tokens_.at(Role::kInstaller) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(256 * 1024, 'x');
  for (int i = 0; i < 5; ++i) chunked += "40000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(c2.raw(chunked).status, 413);
  EXPECT_EQ(get("/api/v1/health").status, 200);
}

TEST_F(ApiServerTest, HeaderTooLargeIs431) {
  Client c(port_);
  const auto r = c.raw("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                       std::string(kMaxHeaderBytes, 'p') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
}

TEST_F(ApiServerTest, MalformedRequestIs400AndServerKeepsServing) {
  for (const std::string bad : {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                                "GET /api/v1/health HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    Client c(port_);
    const auto r = c.raw(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(c.closed_by_peer());
  }
  EXPECT_EQ(get("/api/v1/health").status, 200);
}

TEST_F(ApiServerTest, ParserAnswersAreCountedInMetrics) {
  EXPECT_EQ(Client(port_).raw("GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(Client(port_).raw("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                              std::string(kMaxHeaderBytes, 'p') + "\r\n\r\n")
                .status,
            431);
  EXPECT_EQ(Client(port_)
                .raw("POST /api/v1/samples HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(kMaxBodyBytes + 1) + "\r\n\r\n{")
                .status,
            413);
  Client c(port_);
  const auto r = c.send(http::verb::get, "/metrics", tokens_.at(Role::kViewer));
  ASSERT_EQ(r.status, 200);
  for (const char* needle : {"gridlet_api_requests_total{code=\"400\",route=\"unparsed\"} 1",
                             "gridlet_api_requests_total{code=\"431\",route=\"unparsed\"} 1",
                             "gridlet_api_requests_total{code=\"413\",route=\"unparsed\"} 1"}) {
    EXPECT_NE(r.body.find(needle), std::string::npos) << needle;
  }
}

TEST_F(ApiServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Client c(port_);
  for (int i = 0; i < 5; ++i) {
    const auto r = c.send(http::verb::get, "/api/v1/health");
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(c.send(http::verb::get, "/api/v1/nope").status, 404);
  EXPECT_EQ(c.send(http::verb::delete_, "/api/v1/health").status, 405);
  EXPECT_EQ(c.send(http::verb::get, "/api/v1/health").status, 200);
}

TEST_F(ApiServerTest, AtTheConnectionLimitTheLongestIdleConnectionMakesRoom) {
  std::vector<std::unique_ptr<Client>> open;
  for (std::size_t i = 0; i < kTestMaxConnections; ++i) {
    open.push_back(std::make_unique<Client>(port_));
    ASSERT_EQ(open.back()->send(http::verb::get, "/api/v1/health").status, 200);
  }
  // All of them wait for their next request: the one idle longest is closed for the newcomer.
  Client extra(port_);
  EXPECT_EQ(extra.send(http::verb::get, "/api/v1/health").status, 200);
  EXPECT_TRUE(open[0]->closed_by_peer());
  EXPECT_EQ(open[1]->send(http::verb::get, "/api/v1/health").status, 200);
}

class ApiServerSlowClientTest : public ApiServerTest {
 protected:
  void SetUp() override {
    max_connections_ = 8;
    max_connections_per_address_ = 3;
    max_header_connections_ = 6;
    header_timeout_ = std::chrono::milliseconds(1500);
    ApiServerTest::SetUp();
  }

  // Opens a connection from `from` that sends part of a request line and headers, then nothing.
  std::unique_ptr<Client> slow_client(const char* from) {
    auto c = std::make_unique<Client>(port_, from);
    beast::error_code ec;
    c->write_raw("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ", ec);
    return c;
  }

  double metric(const std::string& name) {
    Client c(port_);
    const auto r = c.send(http::verb::get, "/metrics", tokens_.at(Role::kViewer));
    const auto at = r.body.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(r.body.substr(at + name.size() + 2));
  }
};

TEST_F(ApiServerSlowClientTest, OneAddressGetsAtMostItsShareAnd503WithRetryAfter) {
  std::vector<std::unique_ptr<Client>> mine;
  for (std::size_t i = 0; i < 3; ++i) {
    mine.push_back(std::make_unique<Client>(port_, "127.0.0.2"));
    ASSERT_EQ(mine.back()->send(http::verb::get, "/api/v1/health").status, 200);
  }
  Client extra(port_, "127.0.0.2");
  const auto refused = extra.read();
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.headers[http::field::retry_after], std::to_string(kRetryAfterSeconds));
  EXPECT_NE(refused.body.find("from this address"), std::string::npos) << refused.body;
  // Another address is served, and the first one's connections still work.
  EXPECT_EQ(Client(port_, "127.0.0.3").send(http::verb::get, "/api/v1/health").status, 200);
  EXPECT_EQ(mine[0]->send(http::verb::get, "/api/v1/health").status, 200);
}

// Slowloris: connections that trickle headers and never finish must not lock out a client that
// sends its requests promptly, neither from one address nor from many.
TEST_F(ApiServerSlowClientTest, SlowHeadersDoNotLockOutPromptClients) {
  const std::vector<const char*> attackers{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5",
                                           "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"};
  std::vector<std::unique_ptr<Client>> slow;
  for (int round = 0; round < 3; ++round) {
    for (const char* a : attackers) slow.push_back(slow_client(a));
  }
  constexpr int kRequests = 40;
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    // The attack goes on between the requests.
    slow.push_back(slow_client(attackers[static_cast<std::size_t>(i) % attackers.size()]));
    slow.push_back(slow_client(attackers[static_cast<std::size_t>(i + 3) % attackers.size()]));
    Client c(port_);
    if (c.send(http::verb::get, "/api/v1/health").status == 200) ++answered;
  }
  EXPECT_EQ(answered, kRequests);
  EXPECT_GT(metric("gridlet_api_connections_evicted_total"), 0);
}

// The header timeout (here 1.5 s), not the longer body timeout, closes a connection that never
// finishes its headers.
TEST_F(ApiServerSlowClientTest, HeaderTimeoutClosesASlowConnection) {
  Client c(port_);
  beast::error_code ec;
  c.write_raw("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n", ec);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());  // the client gives up after 10 s
  EXPECT_LT(std::chrono::steady_clock::now() - started, kReadTimeout);
}

TEST_F(ApiServerTest, StopClosesIdleConnectionsAndRefusesNewOnes) {
  Client idle(port_);
  ASSERT_EQ(idle.send(http::verb::get, "/api/v1/health").status, 200);
  server_->stop();
  EXPECT_TRUE(idle.closed_by_peer());
  Client late(port_);
  EXPECT_TRUE(!late.connected() || late.closed_by_peer());
}

TEST_F(ApiServerTest, TokensCanBeReplacedLive) {
  EXPECT_EQ(get("/api/v1/devices", Role::kViewer).status, 200);
  std::string error;
  ASSERT_TRUE(TokenStore::revoke(dir_ / "tokens", "viewer", &error)) << error;
  auto reloaded = TokenStore::load(dir_ / "tokens", &error);
  ASSERT_TRUE(reloaded) << error;
  std::promise<void> done;
  net::post(ioc_, [&] {
    server_->set_tokens(reloaded.get());
    done.set_value();
  });
  done.get_future().wait();
  EXPECT_EQ(get("/api/v1/devices", Role::kViewer).status, 401);
  EXPECT_EQ(get("/api/v1/devices", Role::kManager).status, 200);
  server_->stop();  // before `reloaded` goes away
}

}  // namespace
}  // namespace gridlet::api
