// Control over MQTT and the Home Assistant side of it, with the real gatewayd and a real mosquitto:
// a Zigbee2MQTT plug's switch appears as a Home Assistant switch entity whose commands go through
// the transactional setpoints (confirmed by the plug, audited with the MQTT actor), bad commands are
// refused and counted, and the discovery documents of a device that was removed from the
// configuration are cleared.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/gatewayd_support.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"
#include "tests/unit/ha_rules.hpp"

namespace gridlet {
namespace {

using gridlet::testing::Daemon;
using gridlet::testing::eventually;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace mq = adapters::mqtt;

constexpr const char* kOldDocument = "homeassistant/sensor/gridlet_it_DEV_old/power_w/config";

class MqttControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready()) << broker_.log();
    data_ = dir_.path() / "data";
    std::filesystem::create_directories(data_);
    config_ = dir_.path() / "gridlet.toml";
    write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                            "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker_.url() +
                            "\"\n[[devices]]\nid = \"kitchen\"\nkind = \"other\"\nbus = \"home\"\n"
                            "profile = \"zigbee2mqtt-plug\"\ntopic_id = \"Kitchen Plug\"\n"
                            "[mqtt]\nenabled = true\nbus = \"home\"\ncontrol = true\n");
    viewer_ = gridlet::testing::create_token(data_ / "tokens", "viewer");
    installer_ = gridlet::testing::create_token(data_ / "tokens", "installer");  // may read the audit log

    // The plug (and Home Assistant's side of the broker): it answers a switch command with its new
    // state, as Zigbee2MQTT does; every retained discovery document is remembered.
    mq::ClientSettings s;
    s.name = s.client_id = "plug-and-ha";
    s.url = broker_.url();
    client_ = std::make_unique<mq::Client>(s, loop_, mq::Client::Handlers{{}, {}, [this](mq::Message m) {
                                             if (m.topic == "zigbee2mqtt/Kitchen Plug/set") {
                                               const auto cmd = json::parse(m.payload, nullptr, false);
                                               if (!cmd.is_discarded() && cmd.contains("state")) {
                                                 client_->publish({"zigbee2mqtt/Kitchen Plug",
                                                                   json{{"state", cmd["state"]}, {"power", 12.5}}.dump(),
                                                                   1, false});
                                               }
                                               return;
                                             }
                                             std::lock_guard lock(mu_);
                                             documents_[m.topic] = m.payload;
                                           }});
    client_->subscribe("zigbee2mqtt/Kitchen Plug/set", 1);
    client_->subscribe("homeassistant/#", 1);
    ASSERT_TRUE(client_->start());
    ASSERT_TRUE(eventually(5s, [&] { return client_->connected(); }));
    // What an earlier configuration left on the broker: a device that is gone now.
    ASSERT_TRUE(client_->publish({kOldDocument, R"({"name":"old power"})", 1, true}));
  }
  void TearDown() override { client_.reset(); }

  // The gateway subscribes right after it connects.
  static void wait_connected(Daemon& d) {
    ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: connected")).has_value()) << d.proc().log();
    std::this_thread::sleep_for(300ms);
  }

  std::optional<json> document_with(const std::string& key, const std::string& value) {
    std::lock_guard lock(mu_);
    for (const auto& [topic, payload] : documents_) {
      if (payload.empty()) continue;
      const auto doc = json::parse(payload, nullptr, false);
      if (doc.is_object() && doc.value(key, "") == value) return doc;
    }
    return std::nullopt;
  }
  double metric(std::uint16_t port, const std::string& line_start) {
    const auto r = gridlet::testing::http(port, "GET", "/metrics", viewer_);
    if (!r) return -1;
    const auto at = r->body.find("\n" + line_start + " ");
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + line_start.size() + 2));
  }

  TempDir dir_;
  Mosquitto broker_{dir_.path() / "broker"};
  std::filesystem::path data_, config_;
  std::string viewer_, installer_;
  std::mutex mu_;
  std::map<std::string, std::string> documents_;
  ThreadExecutor loop_;
  std::unique_ptr<mq::Client> client_;
};

TEST_F(MqttControlTest, HomeAssistantSwitchesAPlugThroughTheSetpointPathAndRemovedDevicesAreCleared) {
  // A retained command (someone's mistake) would be replayed at every subscribe: never acted on.
  ASSERT_TRUE(client_->publish({"gridlet/it/kitchen/state/set", "OFF", 1, true}));
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  wait_connected(d);
  ASSERT_TRUE(client_->publish({"zigbee2mqtt/Kitchen Plug", R"({"state":"OFF","power":0,"energy":1.25})", 1, false}));

  // The removed device's document is cleared by the gateway.
  EXPECT_TRUE(eventually(10s, [&] {
    std::lock_guard lock(mu_);
    return documents_.count(kOldDocument) != 0 && documents_[kOldDocument].empty();
  })) << d.proc().log();

  // The plug's switch as Home Assistant sees it.
  std::optional<json> entity;
  ASSERT_TRUE(eventually(10s, [&] {
    entity = document_with("command_topic", "gridlet/it/kitchen/state/set");
    return entity.has_value() && entity->contains("state_topic");  // once the plug reported its state
  })) << d.proc().log();
  EXPECT_EQ((*entity)["payload_on"], "ON");
  EXPECT_EQ((*entity)["state_topic"], "gridlet/it/kitchen/state");
  {
    std::lock_guard lock(mu_);
    for (const auto& [topic, payload] : documents_) {
      if (payload.empty() || topic == kOldDocument) continue;
      const auto violations = gridlet::ha_rules::check_discovery(topic, payload);
      EXPECT_TRUE(violations.empty()) << topic << "\n" << gridlet::ha_rules::describe(violations) << payload;
    }
  }

  // Home Assistant switches it on: the plug confirms, the audit log names the MQTT actor.
  ASSERT_TRUE(client_->publish({"gridlet/it/kitchen/state/set", "ON", 1, false}));
  EXPECT_TRUE(eventually(15s, [&] {
    return metric(d.port(), "gridlet_mqtt_commands_total{result=\"applied\"}") == 1;
  })) << d.proc().log();
  const auto audit = gridlet::testing::http(d.port(), "GET", "/api/v1/audit?device=kitchen", installer_);
  ASSERT_TRUE(audit && audit->status == 200);
  const auto rows = json::parse(audit->body);
  ASSERT_FALSE(rows.empty()) << audit->body;
  EXPECT_EQ(rows[0]["actor"], "mqtt:home") << rows.dump();
  EXPECT_EQ(rows[0]["outcome"], "applied");
  EXPECT_EQ(rows[0]["value"], 1);

  // Commands that cannot be taken are refused and counted, and nothing reaches the plug.
  ASSERT_TRUE(client_->publish({"gridlet/it/kitchen/state/set", "banana", 1, false}));
  ASSERT_TRUE(client_->publish({"gridlet/it/kitchen/nothing/set", "1", 1, false}));
  EXPECT_TRUE(eventually(10s, [&] {
    return metric(d.port(), "gridlet_mqtt_commands_total{result=\"bad_payload\"}") == 2 &&
           metric(d.port(), "gridlet_mqtt_commands_total{result=\"unknown\"}") == 1;
  })) << d.proc().log();
  // Clearing the retained command (an empty retained message) is no command either.
  ASSERT_TRUE(client_->publish({"gridlet/it/kitchen/state/set", "", 1, true}));
  EXPECT_TRUE(eventually(10s, [&] { return metric(d.port(), "gridlet_mqtt_commands_total{result=\"empty\"}") == 1; }));
  EXPECT_EQ(metric(d.port(), "gridlet_mqtt_commands_total{result=\"applied\"}"), 1);
}

TEST_F(MqttControlTest, WithoutControlThereAreNoControlEntitiesAndCommandsAreIgnored) {
  write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                          "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker_.url() +
                          "\"\n[[devices]]\nid = \"kitchen\"\nkind = \"other\"\nbus = \"home\"\n"
                          "profile = \"zigbee2mqtt-plug\"\ntopic_id = \"Kitchen Plug\"\n"
                          "[mqtt]\nenabled = true\nbus = \"home\"\n");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  wait_connected(d);
  ASSERT_TRUE(client_->publish({"zigbee2mqtt/Kitchen Plug", R"({"state":"OFF","power":0})", 1, false}));
  ASSERT_TRUE(eventually(10s, [&] { return document_with("state_topic", "gridlet/it/kitchen/power_w").has_value(); }))
      << d.proc().log();
  EXPECT_FALSE(document_with("command_topic", "gridlet/it/kitchen/state/set").has_value());
  ASSERT_TRUE(client_->publish({"gridlet/it/kitchen/state/set", "ON", 1, false}));
  std::this_thread::sleep_for(1s);
  const auto audit = gridlet::testing::http(d.port(), "GET", "/api/v1/audit?device=kitchen", installer_);
  ASSERT_TRUE(audit && audit->status == 200);
  EXPECT_EQ(json::parse(audit->body).size(), 0u) << audit->body;
}

}  // namespace
}  // namespace gridlet
