// MQTT devices through the real gatewayd and a real mosquitto: this test plays a Zigbee2MQTT plug,
// a Shelly Plus 1PM and a Tasmota plug with their documented messages; the gateway shows their
// readings and availability in the API, and switches them through the setpoint API, answering
// 200 only when the device's own state confirms it.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"

namespace gridlet {
namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::eventually;
using gridlet::testing::http;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace mq = adapters::mqtt;

std::string token(const std::filesystem::path& tokens, const std::string& role) {
  ChildProcess p({GATEWAYD_PATH, "token", "create", "--tokens-file", tokens.string(), "--role", role, "--name",
                  role + "-it"});
  EXPECT_EQ(p.wait(), 0) << p.log();
  std::smatch m;
  const std::string log = p.log();
  EXPECT_TRUE(std::regex_search(log, m, std::regex("(glt_[A-Za-z0-9_-]+)")));
  return m[1];
}

class MqttDevicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready()) << broker_.log();
    data_ = dir_.path() / "data";
    std::filesystem::create_directories(data_);
    write_file(dir_.path() / "gridlet.toml",
               "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                   "\"\ncommit_interval = \"100ms\"\n"
                   "[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker_.url() + "\"\n"
                   "[[devices]]\nid = \"kitchen\"\nkind = \"other\"\nbus = \"home\"\nprofile = \"zigbee2mqtt-plug\"\n"
                   "topic_id = \"Kitchen Plug\"\n"
                   "[[devices]]\nid = \"boiler\"\nkind = \"other\"\nbus = \"home\"\nprofile = \"shelly-gen2-switch\"\n"
                   "topic_id = \"shellyplus1pm-a8032ab12345\"\n"
                   "[[devices]]\nid = \"fan\"\nkind = \"other\"\nbus = \"home\"\nprofile = \"tasmota-plug\"\n"
                   "topic_id = \"tasmota_5F1A2B\"\n");
    viewer_ = token(data_ / "tokens", "viewer");
    manager_ = token(data_ / "tokens", "manager");
    daemon_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        GATEWAYD_PATH, "run", "--config", (dir_.path() / "gridlet.toml").string(), "--api-listen", "127.0.0.1:0"});
    const auto m = daemon_->wait_for_log(std::regex(R"(API listening on 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(m) << daemon_->log();
    port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
    ASSERT_TRUE(daemon_->wait_for_log(std::regex("mqtt home: connected")).has_value()) << daemon_->log();

    mq::ClientSettings s;
    s.name = s.client_id = "devices";
    s.url = broker_.url();
    devices_ = std::make_unique<mq::Client>(s, loop_, mq::Client::Handlers{{}, {}, [this](mq::Message msg) {
                                              answer_like_a_shelly(msg);
                                              std::lock_guard lock(mu_);
                                              commands_.push_back(std::move(msg));
                                            }});
    devices_->subscribe("zigbee2mqtt/+/set", 1);
    devices_->subscribe("shellyplus1pm-a8032ab12345/rpc", 1);
    devices_->subscribe("cmnd/#", 1);
    ASSERT_TRUE(devices_->start());
    ASSERT_TRUE(eventually(5s, [&] { return devices_->connected(); }));
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->signal(SIGTERM);
      EXPECT_EQ(daemon_->wait(), 0) << daemon_->log();
    }
  }

  void send(const std::string& topic, const std::string& payload, bool retained = false) {
    std::atomic<int> ok{-1};
    ASSERT_TRUE(devices_->publish({topic, payload, 1, retained}, [&](bool r) { ok = r ? 1 : 0; }));
    ASSERT_TRUE(eventually(5s, [&] { return ok.load() >= 0; }));
  }
  json points(const std::string& device) {
    auto r = http(port_, "GET", "/api/v1/points?device=" + device, viewer_);
    return r && r->status == 200 ? json::parse(r->body) : json::array();
  }
  std::optional<json> point(const std::string& device, const std::string& name) {
    for (const auto& p : points(device)) {
      if (p["point"] == name) return p;
    }
    return std::nullopt;
  }
  bool online(const std::string& device) {
    auto r = http(port_, "GET", "/api/v1/devices", viewer_);
    if (!r || r->status != 200) return false;
    for (const auto& d : json::parse(r->body)) {
      if (d["id"] == device) return d.value("online", false);
    }
    return false;
  }
  // The Shelly answers a Switch.Set with a NotifyStatus carrying its new output, as a real one does.
  void answer_like_a_shelly(const mq::Message& msg) {
    if (msg.topic != "shellyplus1pm-a8032ab12345/rpc") return;
    const auto rpc = json::parse(msg.payload, nullptr, false);
    if (rpc.is_discarded() || rpc.value("method", "") != "Switch.Set") return;
    const bool on = rpc["params"]["on"];
    devices_->publish({"shellyplus1pm-a8032ab12345/events/rpc",
                       std::string(R"({"src":"shellyplus1pm-a8032ab12345","dst":"x","method":"NotifyStatus",)"
                                   R"("params":{"ts":1796300001.0,"switch:0":{"id":0,"output":)") +
                           (on ? "true" : "false") + "}}}",
                       1, false});
  }
  std::optional<mq::Message> command_on(const std::string& topic) {
    std::lock_guard lock(mu_);
    for (auto it = commands_.rbegin(); it != commands_.rend(); ++it) {
      if (it->topic == topic) return *it;
    }
    return std::nullopt;
  }

  TempDir dir_;
  Mosquitto broker_{dir_.path() / "broker"};
  std::filesystem::path data_;
  std::string viewer_, manager_;
  std::unique_ptr<ChildProcess> daemon_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<mq::Message> commands_;
  // Destroyed first: the client, then the loop (its thread joined), then what handlers touch.
  ThreadExecutor loop_;
  std::unique_ptr<mq::Client> devices_;
};

TEST_F(MqttDevicesTest, PresetDevicesAreReadWithQualityAndAvailability) {
  send("zigbee2mqtt/Kitchen Plug/availability", R"({"state":"online"})", true);
  send("zigbee2mqtt/Kitchen Plug",
       R"({"state":"ON","power":123.4,"energy":2.5,"voltage":229.8,"current":0.54,"linkquality":120})");
  send("shellyplus1pm-a8032ab12345/online", "true", true);
  send("shellyplus1pm-a8032ab12345/events/rpc",
       R"({"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events","method":"NotifyFullStatus",)"
       R"("params":{"ts":1796300000.25,"switch:0":{"id":0,"source":"init","output":true,"apower":1980.5,)"
       R"("voltage":231.1,"current":8.6,"aenergy":{"total":45678.9,"by_minute":[0,0,0],"minute_ts":1796300000},)"
       R"("temperature":{"tC":41.2,"tF":106.2}}}})");
  send("tele/tasmota_5F1A2B/LWT", "Online", true);
  send("tele/tasmota_5F1A2B/SENSOR",
       R"({"Time":"2026-12-03T10:00:00","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00","Total":12.345,)"
       R"("Yesterday":1.2,"Today":0.456,"Power":60,"ApparentPower":65,"ReactivePower":20,"Factor":0.92,)"
       R"("Voltage":230,"Current":0.281}})");

  ASSERT_TRUE(eventually(10s, [&] {
    const auto k = point("kitchen", "power_w");
    const auto b = point("boiler", "power_w");
    const auto f = point("fan", "energy_wh");
    return k && (*k)["quality"] == "good" && b && (*b)["quality"] == "good" && f && (*f)["quality"] == "good";
  })) << points("kitchen").dump() << points("boiler").dump() << points("fan").dump() << daemon_->log();
  EXPECT_EQ((*point("kitchen", "power_w"))["value"], 123.4);
  EXPECT_EQ((*point("kitchen", "energy_wh"))["value"], 2500.0) << "kWh in the payload, Wh in the gateway";
  EXPECT_EQ((*point("boiler", "energy_wh"))["value"], 45678.9);
  EXPECT_EQ((*point("boiler", "power_w"))["timestamp_ms"], 1796300000250) << "the device's own time";
  EXPECT_EQ((*point("fan", "energy_wh"))["value"], 12345.0);
  EXPECT_EQ((*point("fan", "power_w"))["unit"], "W");
  EXPECT_TRUE(eventually(5s, [&] { return online("kitchen") && online("boiler") && online("fan"); }));

  // The Zigbee plug leaves the network: offline, and its values are no longer good.
  send("zigbee2mqtt/Kitchen Plug/availability", R"({"state":"offline"})", true);
  EXPECT_TRUE(eventually(5s, [&] { return !online("kitchen"); }));
  EXPECT_EQ((*point("kitchen", "power_w"))["quality"], "error");
  // Garbage is counted, never fatal.
  send("tele/tasmota_5F1A2B/SENSOR", "{not json");
  send("zigbee2mqtt/Kitchen Plug", R"({"power":"lots"})");
  EXPECT_TRUE(eventually(5s, [&] {
    auto r = http(port_, "GET", "/api/v1/devices", viewer_);
    for (const auto& d : json::parse(r->body)) {
      if (d["id"] == "fan" && d["errors"].get<int>() >= 1) return true;
    }
    return false;
  }));
  // ... and in /metrics, by device and reason.
  const auto metrics = http(port_, "GET", "/metrics", viewer_);
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_NE(metrics->body.find(R"(gridlet_mqtt_device_messages_rejected_total{bus="home",device="fan",reason="not_json"} 1)"),
            std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find(R"(gridlet_mqtt_connected{bus="home"} 1)"), std::string::npos);
  // ... and in /api/v1/buses, with the broker connection.
  const auto buses = http(port_, "GET", "/api/v1/buses", viewer_);
  ASSERT_TRUE(buses && buses->status == 200);
  const auto arr = json::parse(buses->body);
  ASSERT_EQ(arr.size(), 1u) << arr.dump();
  EXPECT_EQ(arr[0]["type"], "mqtt");
  EXPECT_EQ(arr[0]["endpoint"], broker_.url());
  EXPECT_EQ(arr[0]["connected"], true);
  EXPECT_GE(arr[0]["messages_in"].get<int>(), 5);
  ASSERT_EQ(arr[0]["devices"].size(), 3u);
  for (const auto& d : arr[0]["devices"]) {
    if (d["id"] == "fan") {
      EXPECT_EQ(d["rejected"]["not_json"], 1) << d.dump();
    }
    if (d["id"] == "kitchen") {
      EXPECT_EQ(d["available"], false) << d.dump();
    }
  }
}

TEST_F(MqttDevicesTest, SwitchingIsAppliedOnlyWhenTheDeviceConfirms) {
  send("shellyplus1pm-a8032ab12345/online", "true", true);
  send("tele/tasmota_5F1A2B/LWT", "Online", true);
  auto r = http(port_, "PUT", "/api/v1/devices/boiler/setpoints/output", manager_, R"({"value": 0, "reason": "peak"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const auto rpc = json::parse(command_on("shellyplus1pm-a8032ab12345/rpc")->payload);
  EXPECT_EQ(rpc["method"], "Switch.Set");
  EXPECT_EQ(rpc["params"]["on"], false);
  const auto held = json::parse(http(port_, "GET", "/api/v1/devices/boiler/setpoints", viewer_)->body);
  ASSERT_EQ(held["setpoints"].size(), 1u) << held.dump();
  EXPECT_EQ(held["setpoints"][0]["value"], 0.0);

  // The Tasmota plug gets its command but never says it switched: a mismatch, not a success.
  r = http(port_, "PUT", "/api/v1/devices/fan/setpoints/relay", manager_, R"({"value": 0})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "device_mismatch") << r->body;
  EXPECT_EQ(command_on("cmnd/tasmota_5F1A2B/POWER")->payload, "OFF");

  // Out of range: refused before anything is sent.
  r = http(port_, "PUT", "/api/v1/devices/fan/setpoints/relay", manager_, R"({"value": 2})");
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "rejected");

  // Audited, with the actor.
  const auto audit = json::parse(http(port_, "GET", "/api/v1/audit?device=boiler", manager_)->body);
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit[0]["outcome"], "applied");
  EXPECT_NE(audit[0]["actor"].get<std::string>().find("manager"), std::string::npos);
}

}  // namespace
}  // namespace gridlet
