// End-to-end tests of the real gatewayd binary: CLI, every API route, reload, shutdown, and
// kill -9 during heavy ingest.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/sunspec_discovery.hpp"
#include "adapters/modbus/unit_register_reader.hpp"
#include "gateway/store/event_log.hpp"
#include "gateway/store/telemetry_store.hpp"
#include "test_support.hpp"
#include "tests/integration/gatewayd_support.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/unit/ha_rules.hpp"
#include "adapters/mqtt/client.hpp"

namespace gridlet {
namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::create_token;
using gridlet::testing::Daemon;
using gridlet::testing::kGatewayd;
using gridlet::testing::run_cli;
using gridlet::testing::http;
using gridlet::testing::TempDir;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::string config_text(const std::filesystem::path& data_dir, const std::string& level = "info") {
  return "[site]\nid = \"it\"\nname = \"integration\"\n[log]\nlevel = \"" + level +
         "\"\n[storage]\ndata_dir = \"" + data_dir.string() +
         "\"\ncommit_interval = \"100ms\"\n"
         "[[buses]]\nid = \"lan\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 1502\n"
         "[[devices]]\nid = \"pv1\"\nname = \"PV\"\nkind = \"inverter\"\nbus = \"lan\"\nunit_id = 1\n"
         "profile = \"sunspec\"\n";
}

class GatewaydTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() / "data";
    config_ = dir_.path() / "gridlet.toml";
    write_file(config_, config_text(data_));
    std::filesystem::create_directories(data_);
    tokens_ = data_ / "tokens";
  }
  TempDir dir_;
  std::filesystem::path data_, config_, tokens_;
};

TEST_F(GatewaydTest, CheckConfigReportsEveryErrorWithPlace) {
  auto [rc_ok, out_ok] = run_cli({"check-config", config_.string()});
  EXPECT_EQ(rc_ok, 0);
  EXPECT_EQ(out_ok, "ok\n");
  const auto bad = dir_.path() / "bad.toml";
  write_file(bad, "[site]\nid = \"x\"\nbogus = 1\n[api]\nmax_connections = -1\n");
  auto [rc, out] = run_cli({"check-config", bad.string()});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find(bad.string() + ":3:1: error: site.bogus: unknown key"), std::string::npos) << out;
  EXPECT_NE(out.find(bad.string() + ":5:19: error: api.max_connections:"), std::string::npos) << out;
}

TEST_F(GatewaydTest, TokenFileIsPrivateAndTokenShownOnce) {
  const std::string token = create_token(tokens_, "viewer");
  struct stat st{};
  ASSERT_EQ(::stat(tokens_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(tokens_);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content.find(token), std::string::npos) << "the plaintext token must not be stored";
  auto [rc, out] = run_cli({"token", "create", "--tokens-file", tokens_.string(), "--role", "boss",
                            "--name", "x"});
  EXPECT_NE(rc, 0);
}

TEST_F(GatewaydTest, ServesEveryRouteWithAuthentication) {
  const std::string viewer = create_token(tokens_, "viewer");
  const std::string installer = create_token(tokens_, "installer");
  const std::string aggregator = create_token(tokens_, "aggregator");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();

  auto health = http(d.port(), "GET", "/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto hj = json::parse(health->body);
  // Nothing answers on the bus of its one device.
  EXPECT_EQ(hj["status"], "degraded") << health->body;
  EXPECT_EQ(hj["problems"], json::array({"devices: 0 of 1 enabled devices online"}));
  EXPECT_EQ(hj["store"]["status"], "ok");
  EXPECT_EQ(hj["devices"]["total"], 1);

  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices")->status, 401);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", "glt_wrong")->status, 401);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", aggregator)->status, 403);
  auto devices = http(d.port(), "GET", "/api/v1/devices", viewer);
  EXPECT_EQ(devices->status, 200);
  EXPECT_EQ(json::parse(devices->body)[0]["id"], "pv1");
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices/pv1", viewer)->status, 200);
  auto missing = http(d.port(), "GET", "/api/v1/devices/nope", viewer);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["code"], "not_found");

  // Push samples; the answer comes only after they are committed.
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  json batch;
  for (int i = 0; i < 120; ++i) {
    batch["samples"].push_back({{"device", "pv1"}, {"point", "W"}, {"unit", "W"},
                                {"t", now - 120'000 + i * 1000}, {"value", 100.0 + i}});
  }
  EXPECT_EQ(http(d.port(), "POST", "/api/v1/samples", viewer, batch.dump())->status, 403);
  auto posted = http(d.port(), "POST", "/api/v1/samples", installer, batch.dump());
  ASSERT_EQ(posted->status, 200) << posted->body;
  EXPECT_EQ(json::parse(posted->body)["accepted"], 120);

  auto points = http(d.port(), "GET", "/api/v1/points", viewer);
  ASSERT_EQ(points->status, 200);
  auto pj = json::parse(points->body);
  ASSERT_EQ(pj.size(), 1u);
  EXPECT_EQ(pj[0]["value"], 219.0);
  EXPECT_EQ(pj[0]["quality"], "good");

  auto raw = http(d.port(), "GET",
                  "/api/v1/points/pv1/W/history?from=" + std::to_string(now - 200'000) +
                      "&to=" + std::to_string(now + 1),
                  viewer);
  ASSERT_EQ(raw->status, 200) << raw->body;
  auto rj = json::parse(raw->body);
  EXPECT_EQ(rj["tier"], "raw");
  EXPECT_EQ(rj["rows"].size(), 120u);
  auto minute = http(d.port(), "GET",
                     "/api/v1/points/pv1/W/history?from=" + std::to_string(now - 200'000) +
                         "&to=" + std::to_string(now + 1) + "&step=1m",
                     viewer);
  ASSERT_EQ(minute->status, 200) << minute->body;
  auto mj = json::parse(minute->body);
  EXPECT_NE(mj["tier"], "raw");
  std::int64_t total = 0;
  for (const auto& row : mj["rows"]) total += row["count"].get<std::int64_t>();
  EXPECT_EQ(total, 120);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/points/pv1/W/history?from=yesterday", viewer)->status, 400);

  auto metrics = http(d.port(), "GET", "/metrics", viewer);
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("gridlet_store_samples_committed_total"), std::string::npos);
  std::smatch rss;
  ASSERT_TRUE(std::regex_search(metrics->body, rss,
                                std::regex(R"(\nprocess_resident_memory_bytes ([0-9.e+]+))")));
  EXPECT_GT(std::stod(rss[1]), 1e6) << "RSS is read from /proc/self, not left at 0";
  EXPECT_NE(metrics->body.find("gridlet_api_requests_total"), std::string::npos);

  // Every path of the OpenAPI description is served.
  auto openapi = http(d.port(), "GET", "/api/v1/openapi.json");
  ASSERT_EQ(openapi->status, 200);
  auto oj = json::parse(openapi->body);
  ASSERT_TRUE(oj.contains("paths"));
  std::size_t checked = 0;
  for (const auto& [path, ops] : oj["paths"].items()) {
    std::string target = std::regex_replace(path, std::regex("\\{device\\}|\\{id\\}"), "pv1");
    target = std::regex_replace(target, std::regex("\\{point\\}"), "W");
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      auto r = http(d.port(), m, target, installer,
                    m == "POST" ? batch.dump() : m == "PUT" ? R"({"value": 50})" : "");
      ASSERT_TRUE(r) << m << " " << target;
      if (path.find("/setpoints/") != std::string::npos) {
        // pv1 has no point "W" to control: a documented refusal, not a crash or a 500.
        EXPECT_EQ(r->status, 422) << m << " " << target << ": " << r->body;
      } else {
        EXPECT_EQ(r->status, 200) << m << " " << target << ": " << r->body;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 8u);

  // Malformed input is rejected and the daemon keeps serving.
  auto garbage = http(d.port(), "", "", "", "", "NOT HTTP AT ALL\r\n\r\n");
  ASSERT_TRUE(garbage) << "a malformed request gets an answer, not a dropped connection";
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(http(d.port(), "POST", "/api/v1/samples", installer, "{not json")->status, 400);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/health")->status, 200);

  d.proc().signal(SIGTERM);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(GatewaydTest, SighupAppliesWhatItCanAndNamesTheRest) {
  const std::string viewer = create_token(tokens_, "viewer");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  // A token created after start works after SIGHUP.
  const std::string manager = create_token(tokens_, "manager");
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", manager)->status, 401);
  std::string text = config_text(data_, "debug");
  text = std::regex_replace(text, std::regex("commit_interval = \"100ms\""), "commit_interval = \"2s\"");
  write_file(config_, text);
  d.proc().signal(SIGHUP);
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("reload done"))) << d.proc().log();
  const std::string log = d.proc().log();
  EXPECT_NE(log.find("reload: applied log.level"), std::string::npos) << log;
  EXPECT_NE(log.find("storage changed; it takes effect after a restart"), std::string::npos) << log;
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", manager)->status, 200);
  // An invalid file is refused and the daemon keeps running the old configuration.
  write_file(config_, "[site]\nid = \"BAD ID\"\n");
  d.proc().signal(SIGHUP);
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("reload refused"))) << d.proc().log();
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", viewer)->status, 200);
}

TEST_F(GatewaydTest, StartupErrorsAreClear) {
  // A world-readable tokens file is refused.
  write_file(tokens_, "");
  ::chmod(tokens_.c_str(), 0644);
  ChildProcess p({kGatewayd, "run", "--config", config_.string(), "--api-listen", "127.0.0.1:0"});
  EXPECT_EQ(p.wait(), 3);
  EXPECT_NE(p.log().find("chmod 600"), std::string::npos) << p.log();
  // A damaged database is refused with a way out.
  ::chmod(tokens_.c_str(), 0600);
  write_file(data_ / "telemetry.db", std::string(8192, 'x'));
  ChildProcess q({kGatewayd, "run", "--config", config_.string(), "--api-listen", "127.0.0.1:0"});
  EXPECT_EQ(q.wait(), 3);
  EXPECT_NE(q.log().find("telemetry.db"), std::string::npos) << q.log();
}

// The systemd protocol, spoken to a notify socket of our own as systemd would listen on it.
TEST_F(GatewaydTest, NotifiesSystemdAndFeedsTheWatchdogFromTheLoop) {
  const auto sock_path = dir_.path() / "notify.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto next_message = [&] {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 200; ++i) {
      const std::string m = next_message();
      if (m.empty()) return false;
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  // 200 ms watchdog: the loop must ping every 100 ms.
  Daemon d(config_, data_, {"NOTIFY_SOCKET=" + sock_path.string(), "WATCHDOG_USEC=200000"});
  ASSERT_TRUE(d.ready()) << d.proc().log();
  EXPECT_TRUE(wait_for("READY=1"));
  int pings = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (pings < 5 && wait_for("WATCHDOG=1")) ++pings;
  EXPECT_EQ(pings, 5);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "watchdog pings are ~100 ms apart";
  d.proc().signal(SIGHUP);
  EXPECT_TRUE(wait_for("RELOADING=1"));
  EXPECT_TRUE(wait_for("READY=1"));
  d.proc().signal(SIGTERM);
  EXPECT_TRUE(wait_for("STOPPING=1"));
  EXPECT_EQ(d.proc().wait(), 0);
  ::close(fd);
}

// SIGTERM while clients push samples: the daemon stops in time, and what it acknowledged is kept.
TEST_F(GatewaydTest, SigtermDuringIngestStopsInTimeAndKeepsAcknowledgedSamples) {
  const std::string installer = create_token(tokens_, "installer");
  const std::int64_t base = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count() -
                            3'600'000;
  constexpr int kBatch = 2000;
  std::atomic<int> acked{0};
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  std::mutex mu;
  std::condition_variable cv;
  std::thread client([&] {
    for (int b = 0;; ++b) {
      json body;
      for (int i = 0; i < kBatch; ++i) {
        body["samples"].push_back({{"device", "load"}, {"point", "W"}, {"unit", "W"},
                                   {"t", base + b * kBatch + i}, {"value", 1.0 * i}});
      }
      auto r = http(d.port(), "POST", "/api/v1/samples", installer, body.dump());
      if (!r || r->status != 200) return;
      acked = b + 1;
      cv.notify_all();
    }
  });
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 60s, [&] { return acked >= 5; });
  }
  const auto t0 = std::chrono::steady_clock::now();
  d.proc().signal(SIGTERM);
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  client.join();
  store::StoreOptions so;
  so.path = data_ / "telemetry.db";
  store::OpenError err;
  auto st = store::TelemetryStore::open(so, &err);
  ASSERT_TRUE(st) << err.message;
  auto series = st->find_series("load", "W");
  ASSERT_TRUE(series);
  const std::int64_t n = static_cast<std::int64_t>(acked) * kBatch;
  const auto h = st->history({series->id, base, base + n, 0, 0});
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  EXPECT_EQ(h->rows.size(), static_cast<std::size_t>(n));
}

// kill -9 while clients push samples as fast as they can: every acknowledged sample survives.
TEST_F(GatewaydTest, KillNineDuringIngestLosesNoAcknowledgedSample) {
  const std::string installer = create_token(tokens_, "installer");
  constexpr int kClients = 3;
  constexpr int kBatch = 2000;
  const std::int64_t base = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count() -
                            3'600'000;
  std::vector<std::int64_t> acked_batches(kClients, 0);  // batches acknowledged per client
  {
    Daemon d(config_, data_);
    ASSERT_TRUE(d.ready()) << d.proc().log();
    std::mutex mu;
    std::condition_variable cv;
    int total_acks = 0, clients_done = 0;
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        for (int b = 0; !killed; ++b) {
          json body;
          auto& arr = body["samples"];
          for (int i = 0; i < kBatch; ++i) {
            const std::int64_t seq = static_cast<std::int64_t>(b) * kBatch + i;
            arr.push_back({{"device", "load"}, {"point", "c" + std::to_string(c)}, {"unit", "W"},
                           {"t", base + seq}, {"value", static_cast<double>(seq % 100000)}});
          }
          auto r = http(d.port(), "POST", "/api/v1/samples", installer, body.dump());
          if (!r || r->status != 200) break;  // the daemon died under us: this batch is not acked
          std::lock_guard lock(mu);
          acked_batches[static_cast<std::size_t>(c)] = b + 1;
          ++total_acks;
          cv.notify_all();
        }
        std::lock_guard lock(mu);
        ++clients_done;
        cv.notify_all();
      });
    }
    // Kill mid-stream, after a good amount of acknowledged ingest.
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 120s, [&] { return total_acks >= 30 || clients_done == kClients; });
    }
    d.proc().signal(SIGKILL);
    killed = true;
    for (auto& t : clients) t.join();
    EXPECT_EQ(d.proc().wait(), 128 + SIGKILL);
  }
  // The daemon starts cleanly on the same data.
  {
    Daemon d(config_, data_);
    ASSERT_TRUE(d.ready()) << d.proc().log();
    EXPECT_EQ(json::parse(http(d.port(), "GET", "/api/v1/health")->body)["store"]["status"], "ok");
    d.proc().signal(SIGTERM);
    EXPECT_EQ(d.proc().wait(), 0);
  }
  store::StoreOptions so;
  so.path = data_ / "telemetry.db";
  store::OpenError err;
  auto st = store::TelemetryStore::open(so, &err);
  ASSERT_TRUE(st) << err.message;
  std::int64_t verified = 0;
  for (int c = 0; c < kClients; ++c) {
    const std::int64_t n = acked_batches[static_cast<std::size_t>(c)] * kBatch;
    if (n == 0) continue;
    auto series = st->find_series("load", "c" + std::to_string(c));
    ASSERT_TRUE(series);
    const auto result = st->history({series->id, base, base + n, 0});
    ASSERT_TRUE(result.is_ok()) << result.status().to_string();
    const auto& h = result.value();
    ASSERT_EQ(h.tier, store::Tier::kRaw);
    ASSERT_GE(h.rows.size(), static_cast<std::size_t>(n));
    for (std::int64_t seq = 0; seq < n; ++seq) {
      const auto& row = h.rows[static_cast<std::size_t>(seq)];
      ASSERT_EQ(row.timestamp_ms, base + seq);
      ASSERT_EQ(row.last, static_cast<double>(seq % 100000));
    }
    verified += n;
  }
  EXPECT_GE(verified, 30 * kBatch);
}

json get_json(std::uint16_t port, const std::string& target, const std::string& token) {
  const auto r = http(port, "GET", target, token);
  return r && r->status == 200 ? json::parse(r->body) : json();
}

TEST_F(GatewaydTest, TokenListShowsNamesAndRolesAndRevokeRemovesOne) {
  const std::string viewer = create_token(tokens_, "viewer");
  create_token(tokens_, "manager");
  auto [rc, out] = run_cli({"token", "list", "--tokens-file", tokens_.string()});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(viewer-it viewer \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << out;
  EXPECT_NE(out.find("manager-it manager "), std::string::npos) << out;
  EXPECT_FALSE(std::regex_search(out, std::regex("[0-9a-f]{64}|glt_"))) << "no hashes, no secrets: " << out;

  auto [rc_rev, out_rev] = run_cli({"token", "revoke", "--tokens-file", tokens_.string(), "viewer-it"});
  EXPECT_EQ(rc_rev, 0) << out_rev;
  auto [rc2, out2] = run_cli({"token", "list", "--tokens-file", tokens_.string()});
  EXPECT_EQ(out2.find("viewer-it"), std::string::npos) << out2;
  EXPECT_NE(out2.find("manager-it"), std::string::npos) << out2;
  struct stat st {};
  ASSERT_EQ(::stat(tokens_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(tokens_.string() + ".tmp"));
  // Revoking a name that is not there is an error.
  auto [rc3, out3] = run_cli({"token", "revoke", "--tokens-file", tokens_.string(), "viewer-it"});
  EXPECT_NE(rc3, 0);
  EXPECT_NE(out3.find("no token named 'viewer-it'"), std::string::npos) << out3;
}

// A revocation must not fail open: a tokens file the reload cannot use refuses every token (and
// health says why) until it is fixed and reloaded.
TEST_F(GatewaydTest, ReloadWithAnUnusableTokensFileRefusesEveryToken) {
  const std::string viewer = create_token(tokens_, "viewer");
  const std::string manager = create_token(tokens_, "manager");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_EQ(http(d.port(), "GET", "/api/v1/devices", viewer)->status, 200);
  const std::regex reload_done("reload done");
  auto reloads = [&] {
    const std::string log = d.proc().log();
    return std::distance(std::sregex_iterator(log.begin(), log.end(), reload_done),
                         std::sregex_iterator());
  };

  // The viewer is revoked, and the edit left the file world-readable.
  auto [rc, out] = run_cli({"token", "revoke", "--tokens-file", tokens_.string(), "viewer-it"});
  ASSERT_EQ(rc, 0) << out;
  ::chmod(tokens_.c_str(), 0644);
  d.proc().signal(SIGHUP);
  ASSERT_TRUE(gridlet::testing::eventually(10s, [&] { return reloads() == 1; })) << d.proc().log();
  EXPECT_NE(d.proc().log().find("every token is refused"), std::string::npos) << d.proc().log();
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", viewer)->status, 401);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", manager)->status, 401);
  json health = json::parse(http(d.port(), "GET", "/api/v1/health")->body);
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["tokens"]["status"], "refusing all tokens");
  EXPECT_NE(health["tokens"]["error"].get<std::string>().find("chmod 600"), std::string::npos)
      << health.dump();

  // Fixed: the remaining token works again, the revoked one does not.
  ::chmod(tokens_.c_str(), 0600);
  d.proc().signal(SIGHUP);
  ASSERT_TRUE(gridlet::testing::eventually(10s, [&] { return reloads() == 2; })) << d.proc().log();
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", manager)->status, 200);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", viewer)->status, 401);
  health = json::parse(http(d.port(), "GET", "/api/v1/health")->body);
  EXPECT_EQ(health["tokens"]["status"], "ok") << health.dump();

  // A FIFO in its place: the reload answers at once (nothing waits for a writer) and refuses all.
  std::filesystem::remove(tokens_);
  ASSERT_EQ(::mkfifo(tokens_.c_str(), 0600), 0);
  d.proc().signal(SIGHUP);
  ASSERT_TRUE(gridlet::testing::eventually(5s, [&] { return reloads() == 3; })) << d.proc().log();
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices", manager)->status, 401);
  health = json::parse(http(d.port(), "GET", "/api/v1/health")->body);
  EXPECT_NE(health["tokens"]["error"].get<std::string>().find("not a regular file"), std::string::npos)
      << health.dump();
  d.proc().signal(SIGTERM);
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
}

// The device view counts errors from the same source as the bus view.
TEST_F(GatewaydTest, DeviceErrorsMatchTheBusView) {
  // Nothing listens on the bus's port: every poll of its device fails.
  const std::string viewer = create_token(tokens_, "viewer");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  json dev, buses;
  EXPECT_TRUE(gridlet::testing::eventually(15s, [&] {
    dev = get_json(d.port(), "/api/v1/devices", viewer);
    buses = get_json(d.port(), "/api/v1/buses", viewer);
    if (!dev.is_array() || dev.empty() || !buses.is_array() || buses.empty()) return false;
    const auto errors = dev[0]["errors"].get<std::int64_t>();
    const json& polled = buses[0]["devices"][0];
    return errors >= 2 && errors == polled["poll_failures"].get<std::int64_t>() &&
           dev[0]["last_error"] == polled["last_error"];
  })) << dev.dump() << "\n" << buses.dump();
}

}  // namespace
}  // namespace gridlet

#ifdef DEVSIM_PATH
#include "tests/integration/devsim_support.hpp"

namespace gridlet {
namespace {

// Points and device availability published on the [mqtt] bus, retained, as an independent
// subscriber sees them (including one that connects later).
TEST_F(GatewaydTest, PublishesPointsAndAvailabilityOnItsMqttBus) {
  gridlet::testing::Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--start-hour", "12"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  gridlet::testing::Mosquitto broker(dir_.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                          "\"\n[[buses]]\nid = \"lan\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
                          std::to_string(*port) +
                          "\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker.url() +
                          "\"\n[[devices]]\nid = \"pv\"\nkind = \"inverter\"\nbus = \"lan\"\nunit_id = 1\n"
                          "profile = \"sunspec\"\n[mqtt]\nenabled = true\nbus = \"home\"\n");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();

  std::mutex mu;
  std::map<std::string, adapters::mqtt::Message> latest;
  std::atomic<bool> late_got_retained{false};
  gridlet::testing::ThreadExecutor loop;  // destroyed (joined) before what its handlers touch
  adapters::mqtt::ClientSettings os;
  os.name = os.client_id = "observer";
  os.url = broker.url();
  adapters::mqtt::Client observer(os, loop, {{}, {}, [&](adapters::mqtt::Message m) {
                                               std::lock_guard lock(mu);
                                               latest[m.topic] = std::move(m);
                                             }});
  observer.subscribe("gridlet/it/#", 0);
  observer.subscribe("homeassistant/#", 0);
  ASSERT_TRUE(observer.start());
  auto get = [&](const std::string& topic) -> std::optional<adapters::mqtt::Message> {
    std::lock_guard lock(mu);
    const auto it = latest.find(topic);
    if (it == latest.end()) return std::nullopt;
    return it->second;
  };
  auto topics = [&] {
    std::lock_guard lock(mu);
    std::string all;
    for (const auto& [topic, m] : latest) all += topic + " " + m.payload.substr(0, 80) + "\n";
    return all;
  };
  ASSERT_TRUE(gridlet::testing::eventually(15s, [&] {
    const auto m = get("gridlet/it/pv/inverter_three_phase.W");
    return m && json::parse(m->payload)["quality"] == "good";
  })) << d.proc().log() << topics();
  const auto power = json::parse(get("gridlet/it/pv/inverter_three_phase.W")->payload);
  EXPECT_GT(power["value"].get<double>(), 0);
  EXPECT_EQ(power["unit"], "W");
  EXPECT_GT(power["ts"].get<std::int64_t>(), 0);
  // A subscriber that comes later gets the latest value at once: it is retained.
  os.client_id = "late";
  adapters::mqtt::Client late(os, loop, {{}, {}, [&](adapters::mqtt::Message m) {
                                           if (m.topic == "gridlet/it/pv/inverter_three_phase.W" && m.retained) {
                                             late_got_retained = true;
                                           }
                                         }});
  late.subscribe("gridlet/it/pv/inverter_three_phase.W", 0);
  ASSERT_TRUE(late.start());
  EXPECT_TRUE(gridlet::testing::eventually(5s, [&] { return late_got_retained.load(); }));
  ASSERT_TRUE(gridlet::testing::eventually(5s, [&] {
    const auto m = get("gridlet/it/pv/availability");
    return m && m->payload == "online";
  }));
  EXPECT_EQ(get("gridlet/it/status")->payload, "online");

  // Home Assistant discovery: the gateway and the inverter, each document within Home Assistant's
  // documented rules, the power an enabled power sensor reading the published topic.
  std::optional<json> power_entity;
  ASSERT_TRUE(gridlet::testing::eventually(10s, [&] {
    std::lock_guard lock(mu);
    for (const auto& [topic, m] : latest) {
      if (!topic.starts_with("homeassistant/") || m.payload.empty()) continue;
      const auto doc = json::parse(m.payload);
      if (doc.value("state_topic", "") == "gridlet/it/pv/inverter_three_phase.W") power_entity = doc;
    }
    return power_entity.has_value();
  }));
  EXPECT_EQ((*power_entity)["device_class"], "power");
  EXPECT_EQ((*power_entity)["unit_of_measurement"], "W");
  EXPECT_NE((*power_entity)["availability"].dump().find("gridlet/it/pv/availability"), std::string::npos);
  std::lock_guard lock(mu);
  int documents = 0;
  for (const auto& [topic, m] : latest) {
    if (!topic.starts_with("homeassistant/")) continue;
    ++documents;
    const auto violations = gridlet::ha_rules::check_discovery(topic, m.payload);
    EXPECT_TRUE(violations.empty()) << topic << "\n" << gridlet::ha_rules::describe(violations) << m.payload;
  }
  EXPECT_GT(documents, 10) << "the gateway and every point of the inverter";
}

// The gateway's status on its MQTT bus: "online" (retained) once connected, "offline" when it
// stops, and "offline" from the broker (the last will) when it is killed.
TEST_F(GatewaydTest, SaysOnlineAndOfflineOnItsMqttStatusTopicAndLeavesAWill) {
  gridlet::testing::Mosquitto broker(dir_.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                          "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker.url() +
                          "\"\n[mqtt]\nenabled = true\nbus = \"home\"\n");
  std::mutex mu;
  std::vector<std::string> seen;  // payloads on gridlet/it/status, in order
  gridlet::testing::ThreadExecutor loop;  // destroyed (joined) before what its handlers touch
  adapters::mqtt::ClientSettings os;
  os.name = os.client_id = "observer";
  os.url = broker.url();
  adapters::mqtt::Client observer(os, loop, {{}, {}, [&](adapters::mqtt::Message m) {
                                               std::lock_guard lock(mu);
                                               if (m.topic == "gridlet/it/status") seen.push_back(m.payload);
                                             }});
  observer.subscribe("gridlet/it/status", 1);
  ASSERT_TRUE(observer.start());
  auto last_is = [&](const std::string& payload, std::size_t count) {
    return gridlet::testing::eventually(5s, [&] {
      std::lock_guard lock(mu);
      return seen.size() >= count && seen.back() == payload;
    });
  };
  {
    Daemon d(config_, data_);
    ASSERT_TRUE(d.ready()) << d.proc().log();
    ASSERT_TRUE(last_is("online", 1)) << d.proc().log() << broker.log();
    d.proc().signal(SIGTERM);
    EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
    EXPECT_TRUE(last_is("offline", 2)) << "a clean stop says it itself\n" << d.proc().log();
  }
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_TRUE(last_is("online", 3)) << d.proc().log();
  d.proc().signal(SIGKILL);
  d.proc().wait();
  EXPECT_TRUE(last_is("offline", 4)) << "the broker sends the will of a gateway that vanished\n" << broker.log();
}

// A building of simulated devices: gatewayd polls them, shows them in the API and stores them.
TEST_F(GatewaydTest, PollsABuildingOfSimulatedDevicesShowsAndStoresThem) {
  gridlet::testing::Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device",
                                "3=meter", "--device", "4=sdm630", "--fault", "5=timeout",
                                "--device", "5=battery", "--start-hour", "12"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  const std::string profile = std::string(GRIDLET_SOURCE_DIR) + "/configs/profiles/sdm630.toml";
  write_file(config_,
             "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                 "\"\ncommit_interval = \"100ms\"\n"
                 "[[buses]]\nid = \"lan\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
                 std::to_string(*port) + "\ntimeout = \"300ms\"\n" +
                 "[[devices]]\nid = \"pv\"\nkind = \"inverter\"\nbus = \"lan\"\nunit_id = 1\nprofile = \"sunspec\"\n"
                 "[[devices]]\nid = \"grid\"\nkind = \"meter\"\nbus = \"lan\"\nunit_id = 3\nprofile = \"sunspec\"\n"
                 "[[devices]]\nid = \"sdm\"\nkind = \"meter\"\nbus = \"lan\"\nunit_id = 4\nprofile = \"" +
                 profile + "\"\n"
                 "[[devices]]\nid = \"bat\"\nkind = \"battery\"\nbus = \"lan\"\nunit_id = 5\nprofile = \"sunspec\"\n");
  const std::string viewer = create_token(tokens_, "viewer");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  auto good = [&](const std::string& device, const std::string& point) {
    auto r = http(d.port(), "GET", "/api/v1/points?device=" + device, viewer);
    if (!r || r->status != 200) return false;
    for (const auto& p : json::parse(r->body)) {
      if (p["point"] == point && p["quality"] == "good") return true;
    }
    return false;
  };
  ASSERT_TRUE(gridlet::testing::eventually(15s, [&] {
    return good("pv", "inverter_three_phase.W") && good("grid", "ac_meter_abcn.W") &&
           good("sdm", "power_total_w");
  })) << d.proc().log();
  // The registry takes the buses' view of who answers (every second).
  std::map<std::string, bool> online;
  EXPECT_TRUE(gridlet::testing::eventually(5s, [&] {
    for (const auto& dev : json::parse(http(d.port(), "GET", "/api/v1/devices", viewer)->body)) {
      online[dev["id"]] = dev["online"];
    }
    return online["pv"] && online["grid"] && online["sdm"];
  }));
  EXPECT_FALSE(online["bat"]) << "a device that never answers is not online";
  // Bus health: requests, errors by kind, the silent unit backing off, SunSpec models found.
  json buses;
  ASSERT_TRUE(gridlet::testing::eventually(10s, [&] {
    buses = json::parse(http(d.port(), "GET", "/api/v1/buses", viewer)->body);
    for (const auto& u : buses[0]["units"]) {
      if (u["unit"] == 5 && u["backoff_until_ms"].get<std::int64_t>() > 0 && !u["online"].get<bool>()) {
        return true;
      }
    }
    return false;
  })) << buses.dump(1);
  ASSERT_EQ(buses.size(), 1u);
  EXPECT_TRUE(buses[0]["connected"]);
  EXPECT_GE(buses[0]["errors"].value("timeout", 0), 1);
  for (const auto& dev : buses[0]["devices"]) {
    if (dev["id"] == "pv") {
      EXPECT_EQ(dev["sunspec_models"], json({1, 103, 120, 123, 160}));
    }
  }
  // Stored: the history of the inverter's power has rows.
  ASSERT_TRUE(gridlet::testing::eventually(10s, [&] {
    auto h = http(d.port(), "GET", "/api/v1/points/pv/inverter_three_phase.W/history", viewer);
    return h && h->status == 200 && !json::parse(h->body)["rows"].empty();
  }));
  d.proc().signal(SIGTERM);
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
}


// WMaxLim_Ena (model 123) of unit 1, read from the device over a connection of our own.
std::int64_t wmaxlim_ena(int port) {
  adapters::modbus::BusSettings bs;
  bs.id = "check";
  bs.host = "127.0.0.1";
  bs.port = static_cast<std::uint16_t>(port);
  adapters::modbus::Bus bus(bs, /*start_worker=*/false);
  adapters::modbus::UnitRegisterReader reader(bus, 1);
  const auto found = adapters::sunspec::discover(reader);
  const auto m123 = std::find_if(found.models.begin(), found.models.end(),
                                 [](const auto& m) { return m.id == 123; });
  if (m123 == found.models.end()) return -1;
  std::vector<std::uint16_t> block;
  if (!adapters::sunspec::read_model(reader, *m123, block).is_ok()) return -1;
  const auto decoded = adapters::sunspec::decode_model(*adapters::sunspec::find_model(123), block);
  const auto* ena = decoded.find("WMaxLim_Ena");
  return ena ? static_cast<std::int64_t>(ena->raw) : -1;
}

// A configuration with one TCP bus to devsim's `port` and SunSpec inverters at units 1 and 2.
std::string two_inverters(const std::filesystem::path& data, int port, const std::string& bus_keys,
                          const std::string& first, const std::string& second) {
  return "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data.string() +
         "\"\ncommit_interval = \"100ms\"\n"
         "[[buses]]\nid = \"lan\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\n" + bus_keys + "[[devices]]\nid = \"" + first +
         "\"\nkind = \"inverter\"\nbus = \"lan\"\nunit_id = 1\nprofile = \"sunspec\"\n"
         "setpoint_revert = \"3s\"\n[[devices]]\nid = \"" + second +
         "\"\nkind = \"inverter\"\nbus = \"lan\"\nunit_id = 2\nprofile = \"sunspec\"\n";
}

TEST_F(GatewaydTest, SetpointsThroughTheApiAreCheckedAuditedAndReleasedAtStop) {
  gridlet::testing::Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device",
                                "2=inverter", "--fault", "2=ignore-writes", "--setpoint-delay-ms", "100"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  write_file(config_, two_inverters(data_, *port, "timeout = \"300ms\"\n", "pv", "pv2"));
  const std::string viewer = create_token(tokens_, "viewer");
  const std::string manager = create_token(tokens_, "manager");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  const std::string limit = "/api/v1/devices/pv/setpoints/controls.WMaxLimPct";

  // What the installer sees: the controls with their ranges, once discovery found model 123.
  json doc;
  ASSERT_TRUE(gridlet::testing::eventually(15s, [&] {
    auto r = http(d.port(), "GET", "/api/v1/devices/pv/setpoints", viewer);
    if (!r || r->status != 200) return false;
    doc = json::parse(r->body);
    return doc["controls"].size() == 2;
  })) << doc.dump();
  EXPECT_EQ(doc["controls"][0]["point"], "controls.WMaxLimPct");
  EXPECT_EQ(doc["controls"][0]["max"], 100);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/devices/nope/setpoints", viewer)->status, 404);

  // Roles: a viewer may look, not write.
  EXPECT_EQ(http(d.port(), "PUT", limit, viewer, R"({"value": 35})")->status, 403);
  // Bad bodies and out-of-range values never reach the device.
  EXPECT_EQ(http(d.port(), "PUT", limit, manager, R"({"value": "35"})")->status, 400);
  EXPECT_EQ(http(d.port(), "PUT", limit, manager, R"({"value": 35, "colour": 1})")->status, 400);
  auto out_of_range = http(d.port(), "PUT", limit, manager, R"({"value": 150})");
  EXPECT_EQ(out_of_range->status, 422) << out_of_range->body;

  auto applied = http(d.port(), "PUT", limit, manager, R"({"value": 35, "reason": "peak shaving"})");
  ASSERT_EQ(applied->status, 200) << applied->body;
  const json a = json::parse(applied->body);
  EXPECT_EQ(a["outcome"], "applied");
  EXPECT_EQ(a["readback"], 35.0);
  EXPECT_EQ(a["actor"], "manager:manager-it");

  // A device that acknowledges and ignores the write: an alarm, answered as such.
  auto ignored = http(d.port(), "PUT", "/api/v1/devices/pv2/setpoints/controls.WMaxLimPct", manager,
                      R"({"value": 20})");
  EXPECT_EQ(ignored->status, 502) << ignored->body;
  EXPECT_EQ(json::parse(ignored->body)["error"]["code"], "device_mismatch");

  // Held and kept alive past the 3 s revert timer.
  EXPECT_TRUE(gridlet::testing::holds_for(4s, [&] { return wmaxlim_ena(*port) == 1; }))
      << "the device would have reverted after 3 s without the keep-alive";
  doc = json::parse(http(d.port(), "GET", "/api/v1/devices/pv/setpoints", viewer)->body);
  ASSERT_EQ(doc["setpoints"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["setpoints"][0]["last_outcome"], "applied");
  EXPECT_EQ(doc["setpoints"][0]["keepalive_ms"], 1000);
  EXPECT_EQ(wmaxlim_ena(*port), 1) << "the device would have reverted after 3 s without the keep-alive";

  // The event log has the alarm; the audit log has every write with its actor.
  const json events = json::parse(http(d.port(), "GET", "/api/v1/events?device=pv2", viewer)->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0]["severity"], "alarm");
  EXPECT_NE(events[0]["message"].get<std::string>().find("mismatch"), std::string::npos);
  EXPECT_EQ(http(d.port(), "GET", "/api/v1/audit", viewer)->status, 403);
  const json audit = json::parse(http(d.port(), "GET", "/api/v1/audit?device=pv", manager)->body);
  std::set<std::string> actions;
  for (const auto& row : audit) actions.insert(row["action"].get<std::string>() + "/" + row["outcome"].get<std::string>());
  EXPECT_TRUE(actions.contains("set/applied")) << audit.dump();
  EXPECT_TRUE(actions.contains("set/rejected")) << audit.dump();
  EXPECT_TRUE(actions.contains("keepalive/applied")) << audit.dump();

  // Stop: the setpoint is released to the device's own behaviour before the buses close, and the
  // release is in the audit log on disk.
  d.proc().signal(SIGTERM);
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
  EXPECT_EQ(wmaxlim_ena(*port), 0) << "released at shutdown";
  store::OpenError err;
  store::StoreOptions so;
  so.path = data_ / "telemetry.db";
  auto telemetry = store::TelemetryStore::open(so, &err);
  ASSERT_TRUE(telemetry) << err.message;
  auto log = store::EventLog::open(*telemetry, 1000, &err);
  ASSERT_TRUE(log) << err.message;
  const auto audited = log->audit({"pv", 0, 10});
  ASSERT_TRUE(audited.is_ok()) << audited.status().to_string();
  const auto& rows = audited.value();
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0].action, "release");
  EXPECT_EQ(rows[0].outcome, "applied");
  EXPECT_EQ(rows[0].reason, "the gateway is stopping");
}

// SIGTERM with a held setpoint while the bus waits out a long timeout of a silent unit: the
// request on the line is interrupted, the setpoint is released, and the daemon exits within 5 s.
TEST_F(GatewaydTest, SigtermIsBoundedWithHeldSetpointsAndABusInTheMiddleOfATimeout) {
  gridlet::testing::Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device",
                                "2=inverter", "--fault", "2=timeout"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  write_file(config_,
             two_inverters(data_, *port, "timeout = \"10s\"\nprobe_timeout = \"10s\"\n", "pv", "silent"));
  const std::string manager = create_token(tokens_, "manager");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_TRUE(gridlet::testing::eventually(15s, [&] {
    auto r = http(d.port(), "GET", "/api/v1/devices/pv/setpoints", manager);
    return r && r->status == 200 && json::parse(r->body)["controls"].size() == 2;
  }));
  // Waits at most for the silent unit's probe on the line (10 s), never for the rest of its work.
  auto applied = http(d.port(), "PUT", "/api/v1/devices/pv/setpoints/controls.WMaxLimPct", manager,
                      R"({"value": 40})");
  ASSERT_TRUE(applied);
  ASSERT_EQ(applied->status, 200) << applied->body;
  ASSERT_EQ(wmaxlim_ena(*port), 1);
  // The silent unit's discovery goes on: its next 10 s probe is on the line now.
  const auto t0 = std::chrono::steady_clock::now();
  d.proc().signal(SIGTERM);
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s) << "SIGTERM took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms\n" << d.proc().log();
  EXPECT_EQ(wmaxlim_ena(*port), 0) << "released at shutdown";
}

// SIGTERM while a serial line waits out a 10 s timeout of a silent unit: a read on a tty cannot
// be interrupted, so the bus thread is abandoned at the stop deadline, but only after what was
// acknowledged is committed. The daemon exits 0 within 5 s and the healthy meter's samples are
// on disk.
TEST_F(GatewaydTest, SigtermOnASerialLineInTheMiddleOfATimeoutIsBoundedAndCommitsFirst) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/socat")) << "socat is missing: run scripts/bootstrap";
  gridlet::testing::PtyPair pty(dir_.path());
  ASSERT_TRUE(pty.ready());
  gridlet::testing::Devsim line({"--rtu", pty.device_end(), "--baud", "38400", "--device", "1=sdm630",
                                 "--device", "2=sdm630", "--fault", "2=timeout"});
  ASSERT_TRUE(line.rtu_ready()) << line.log();
  const std::string profile = std::string(GRIDLET_SOURCE_DIR) + "/configs/profiles/sdm630.toml";
  write_file(config_,
             "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                 "\"\ncommit_interval = \"100ms\"\n"
                 "[[buses]]\nid = \"rs485\"\ntype = \"rtu\"\ndevice = \"" + pty.client_end() +
                 "\"\nbaud = 38400\nframe_gap = \"10ms\"\ntimeout = \"10s\"\nprobe_timeout = \"10s\"\n"
                 "[[devices]]\nid = \"sdm\"\nkind = \"meter\"\nbus = \"rs485\"\nunit_id = 1\nprofile = \"" +
                 profile + "\"\n[[devices]]\nid = \"silent\"\nkind = \"meter\"\nbus = \"rs485\"\nunit_id = 2\n"
                 "profile = \"" + profile + "\"\n");
  const std::string viewer = create_token(tokens_, "viewer");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  // The meter's latest good reading, as the API showed it.
  std::int64_t seen_ms = 0;
  auto meter_reading = [&] {
    auto r = http(d.port(), "GET", "/api/v1/points?device=sdm", viewer);
    if (!r || r->status != 200) return false;
    for (const auto& p : json::parse(r->body)) {
      if (p["point"] == "power_total_w" && p["quality"] == "good") {
        seen_ms = p["timestamp_ms"].get<std::int64_t>();
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(gridlet::testing::eventually(10s, meter_reading)) << d.proc().log();
  // The silent unit's first probe holds the line for 10 s: the meter's readings stop coming.
  auto silent_requests = [&] {
    auto r = http(d.port(), "GET", "/api/v1/buses", viewer);
    if (!r || r->status != 200) return -1;
    for (const auto& b : json::parse(r->body)) {
      for (const auto& u : b["units"]) {
        if (u["unit"] == 2) return u["requests"].get<int>();
      }
    }
    return 0;
  };
  ASSERT_TRUE(gridlet::testing::eventually(10s, [&] {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return meter_reading() && now_ms - seen_ms > 2000 && silent_requests() == 0;
  })) << http(d.port(), "GET", "/api/v1/buses", viewer)->body;
  const auto t0 = std::chrono::steady_clock::now();
  d.proc().signal(SIGTERM);
  EXPECT_EQ(d.proc().wait(), 0) << d.proc().log();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s) << "SIGTERM took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms\n" << d.proc().log();
  // Committed before the process ended, whether or not the line's thread had to be abandoned.
  store::OpenError err;
  store::StoreOptions so;
  so.path = data_ / "telemetry.db";
  auto telemetry = store::TelemetryStore::open(so, &err);
  ASSERT_TRUE(telemetry) << err.message;
  const auto series = telemetry->find_series("sdm", "power_total_w");
  ASSERT_TRUE(series) << d.proc().log();
  const auto rows = telemetry->history({series->id, seen_ms, seen_ms + 1, 0, 0});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  EXPECT_EQ(rows.value().rows.size(), 1u) << "the reading the API showed before SIGTERM is on disk\n"
                                          << d.proc().log();
  // The bus thread was stuck in the silent unit's probe at the deadline.
  EXPECT_NE(d.proc().log().find("abandoned"), std::string::npos) << d.proc().log();
}

}  // namespace
}  // namespace gridlet
#endif  // DEVSIM_PATH
