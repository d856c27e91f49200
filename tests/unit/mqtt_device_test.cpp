// An MQTT device on its profile, without a broker: the Shelly preset's messages become readings
// and availability; a command is applied only when the device's state confirms it, a mismatch
// otherwise; held values come back after the device does; releases write the fail-safe.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "adapters/mqtt/device.hpp"
#include "adapters/mqtt/presets.hpp"

namespace gridlet::adapters::mqtt {
namespace {

using namespace std::chrono_literals;

struct Collect final : ReadingSink, ControlSink {
  std::vector<Reading> readings;
  std::vector<ControlEvent> events;
  void publish(Reading r) override { readings.push_back(std::move(r)); }
  void on_control(const ControlEvent& e) override { events.push_back(e); }
  std::optional<Reading> last(const std::string& point) const {
    for (auto it = readings.rbegin(); it != readings.rend(); ++it) {
      if (it->point == point) return *it;
    }
    return std::nullopt;
  }
};

constexpr const char* kId = "shellyplus1pm-a8032ab12345";

struct Rig {
  ManualClock clock;
  Collect sink;
  std::vector<Message> sent;
  bool connected = true;
  std::optional<MqttDevice> device;
  Rig() {
    auto loaded = load_builtin_preset("shelly-gen2-switch");
    EXPECT_TRUE(loaded.profile);
    auto bound = bind_device(std::make_shared<const Profile>(std::move(*loaded.profile)), kId);
    EXPECT_TRUE(bound.binding);
    device.emplace("plug", "home", std::move(*bound.binding), sink, &sink, clock, clock, [this](Message m) {
      if (!connected) return false;
      sent.push_back(std::move(m));
      return true;
    });
  }
  void receive(const std::string& suffix, const std::string& payload) {
    device->on_message({std::string(kId) + suffix, payload, 0, false});
  }
  void notify_output(bool on) {
    receive("/events/rpc", std::string(R"({"src":")") + kId +
                               R"(","dst":"x/events","method":"NotifyStatus","params":{"ts":1700000000.5,"switch:0":{"id":0,"output":)" +
                               (on ? "true" : "false") + "}}}");
  }
};

TEST(MqttDevice, MessagesBecomeReadingsAndAvailability) {
  Rig rig;
  EXPECT_TRUE(rig.device->wants(std::string(kId) + "/events/rpc"));
  EXPECT_FALSE(rig.device->wants("other/events/rpc"));
  rig.receive("/online", "true");
  rig.receive("/events/rpc", std::string(R"({"src":")") + kId +
                                 R"(","dst":"x/events","method":"NotifyFullStatus","params":{"ts":1700000001.0,)"
                                 R"("switch:0":{"id":0,"output":true,"apower":42.5,"voltage":231.2,"current":0.21,)"
                                 R"("aenergy":{"total":1234.5}}}})");
  ASSERT_TRUE(rig.sink.last("power_w"));
  EXPECT_EQ(rig.sink.last("power_w")->value, 42.5);
  EXPECT_EQ(rig.sink.last("power_w")->unit, "W");
  EXPECT_EQ(rig.sink.last("power_w")->quality, Quality::kGood);
  EXPECT_EQ(rig.sink.last("energy_wh")->value, 1234.5);
  EXPECT_EQ(rig.sink.last("power_w")->timestamp_ms, 1700000001000) << "the device's own time";
  auto st = rig.device->status();
  EXPECT_TRUE(st.online);
  EXPECT_EQ(st.messages, 2u);

  rig.receive("/events/rpc", "not json");
  rig.receive("/online", "maybe");
  st = rig.device->status();
  EXPECT_EQ(st.rejected["not_json"], 1u);
  EXPECT_EQ(st.rejected["bad_value"], 1u);
  EXPECT_FALSE(st.last_error.empty());

  rig.receive("/online", "false");
  EXPECT_FALSE(rig.device->status().online);
  EXPECT_EQ(rig.sink.last("power_w")->quality, Quality::kError) << "nothing is known of an offline device";
}

TEST(MqttDevice, ACommandIsAppliedWhenTheDevicesStateConfirmsIt) {
  Rig rig;
  rig.receive("/online", "true");
  std::optional<ControlEvent> answer;
  rig.device->set({"output", 0, "manager:test", "shed", 0}, [&](const ControlEvent& e) { answer = e; });
  ASSERT_EQ(rig.sent.size(), 1u);
  EXPECT_EQ(rig.sent[0].topic, std::string(kId) + "/rpc");
  EXPECT_EQ(rig.sent[0].qos, 1);
  const auto rpc = nlohmann::json::parse(rig.sent[0].payload);
  EXPECT_EQ(rpc["method"], "Switch.Set");
  EXPECT_EQ(rpc["params"]["on"], false);
  EXPECT_FALSE(answer) << "not before the device says so";
  rig.notify_output(true);  // an older state: keep waiting
  EXPECT_FALSE(answer);
  rig.notify_output(false);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->outcome, ControlOutcome::kApplied);
  EXPECT_EQ(answer->readback, 0.0);
  ASSERT_EQ(rig.device->setpoints().size(), 1u);
  EXPECT_EQ(rig.device->setpoints()[0].value, 0.0);
  EXPECT_EQ(rig.sink.events.size(), 1u) << "audited";
}

TEST(MqttDevice, ACommandTheDeviceNeverConfirmsIsAMismatch) {
  Rig rig;
  std::optional<ControlEvent> answer;
  rig.device->set({"output", 0, "manager:test", "", 0}, [&](const ControlEvent& e) { answer = e; });
  rig.clock.advance(9s);
  rig.device->tick();
  EXPECT_FALSE(answer);
  rig.clock.advance(1s);
  rig.device->tick();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->outcome, ControlOutcome::kMismatch);
  EXPECT_NE(answer->detail.find("not confirmed"), std::string::npos) << answer->detail;
  EXPECT_TRUE(rig.device->setpoints().empty()) << "nothing is held that the device did not take";

  rig.device->set({"output", 0, "manager:test", "", 0}, [&](const ControlEvent& e) { answer = e; });
  rig.notify_output(true);
  rig.clock.advance(10s);
  rig.device->tick();
  EXPECT_EQ(answer->outcome, ControlOutcome::kMismatch);
  EXPECT_NE(answer->detail.find("reports 1"), std::string::npos) << answer->detail;
}

TEST(MqttDevice, BadCommandsAreRejectedAndABrokerAwayFailsThem) {
  Rig rig;
  std::optional<ControlEvent> answer;
  rig.device->set({"output", 0.5, "manager:test", "", 0}, [&](const ControlEvent& e) { answer = e; });
  EXPECT_EQ(answer->outcome, ControlOutcome::kRejected);
  rig.device->set({"brightness", 1, "manager:test", "", 0}, [&](const ControlEvent& e) { answer = e; });
  EXPECT_EQ(answer->outcome, ControlOutcome::kRejected);
  EXPECT_TRUE(rig.sent.empty());
  rig.connected = false;
  rig.device->set({"output", 0, "manager:test", "", 0}, [&](const ControlEvent& e) { answer = e; });
  EXPECT_EQ(answer->outcome, ControlOutcome::kFailed);
  EXPECT_NE(answer->detail.find("broker"), std::string::npos);
}

TEST(MqttDevice, AHeldValueIsAssertedAgainWhenTheDeviceComesBackAndReleasedToItsFailSafe) {
  Rig rig;
  rig.receive("/online", "true");
  rig.device->set({"output", 0, "manager:test", "", 0}, {});
  rig.notify_output(false);
  ASSERT_EQ(rig.device->setpoints().size(), 1u);
  rig.sent.clear();
  rig.receive("/online", "false");
  rig.receive("/online", "true");  // restarted: the relay may be back on
  rig.device->tick();
  ASSERT_EQ(rig.sent.size(), 1u) << "re-asserted";
  EXPECT_EQ(nlohmann::json::parse(rig.sent[0].payload)["params"]["on"], false);
  rig.notify_output(false);
  EXPECT_EQ(rig.sink.events.back().action, ControlAction::kReassert);
  EXPECT_EQ(rig.sink.events.back().outcome, ControlOutcome::kApplied);

  rig.sent.clear();
  std::optional<ControlEvent> answer;
  rig.device->release("output", "manager:test", "done", [&](const ControlEvent& e) { answer = e; });
  ASSERT_EQ(rig.sent.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(rig.sent[0].payload)["params"]["on"], true) << "the preset's fail-safe: on";
  rig.notify_output(true);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->outcome, ControlOutcome::kApplied);
  EXPECT_TRUE(rig.device->setpoints().empty());
}

}  // namespace
}  // namespace gridlet::adapters::mqtt
