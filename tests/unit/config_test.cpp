#include "gateway/config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <filesystem>
#include <unistd.h>
#include <algorithm>

namespace gridlet::config {
namespace {

using namespace std::chrono_literals;

const char* kMinimal = R"(
[site]
id = "b1"
)";

LoadResult load(std::string_view text) { return load_config_string(text, "test.toml"); }

// Finds the error about `key`, or fails the test.
const ConfigError& error_for(const LoadResult& r, std::string_view key) {
  for (const auto& e : r.errors) {
    if (e.key_path == key) return e;
  }
  static ConfigError none;
  ADD_FAILURE() << "no error for " << key;
  return none;
}

TEST(Config, MinimalFileHasDefaults) {
  auto r = load(kMinimal);
  ASSERT_TRUE(r.config) << r.errors.front().format();
  EXPECT_EQ(r.config->site.id, "b1");
  EXPECT_EQ(r.config->api.listen_host, "127.0.0.1");  // loopback unless configured
  EXPECT_EQ(r.config->api.listen_port, 8080);
  EXPECT_EQ(r.config->storage.commit_interval, 1000ms);
  EXPECT_EQ(r.config->storage.raw_retention, std::chrono::hours(24 * 7));
  EXPECT_EQ(r.config->storage.rollup_1m_retention, std::chrono::hours(24 * 90));
  EXPECT_EQ(r.config->storage.rollup_15m_retention, std::chrono::hours(0));
  EXPECT_EQ(r.config->tokens_path(), std::filesystem::path("/var/lib/gridlet/tokens"));
}

TEST(Config, ExampleAndDemoFilesAreValid) {
  for (const char* file : {"configs/example.toml", "configs/demo/gridlet.toml"}) {
    auto r = load_config_file(std::filesystem::path(GRIDLET_SOURCE_DIR) / file);
    ASSERT_TRUE(r.config) << file << ": " << r.errors.front().format();
  }
  auto r = load_config_file(std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs/example.toml");
  EXPECT_EQ(r.config->devices.size(), 2u);
  EXPECT_EQ(r.config->buses[1].type, BusType::kRtu);
  EXPECT_EQ(r.config->buses[1].frame_gap, 25ms);
  EXPECT_EQ(r.config->storage.disk_budget_bytes, 2ULL << 30);
}

TEST(Config, SyntaxErrorNamesLineAndColumn) {
  auto r = load("[site]\nid = \"b1\"\nname = \n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "test.toml");
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_GT(r.errors[0].column, 0);
}

TEST(Config, UnknownKeyNamesPathLineAndColumn) {
  auto r = load("[site]\nid = \"b1\"\n\n[storage]\n  comit_interval = \"1s\"\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key_path, "storage.comit_interval");
  EXPECT_EQ(r.errors[0].line, 5);
  EXPECT_EQ(r.errors[0].column, 3);
  EXPECT_EQ(r.errors[0].format(), "test.toml:5:3: error: storage.comit_interval: unknown key");
}

TEST(Config, WrongType) {
  auto r = load("[site]\nid = 7\n[api]\nmax_connections = \"many\"\n");
  EXPECT_EQ(error_for(r, "site.id").line, 2);
  EXPECT_EQ(error_for(r, "api.max_connections").message, "must be an integer");
}

TEST(Config, OutOfRange) {
  auto r = load(std::string(kMinimal) +
                "[storage]\ncommit_interval = \"5ms\"\nmax_batch_samples = 5\n[api]\nmax_connections = 0\n");
  EXPECT_EQ(r.errors.size(), 3u);
  EXPECT_NE(error_for(r, "storage.commit_interval").message.find("out of range"), std::string::npos);
  EXPECT_NE(error_for(r, "storage.max_batch_samples").message.find("out of range"), std::string::npos);
  EXPECT_EQ(error_for(r, "api.max_connections").line, 8);
}

TEST(Config, BadDurationAndSize) {
  auto r = load(std::string(kMinimal) + "[storage]\nraw_retention = \"7 days\"\ndisk_budget = \"lots\"\n");
  EXPECT_EQ(r.errors.size(), 2u);
  error_for(r, "storage.raw_retention");
  error_for(r, "storage.disk_budget");
  auto ok = load(std::string(kMinimal) + "[storage]\nraw_retention = \"forever\"\ndisk_budget = \"64MiB\"\n");
  ASSERT_TRUE(ok.config);
  EXPECT_EQ(ok.config->storage.raw_retention.count(), 0);
  EXPECT_EQ(ok.config->storage.disk_budget_bytes, 64ULL << 20);
}

TEST(Config, HugeNumbersAreErrorsNotWrappedValues) {
  // 2^40 days would overflow 64-bit milliseconds; it must not wrap into the valid range.
  auto r = load(std::string(kMinimal) +
                "[storage]\nraw_retention = \"1099511627776d\"\ncommit_interval = \"99999999999999999999ms\"\n"
                "disk_budget = \"17179869184GiB\"\n");
  EXPECT_EQ(r.errors.size(), 3u);
  error_for(r, "storage.raw_retention");
  error_for(r, "storage.commit_interval");
  error_for(r, "storage.disk_budget");
}

TEST(Config, RetentionKeepsItsUnit) {
  auto r = load(std::string(kMinimal) + "[storage]\nraw_retention = \"90m\"\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->storage.raw_retention, std::chrono::minutes(90));
}

TEST(Config, MissingRequiredKeys) {
  auto r = load("[site]\nname = \"x\"\n[[devices]]\nid = \"d\"\n");
  error_for(r, "site.id");
  error_for(r, "devices[0].kind");
  error_for(r, "devices[0].bus");
  error_for(r, "devices[0].profile");
}

TEST(Config, MissingSiteTable) {
  auto r = load("[log]\nlevel = \"info\"\n");
  error_for(r, "site");
}

const char* kBuses = R"(
[site]
id = "b1"
[[buses]]
id = "lan"
type = "tcp"
host = "127.0.0.1"
[[buses]]
id = "lan"
type = "rtu"
device = "/dev/ttyUSB0"
parity = "X"
host = "h"
)";

TEST(Config, DuplicateIdsAndBadEnumsAllReportedAtOnce) {
  auto r = load(kBuses);
  const auto& dup = error_for(r, "buses[1].id");
  EXPECT_EQ(dup.line, 9);
  EXPECT_NE(dup.message.find("first defined on line 5"), std::string::npos);
  error_for(r, "buses[1].parity");
  error_for(r, "buses[1].host");  // tcp-only key on an rtu bus
  EXPECT_EQ(r.errors.size(), 3u);
  // Errors come in file order.
  for (std::size_t i = 1; i < r.errors.size(); ++i) EXPECT_LE(r.errors[i - 1].line, r.errors[i].line);
}

TEST(Config, DanglingReferenceAndDuplicateUnit) {
  auto r = load(R"(
[site]
id = "b1"
[[buses]]
id = "lan"
type = "tcp"
host = "127.0.0.1"
[[devices]]
id = "a"
kind = "meter"
bus = "lan"
unit_id = 3
profile = "sdm630"
[[devices]]
id = "b"
kind = "fridge"
bus = "wan"
profile = "sunspec"
[[devices]]
id = "c"
kind = "battery"
bus = "lan"
unit_id = 3
profile = "sunspec"
)");
  const auto& dangling = error_for(r, "devices[1].bus");
  EXPECT_EQ(dangling.line, 17);
  EXPECT_EQ(dangling.message, "no bus with id \"wan\" is defined");
  error_for(r, "devices[1].kind");
  EXPECT_NE(error_for(r, "devices[2].unit_id").message.find("already used by device \"a\""),
            std::string::npos);
  EXPECT_EQ(r.errors.size(), 3u);
}

TEST(Config, SetpointAndBackoffSettings) {
  auto ok = load(R"(
[site]
id = "b1"
[[buses]]
id = "lan"
type = "tcp"
host = "127.0.0.1"
backoff_initial = "500ms"
backoff_max = "1m"
[[devices]]
id = "pv"
kind = "inverter"
bus = "lan"
profile = "sunspec"
setpoint_revert = "2m"
heartbeat = "0s"
failsafe = { "controls.Conn" = 1, "battery.SoCRsvMin" = 10.5 }
)");
  ASSERT_TRUE(ok.config) << ok.errors.front().format();
  EXPECT_EQ(ok.config->buses[0].backoff_initial, 500ms);
  EXPECT_EQ(ok.config->buses[0].backoff_max, 60s);
  const auto& d = ok.config->devices[0];
  EXPECT_EQ(d.setpoint_revert, 120s);
  EXPECT_EQ(d.heartbeat, 0ms);
  EXPECT_EQ(d.failsafe.at("battery.SoCRsvMin"), 10.5);
  EXPECT_EQ(load(kMinimal).config->devices.size(), 0u);

  auto bad = load(R"(
[site]
id = "b1"
[[buses]]
id = "lan"
type = "tcp"
host = "127.0.0.1"
backoff_initial = "10s"
backoff_max = "1s"
[[devices]]
id = "pv"
kind = "inverter"
bus = "lan"
profile = "sunspec"
setpoint_revert = "1s"
failsafe = { "controls.Conn" = "on", "controls.Nope" = 1, "controls.WMaxLimPct" = 150 }
)");
  EXPECT_EQ(error_for(bad, "buses[0].backoff_max").line, 9);
  EXPECT_EQ(error_for(bad, "devices[0].setpoint_revert").line, 15);
  EXPECT_EQ(error_for(bad, "devices[0].failsafe.controls.Conn").line, 16);
  EXPECT_NE(error_for(bad, "devices[0].failsafe.controls.Nope").message.find("not a SunSpec control"),
            std::string::npos);
  EXPECT_NE(error_for(bad, "devices[0].failsafe.controls.WMaxLimPct").message.find("outside"),
            std::string::npos);
  EXPECT_EQ(bad.errors.size(), 5u);
}

// A directory of its own with a password file and TLS files for the MQTT bus tests.
struct MqttFiles {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("gridlet-config-mqtt-" + std::to_string(::getpid()));
  MqttFiles() {
    std::filesystem::create_directories(dir);
    for (const auto* name : {"password", "open-password", "ca.crt", "client.crt", "client.key"}) {
      std::ofstream(dir / name) << "x\n";
    }
    using std::filesystem::perms;
    std::filesystem::permissions(dir / "password", perms::owner_read | perms::owner_write);
    std::filesystem::permissions(dir / "client.key", perms::owner_read | perms::owner_write);
    std::filesystem::permissions(dir / "open-password", perms::owner_read | perms::owner_write | perms::group_read |
                                                         perms::others_read);
  }
  ~MqttFiles() { std::filesystem::remove_all(dir); }
  std::string operator()(const char* name) const { return (dir / name).string(); }
};

TEST(Config, AnMqttBusWithEveryKey) {
  MqttFiles f;
  auto r = load(std::string(kMinimal) + R"(
[[buses]]
id = "home"
type = "mqtt"
url = "mqtts://127.0.0.1:8883"
protocol = "5"
username = "gridlet"
password_file = ")" + f("password") + R"("
ca_file = ")" + f("ca.crt") + R"("
cert_file = ")" + f("client.crt") + R"("
key_file = ")" + f("client.key") + R"("
verify_hostname = false
clean_session = false
keep_alive = "1m"

[[buses]]
id = "z2m"
type = "mqtt"
url = "mqtt://127.0.0.1:1883"

[mqtt]
enabled = true
bus = "home"
control = true
min_interval = "2s"
deadband = 5

[[mqtt.points]]
device = "pv"
point = "W"
deadband = 50
)");
  ASSERT_TRUE(r.config) << r.errors.front().format();
  const auto& b = r.config->buses[0];
  EXPECT_EQ(b.type, BusType::kMqtt);
  EXPECT_FALSE(b.modbus());
  EXPECT_EQ(b.mqtt_version, 5);
  EXPECT_EQ(b.client_id, "gridlet-b1-home");
  EXPECT_EQ(b.password_file, f("password"));
  EXPECT_FALSE(b.verify_hostname);
  EXPECT_FALSE(b.clean_session);
  EXPECT_EQ(b.keep_alive, 60s);
  EXPECT_EQ(r.config->buses[1].mqtt_version, 4);
  EXPECT_TRUE(r.config->buses[1].clean_session);
  EXPECT_EQ(r.config->mqtt.bus, "home");
  EXPECT_TRUE(r.config->mqtt.control);
  EXPECT_TRUE(r.config->mqtt.discovery);
  EXPECT_EQ(r.config->mqtt.min_interval, 2s);
  EXPECT_EQ(r.config->mqtt.deadband, 5.0);
  ASSERT_EQ(r.config->mqtt.points.size(), 1u);
  EXPECT_EQ(r.config->mqtt.points[0].deadband, 50.0);
  EXPECT_EQ(r.config->mqtt.points[0].min_interval, 2s) << "unset keys take the [mqtt] defaults";
}

TEST(Config, MqttBusMistakesAreNamed) {
  MqttFiles f;
  auto r = load(std::string(kMinimal) + R"(
[[buses]]
id = "home"
type = "mqtt"
url = "http://127.0.0.1"
protocol = "4"
password_file = ")" + f("open-password") + R"("
timeout = "1s"

[[buses]]
id = "plain"
type = "mqtt"
url = "tcp://127.0.0.1:1883"
ca_file = ")" + f("ca.crt") + R"("

[[buses]]
id = "lan"
type = "tcp"
host = "127.0.0.1"
username = "nobody"

[mqtt]
enabled = true
bus = "lan"
)");
  ASSERT_FALSE(r.config);
  EXPECT_NE(error_for(r, "buses[0].url").message.find("tcp://"), std::string::npos);
  EXPECT_NE(error_for(r, "buses[0].protocol").message.find("3.1.1"), std::string::npos);
  const auto& pw = r.errors;
  EXPECT_TRUE(std::any_of(pw.begin(), pw.end(), [](const ConfigError& e) {
    return e.key_path == "buses[0].password_file" && e.message.find("chmod 600") != std::string::npos;
  }));
  EXPECT_TRUE(std::any_of(pw.begin(), pw.end(), [](const ConfigError& e) {
    return e.key_path == "buses[0].password_file" && e.message.find("username") != std::string::npos;
  }));
  EXPECT_NE(error_for(r, "buses[0].timeout").message.find("Modbus"), std::string::npos);
  EXPECT_NE(error_for(r, "buses[1].ca_file").message.find("ssl://"), std::string::npos);
  EXPECT_NE(error_for(r, "buses[2].username").message.find("mqtt"), std::string::npos);
  EXPECT_NE(error_for(r, "mqtt.bus").message.find("not an MQTT bus"), std::string::npos);
  EXPECT_GT(error_for(r, "buses[0].url").line, 0);
}

TEST(Config, MqttDevicesTakeAPresetOrAProfileFileAndTheirTopics) {
  MqttFiles f;
  const auto path = f.dir / "gridlet.toml";
  std::filesystem::create_directories(f.dir / "profiles" / "mqtt");
  std::ofstream(f.dir / "profiles" / "mqtt" / "my-plug.toml") << R"(
[profile]
name = "my-plug"
kind = "other"
source = "the plug's manual"
[[points]]
name = "power_w"
topic = "plugs/{id}/power"
unit = "W"
)";
  std::ofstream(path) << std::string(kMinimal) + R"(
[[buses]]
id = "home"
type = "mqtt"
url = "mqtt://127.0.0.1:1883"

[[devices]]
id = "kitchen"
kind = "other"
bus = "home"
profile = "zigbee2mqtt-plug"
topic_id = "Kitchen Plug"
variables = { base = "z2m" }

[[devices]]
id = "desk"
kind = "other"
bus = "home"
profile = "my-plug"
)";
  auto r = load_config_file(path);
  ASSERT_TRUE(r.config) << r.errors.front().format();
  const auto& d = r.config->devices;
  EXPECT_TRUE(d[0].mqtt);
  EXPECT_EQ(d[0].topic_id, "Kitchen Plug");
  EXPECT_EQ(d[0].variables.at("base"), "z2m");
  EXPECT_TRUE(d[0].profile_path.empty()) << "a preset";
  EXPECT_EQ(d[1].topic_id, "desk") << "the device id by default";
  EXPECT_EQ(d[1].profile_path, f.dir / "profiles" / "mqtt" / "my-plug.toml");
  EXPECT_EQ(r.config->mqtt_profiles.size(), 2u);

  std::ofstream(path) << std::string(kMinimal) + R"(
[[buses]]
id = "home"
type = "mqtt"
url = "mqtt://127.0.0.1:1883"

[[devices]]
id = "a"
kind = "other"
bus = "home"
profile = "no-such-plug"
unit_id = 3

[[devices]]
id = "c"
kind = "other"
bus = "home"
profile = "sunspec"
topic_id = "a/+/b"
)";
  r = load_config_file(path);
  ASSERT_FALSE(r.config);
  EXPECT_NE(error_for(r, "devices[0].profile").message.find("shelly-gen2-switch"), std::string::npos)
      << "the presets are listed";
  EXPECT_NE(error_for(r, "devices[0].unit_id").message.find("Modbus"), std::string::npos);
  EXPECT_NE(error_for(r, "devices[1].profile").message.find("Modbus"), std::string::npos);
  EXPECT_NE(error_for(r, "devices[1].topic_id").message.find("+"), std::string::npos);

  std::ofstream(path) << std::string(kMinimal) + R"(
[[buses]]
id = "home"
type = "mqtt"
url = "mqtt://127.0.0.1:1883"

[[devices]]
id = "b"
kind = "other"
bus = "home"
profile = "zigbee2mqtt-plug"
variables = { bsae = "z2m" }
)";
  r = load_config_file(path);
  ASSERT_FALSE(r.config);
  EXPECT_NE(error_for(r, "devices[0]").message.find("bsae"), std::string::npos) << "a mistyped variable";
  EXPECT_GT(error_for(r, "devices[0]").line, 0);
}

TEST(Config, ListenParsing) {
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_listen("0.0.0.0:9000", host, port));
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9000);
  EXPECT_TRUE(parse_listen("[::1]:80", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(parse_listen("localhost", host, port));
  EXPECT_FALSE(parse_listen("h:70000", host, port));
  EXPECT_FALSE(parse_listen(":80", host, port));
  auto r = load(std::string(kMinimal) + "[api]\nlisten = \"8080\"\n");
  error_for(r, "api.listen");
}

TEST(Config, UnreadableFile) {
  auto r = load_config_file("/nonexistent/gridlet.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].format(), "/nonexistent/gridlet.toml:0:0: error: cannot read the file");
}

TEST(Config, ReloadPlanSplitsLiveAndRestartChanges) {
  auto a = load(kMinimal);
  auto b = load(std::string(kMinimal) +
                "[log]\nlevel = \"debug\"\n[storage]\ncommit_interval = \"2s\"\n[api]\nlisten = \"127.0.0.1:9\"\n");
  ASSERT_TRUE(a.config && b.config);
  auto plan = plan_reload(*a.config, *b.config);
  EXPECT_EQ(plan.applied, std::vector<std::string>{"log.level"});
  EXPECT_EQ(plan.restart_required, (std::vector<std::string>{"storage", "api.listen"}));
  auto none = plan_reload(*a.config, *a.config);
  EXPECT_TRUE(none.applied.empty() && none.restart_required.empty());
}

}  // namespace
}  // namespace gridlet::config
