// The Gateway object in this process (not the gatewayd binary): start() against a simulated
// inverter on 127.0.0.1, run() on its own thread, reload() and stop() called from another thread,
// as an embedding program (or a test) drives it.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "gateway/api/auth.hpp"
#include "gateway/runtime/gateway.hpp"
#include "gateway/store/telemetry_store.hpp"
#include "tests/integration/test_support.hpp"

#ifdef DEVSIM_PATH
#include "tests/integration/devsim_support.hpp"

namespace gridlet::runtime {
namespace {

using gridlet::testing::eventually;
using gridlet::testing::http;
using gridlet::testing::TempDir;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST(Gateway, StartsReloadsAndStopsWhenDrivenFromAnotherThread) {
  gridlet::testing::Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--start-hour", "12"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  TempDir dir;
  const auto data = dir.path() / "data";
  const auto config = dir.path() / "gridlet.toml";
  write_file(config, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data.string() +
                         "\"\ncommit_interval = \"100ms\"\n"
                         "[[buses]]\nid = \"lan\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
                         std::to_string(*port) +
                         "\ntimeout = \"300ms\"\n"
                         "[[devices]]\nid = \"pv\"\nkind = \"inverter\"\nbus = \"lan\"\nunit_id = 1\n"
                         "profile = \"sunspec\"\n");
  std::filesystem::create_directories(data);
  const auto tokens = data / "tokens";
  const auto viewer = api::TokenStore::create(tokens, api::Role::kViewer, "viewer-it", nullptr);
  ASSERT_TRUE(viewer);

  GatewayOptions options;
  options.config_path = config;
  options.api_listen = "127.0.0.1:0";
  options.handle_signals = false;
  Gateway gateway(options);
  ASSERT_EQ(gateway.start(), kExitOk);
  ASSERT_NE(gateway.api_port(), 0);
  auto stopped = std::async(std::launch::async, [&] { return gateway.run(); });

  // Serving, polling and storing.
  std::int64_t seen_ms = 0;
  ASSERT_TRUE(eventually(15s, [&] {
    auto r = http(gateway.api_port(), "GET", "/api/v1/points?device=pv", *viewer);
    if (!r || r->status != 200) return false;
    for (const auto& p : json::parse(r->body)) {
      if (p["point"] == "inverter_three_phase.W" && p["quality"] == "good") {
        seen_ms = p["timestamp_ms"].get<std::int64_t>();
        return true;
      }
    }
    return false;
  }));

  // reload() re-reads the tokens: a revoked token is refused afterwards.
  ASSERT_TRUE(api::TokenStore::revoke(tokens, "viewer-it", nullptr));
  gateway.reload();
  EXPECT_TRUE(eventually(5s, [&] {
    auto r = http(gateway.api_port(), "GET", "/api/v1/devices", *viewer);
    return r && r->status == 401;
  }));

  // stop() from this thread: run() returns on its own thread, cleanly and within the budget.
  const auto t0 = std::chrono::steady_clock::now();
  gateway.stop();
  gateway.stop();  // idempotent
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(stopped.get(), Gateway::Stopped::kClean);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);

  // What the API showed is on disk.
  store::OpenError err;
  store::StoreOptions so;
  so.path = data / "telemetry.db";
  auto telemetry = store::TelemetryStore::open(so, &err);
  ASSERT_TRUE(telemetry) << err.message;
  const auto series = telemetry->find_series("pv", "inverter_three_phase.W");
  ASSERT_TRUE(series);
  const auto rows = telemetry->history({series->id, seen_ms, seen_ms + 1, 0, 0});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  EXPECT_EQ(rows.value().rows.size(), 1u);
}

TEST(Gateway, AnInvalidConfigurationIsRefusedAtStart) {
  TempDir dir;
  const auto config = dir.path() / "gridlet.toml";
  write_file(config, "[site]\nid = \"it\"\n[[buses]]\nid = \"lan\"\ntype = \"carrier-pigeon\"\n");
  GatewayOptions options;
  options.config_path = config;
  options.data_dir = dir.path() / "data";
  options.handle_signals = false;
  Gateway gateway(options);
  EXPECT_EQ(gateway.start(), kExitConfig);
  EXPECT_EQ(gateway.api_port(), 0);
  EXPECT_EQ(gateway.run(), Gateway::Stopped::kClean) << "nothing to run after a failed start";
}

}  // namespace
}  // namespace gridlet::runtime
#endif  // DEVSIM_PATH
