// MQTT mapping: topic filters (MQTT 3.1.1 section 4.7), every preset against payloads shaped like
// the examples of its vendor's documentation (written here, field names, types and units as
// documented), availability, control confirmation, command rendering, and every rejection reason.
#include "adapters/mqtt/mapping.hpp"
#include "adapters/mqtt/presets.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace gridlet::adapters::mqtt {
namespace {

DeviceBinding bind(std::string_view preset, std::string_view id, const Variables& overrides = {}) {
  auto loaded = load_builtin_preset(preset);
  if (!loaded.profile) {
    ADD_FAILURE() << preset << " does not load: " << loaded.errors.front().format();
    return {};
  }
  auto bound = bind_device(std::make_shared<const Profile>(std::move(*loaded.profile)), id, overrides);
  if (!bound.binding) {
    ADD_FAILURE() << preset << " does not bind: " << bound.errors.front();
    return {};
  }
  return std::move(*bound.binding);
}

const PointValue* reading(const Interpretation& in, std::string_view point) {
  for (const PointValue& v : in.readings) {
    if (v.point == point) return &v;
  }
  return nullptr;
}

// The value of `point`, or NaN (and a failure) when the message did not give one.
double value_of(const Interpretation& in, std::string_view point) {
  if (const PointValue* v = reading(in, point)) return v->value;
  std::string rejected;
  for (const Rejection& r : in.rejections) rejected += " [" + std::string(to_string(r.reason)) + " " + r.message + "]";
  ADD_FAILURE() << "no reading of " << point << ";" << rejected;
  return std::nan("");
}

void expect_rejected(const Interpretation& in, RejectReason reason, std::string_view point = {}) {
  EXPECT_FALSE(in.used());
  for (const Rejection& r : in.rejections) {
    if (r.reason == reason && (point.empty() || r.point == point)) {
      EXPECT_FALSE(r.message.empty());
      return;
    }
  }
  std::string got;
  for (const Rejection& r : in.rejections) got += " " + std::string(to_string(r.reason)) + ": " + r.message + ";";
  ADD_FAILURE() << "expected " << to_string(reason) << ", got" << got;
}

// --- Topic filters --------------------------------------------------------------------------------

TEST(MqttTopics, FiltersMatchAsTheStandardSays) {
  struct Case {
    const char* filter;
    const char* topic;
    bool match;
  };
  const Case cases[] = {
      // 4.7.1.2 multi-level wildcard, including the parent level.
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/#", "sport", true},
      {"#", "sport/tennis", true},
      {"#", "/", true},
      {"+/#", "sport", true},
      {"+/#", "/finance", true},
      {"+/#", "sport/tennis/player1", true},
      // 4.7.1.3 single-level wildcard.
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+", "/", false},
      {"+/+", "/", true},
      {"sport/+/player1", "sport/tennis/player1", true},
      // 4.7.2 topics beginning with $.
      {"#", "$SYS", false},
      {"#", "$SYS/broker/uptime", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"$SYS/#", "$SYS/broker/uptime", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      // 4.7.3 exact levels, case-sensitive, empty levels count.
      {"ACCOUNTS", "Accounts", false},
      {"a/b", "a/b/", false},
      {"a//b", "a//b", true},
      {"a/b", "a/b", true},
      // Invalid filters or topics never match.
      {"sport/tennis#", "sport/tennis", false},
      {"sport/tennis/#/ranking", "sport/tennis/x/ranking", false},
      {"sport+", "sport+", false},
      {"", "", false},
      {"#", "a/+", false},
      {"#", "", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(topic_matches(c.filter, c.topic), c.match) << "filter \"" << c.filter << "\", topic \"" << c.topic << "\"";
  }
}

TEST(MqttTopics, Validity) {
  for (const char* ok : {"#", "+", "+/+", "a/#", "/", "a//b", "+/tennis/#", "$SYS/#"}) {
    EXPECT_TRUE(valid_topic_filter(ok)) << ok;
  }
  for (const char* bad : {"", "a#", "a/#/b", "a+", "+a/b", "##", "a/+b"}) {
    EXPECT_FALSE(valid_topic_filter(bad)) << bad;
  }
  EXPECT_TRUE(valid_topic_name("a/b c/ü"));
  EXPECT_FALSE(valid_topic_name("a/+"));
  EXPECT_FALSE(valid_topic_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_topic_name("bad\xff utf-8"));
  EXPECT_FALSE(valid_topic_name("\xc0\xaf"));  // overlong '/'
  EXPECT_FALSE(valid_topic_name(std::string(kMaxTopicBytes + 1, 'a')));
  EXPECT_TRUE(valid_topic_variable("kitchen/floor_light"));
  EXPECT_FALSE(valid_topic_variable(""));
  EXPECT_FALSE(valid_topic_variable("a+b"));
  EXPECT_FALSE(valid_topic_variable(std::string(kMaxVariableBytes + 1, 'a')));
}

// --- Binding --------------------------------------------------------------------------------------

TEST(MqttBinding, RendersTopicsAndListsSubscriptions) {
  const DeviceBinding shelly = bind("shelly-gen2-switch", "shellyplus1pm-a8032ab12345");
  EXPECT_EQ(subscriptions(shelly), (std::vector<std::string>{"shellyplus1pm-a8032ab12345/online",
                                                              "shellyplus1pm-a8032ab12345/events/rpc"}));
  const DeviceBinding tasmota = bind("tasmota-plug", "tasmota_ABC123");
  EXPECT_EQ(subscriptions(tasmota), (std::vector<std::string>{"tele/tasmota_ABC123/LWT", "tele/tasmota_ABC123/SENSOR",
                                                               "tele/tasmota_ABC123/STATE",
                                                               "stat/tasmota_ABC123/POWER"}));
  // A base topic over two levels and a friendly name with a '/'.
  const DeviceBinding z2m = bind("zigbee2mqtt-plug", "kitchen/plug", {{"base", "home/z2m"}});
  EXPECT_EQ(subscriptions(z2m),
            (std::vector<std::string>{"home/z2m/kitchen/plug/availability", "home/z2m/kitchen/plug"}));
  const DeviceBinding dtu = bind("opendtu", "114182912345");
  const auto dtu_subs = subscriptions(dtu);
  ASSERT_EQ(dtu_subs.size(), 12U);  // availability and 11 points; the limit state is a point's topic
  EXPECT_EQ(dtu_subs.front(), "solar/dtu/status");
  EXPECT_EQ(dtu_subs[1], "solar/114182912345/0/power");
}

TEST(MqttBinding, RejectsBadVariables) {
  auto profile = std::make_shared<const Profile>(*load_builtin_preset("zigbee2mqtt-plug").profile);
  auto r = bind_device(profile, "plug/+");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_NE(r.errors[0].find("topic id"), std::string::npos);
  r = bind_device(profile, "");
  EXPECT_FALSE(r.binding);
  r = bind_device(profile, "plug", {{"bsae", "z"}, {"base", "a/#"}});
  ASSERT_EQ(r.errors.size(), 2U);
  EXPECT_NE(r.errors[0].find("variable base"), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[1].find("declares no such variable"), std::string::npos) << r.errors[1];
  EXPECT_NE(r.errors[1].find("it has base"), std::string::npos) << r.errors[1];
  EXPECT_FALSE(bind_device(nullptr, "x").binding);
}

// --- Shelly Gen2 switch ---------------------------------------------------------------------------

const char* const kShellyId = "shellyplus1pm-a8032ab12345";

TEST(MqttShellySwitch, NotifyStatusCarriesOnlyWhatChanged) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  const auto in = interpret(b, "shellyplus1pm-a8032ab12345/events/rpc",
                            R"({"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events",
                                "method":"NotifyStatus",
                                "params":{"ts":1718000000.25,"switch:0":{"id":0,"apower":1234.5,"current":5.37}}})");
  EXPECT_TRUE(in.rejections.empty()) << in.rejections.front().message;
  ASSERT_EQ(in.readings.size(), 2U);
  EXPECT_EQ(value_of(in, "power_w"), 1234.5);
  EXPECT_EQ(reading(in, "power_w")->unit, "W");
  EXPECT_EQ(reading(in, "power_w")->timestamp_ms, 1718000000250);
  EXPECT_EQ(reading(in, "power_w")->max_age_ms, 3'600'000);
  EXPECT_EQ(value_of(in, "current_a"), 5.37);
  EXPECT_TRUE(in.observations.empty());
}

TEST(MqttShellySwitch, NotifyFullStatusGivesEverything) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  const auto in = interpret(b, "shellyplus1pm-a8032ab12345/events/rpc", R"({
    "src": "shellyplus1pm-a8032ab12345", "dst": "shellyplus1pm-a8032ab12345/events",
    "method": "NotifyFullStatus",
    "params": {
      "ts": 1718000100.5,
      "cloud": {"connected": false}, "mqtt": {"connected": true},
      "input:0": {"id": 0, "state": false},
      "switch:0": {"id": 0, "source": "init", "output": true, "apower": 812.0, "voltage": 231.4,
                   "freq": 50.02, "current": 3.52,
                   "aenergy": {"total": 98765.432, "by_minute": [13.5, 13.4, 13.6], "minute_ts": 1718000100},
                   "temperature": {"tC": 41.3, "tF": 106.3}},
      "sys": {"mac": "A8032AB12345", "uptime": 86400}
    }})");
  EXPECT_TRUE(in.rejections.empty());
  EXPECT_EQ(in.readings.size(), 7U);
  EXPECT_EQ(value_of(in, "power_w"), 812.0);
  EXPECT_EQ(value_of(in, "energy_wh"), 98765.432);
  EXPECT_EQ(reading(in, "energy_wh")->unit, "Wh");
  EXPECT_EQ(reading(in, "energy_wh")->kind, ReadingKind::kCounter);
  EXPECT_EQ(value_of(in, "voltage_v"), 231.4);
  EXPECT_EQ(value_of(in, "frequency_hz"), 50.02);
  EXPECT_EQ(value_of(in, "temperature_c"), 41.3);
  EXPECT_EQ(value_of(in, "output"), 1.0);  // true -> 1
  EXPECT_EQ(reading(in, "output")->kind, ReadingKind::kStatus);
  // The full status also reports the relay: it confirms a pending command.
  ASSERT_EQ(in.observations.size(), 1U);
  EXPECT_EQ(in.observations[0].control, "output");
  EXPECT_EQ(in.observations[0].value, 1.0);
}

TEST(MqttShellySwitch, OtherNotificationsAreNotMapped) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  const auto in = interpret(b, "shellyplus1pm-a8032ab12345/events/rpc",
                            R"({"src":"shellyplus1pm-a8032ab12345","method":"NotifyEvent",
                                "params":{"ts":1718000000.1,"events":[{"component":"input:0","id":0,
                                "event":"single_push","ts":1718000000.1}]}})");
  expect_rejected(in, RejectReason::kNoMapping);
}

TEST(MqttShellySwitch, TimeBeforeSyncIsNotBelieved) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  const auto in = interpret(b, "shellyplus1pm-a8032ab12345/events/rpc",
                            R"({"method":"NotifyStatus","params":{"ts":12.5,"switch:0":{"apower":5}}})");
  ASSERT_TRUE(reading(in, "power_w"));
  EXPECT_FALSE(reading(in, "power_w")->timestamp_ms);
  const Reading r = to_reading(*reading(in, "power_w"), "plug-1", 1'718'000'000'000);
  EXPECT_EQ(r.timestamp_ms, 1'718'000'000'000);
  EXPECT_EQ(r.device, "plug-1");
  EXPECT_EQ(r.point, "power_w");
  EXPECT_EQ(r.quality, Quality::kGood);
  EXPECT_EQ(r.max_age_ms, 3'600'000);
}

TEST(MqttShellySwitch, Availability) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  EXPECT_EQ(interpret(b, "shellyplus1pm-a8032ab12345/online", "true").online, true);
  EXPECT_EQ(interpret(b, "shellyplus1pm-a8032ab12345/online", "false").online, false);
  expect_rejected(interpret(b, "shellyplus1pm-a8032ab12345/online", "maybe"), RejectReason::kBadValue);
}

TEST(MqttShellySwitch, SwitchSetAndItsConfirmation) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  for (const bool on : {true, false}) {
    const auto r = render_command(b, "output", on ? 1 : 0);
    ASSERT_TRUE(r.command) << r.rejection->message;
    EXPECT_EQ(r.command->topic, "shellyplus1pm-a8032ab12345/rpc");
    const auto frame = nlohmann::json::parse(r.command->payload);
    EXPECT_EQ(frame["method"], "Switch.Set");
    EXPECT_EQ(frame["src"], "gridlet");
    EXPECT_EQ(frame["params"]["id"], 0);
    EXPECT_EQ(frame["params"]["on"], on);
  }
  // The device then notifies the new output, with the source of the change.
  const auto in = interpret(b, "shellyplus1pm-a8032ab12345/events/rpc",
                            R"({"src":"shellyplus1pm-a8032ab12345","method":"NotifyStatus",
                                "params":{"ts":1718000200.0,"switch:0":{"id":0,"output":false,"source":"MQTT"}}})");
  ASSERT_EQ(in.observations.size(), 1U);
  EXPECT_EQ(in.observations[0].control, "output");
  EXPECT_EQ(in.observations[0].value, 0.0);
  EXPECT_TRUE(confirms(*b.profile->find_control("output"), 0, in.observations[0].value));
  EXPECT_FALSE(confirms(*b.profile->find_control("output"), 1, in.observations[0].value));
}

TEST(MqttShellySwitch, VariablesAreJsonEscapedInJsonPayloads) {
  const std::string src = "gw \"east\"\\1\t";
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId, {{"src", src}});
  const auto r = render_command(b, "output", 1);
  ASSERT_TRUE(r.command);
  const auto frame = nlohmann::json::parse(r.command->payload);
  EXPECT_EQ(frame["src"], src);
}

// --- Shelly Pro 3EM -------------------------------------------------------------------------------

TEST(MqttShellyPro3em, PhasesAndCounters) {
  const DeviceBinding b = bind("shelly-pro3em", "shellypro3em-c8f09e8a1b2c");
  const auto power = interpret(b, "shellypro3em-c8f09e8a1b2c/events/rpc", R"({
    "src": "shellypro3em-c8f09e8a1b2c", "dst": "shellypro3em-c8f09e8a1b2c/events", "method": "NotifyStatus",
    "params": {"ts": 1718000300.01, "em:0": {"id": 0,
      "a_current": 4.029, "a_voltage": 236.1, "a_act_power": 951.2, "a_aprt_power": 951.9, "a_pf": 1.0,
      "b_current": 1.5, "b_voltage": 235.0, "b_act_power": -320.5, "b_aprt_power": 352.5, "b_pf": -0.91,
      "c_current": 0.0, "c_voltage": 234.2, "c_act_power": 0.0, "c_aprt_power": 0.0, "c_pf": 0.0,
      "n_current": null, "total_current": 5.529, "total_act_power": 630.7, "total_aprt_power": 1304.4}}})");
  EXPECT_TRUE(power.rejections.empty());
  EXPECT_EQ(power.readings.size(), 11U);
  EXPECT_EQ(value_of(power, "power_w"), 630.7);
  EXPECT_EQ(value_of(power, "power_l1_w"), 951.2);
  EXPECT_EQ(value_of(power, "power_l2_w"), -320.5);  // phase B exports
  EXPECT_EQ(value_of(power, "power_l3_w"), 0.0);
  EXPECT_EQ(value_of(power, "voltage_l3_v"), 234.2);
  EXPECT_EQ(value_of(power, "current_l1_a"), 4.029);
  EXPECT_EQ(value_of(power, "current_total_a"), 5.529);

  const auto energy = interpret(b, "shellypro3em-c8f09e8a1b2c/events/rpc", R"({
    "method": "NotifyStatus",
    "params": {"ts": 1718000360.0, "emdata:0": {"id": 0,
      "a_total_act_energy": 1500.25, "a_total_act_ret_energy": 0.0,
      "b_total_act_energy": 700.0, "b_total_act_ret_energy": 10.25,
      "c_total_act_energy": 575.25, "c_total_act_ret_energy": 0.0,
      "total_act": 2775.5, "total_act_ret": 10.25}}})");
  EXPECT_EQ(energy.readings.size(), 2U);
  EXPECT_EQ(value_of(energy, "energy_import_wh"), 2775.5);
  EXPECT_EQ(value_of(energy, "energy_export_wh"), 10.25);
  EXPECT_EQ(reading(energy, "energy_export_wh")->kind, ReadingKind::kCounter);
  EXPECT_EQ(reading(energy, "energy_export_wh")->timestamp_ms, 1718000360000);
  EXPECT_EQ(interpret(b, "shellypro3em-c8f09e8a1b2c/online", "false").online, false);
}

// --- Tasmota --------------------------------------------------------------------------------------

TEST(MqttTasmotaPlug, TelemetryInKwhBecomesWh) {
  const DeviceBinding b = bind("tasmota-plug", "tasmota_ABC123");
  const auto in = interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"Time":"2024-06-10T12:00:00",
    "ENERGY":{"TotalStartTime":"2023-01-15T09:30:00","Total":12.345,"Yesterday":0.512,"Today":0.25,"Period":3,
              "Power":45,"ApparentPower":50,"ReactivePower":22,"Factor":0.9,"Voltage":230,"Current":0.217}})");
  EXPECT_TRUE(in.rejections.empty());
  EXPECT_EQ(in.readings.size(), 6U);
  EXPECT_EQ(value_of(in, "power_w"), 45.0);
  EXPECT_DOUBLE_EQ(value_of(in, "energy_wh"), 12345.0);
  EXPECT_EQ(reading(in, "energy_wh")->unit, "Wh");
  EXPECT_DOUBLE_EQ(value_of(in, "energy_today_wh"), 250.0);
  EXPECT_EQ(value_of(in, "voltage_v"), 230.0);
  EXPECT_EQ(value_of(in, "current_a"), 0.217);
  EXPECT_EQ(value_of(in, "power_factor"), 0.9);
  EXPECT_FALSE(reading(in, "power_w")->timestamp_ms);  // Tasmota's Time has no zone
  EXPECT_EQ(reading(in, "power_w")->max_age_ms, 660'000);
}

TEST(MqttTasmotaPlug, StateLwtAndPowerCommand) {
  const DeviceBinding b = bind("tasmota-plug", "tasmota_ABC123");
  const auto state = interpret(b, "tele/tasmota_ABC123/STATE",
                               R"({"Time":"2024-06-10T12:00:00","Uptime":"0T01:00:00","UptimeSec":3600,
                                   "POWER":"ON","Wifi":{"AP":1,"RSSI":60}})");
  EXPECT_EQ(value_of(state, "relay"), 1.0);
  EXPECT_EQ(interpret(b, "tele/tasmota_ABC123/LWT", "Online").online, true);
  EXPECT_EQ(interpret(b, "tele/tasmota_ABC123/LWT", "Offline").online, false);

  auto r = render_command(b, "relay", 0);
  ASSERT_TRUE(r.command);
  EXPECT_EQ(r.command->topic, "cmnd/tasmota_ABC123/POWER");
  EXPECT_EQ(r.command->payload, "OFF");
  EXPECT_EQ(render_command(b, "relay", 1).command->payload, "ON");
  const auto answer = interpret(b, "stat/tasmota_ABC123/POWER", "OFF");
  ASSERT_EQ(answer.observations.size(), 1U);
  EXPECT_EQ(answer.observations[0].value, 0.0);
  expect_rejected(interpret(b, "stat/tasmota_ABC123/POWER", "TOGGLE"), RejectReason::kBadValue, "relay");
}

// --- Zigbee2MQTT ----------------------------------------------------------------------------------

TEST(MqttZigbee2mqttPlug, StateObject) {
  const DeviceBinding b = bind("zigbee2mqtt-plug", "kitchen/plug");
  const auto in = interpret(b, "zigbee2mqtt/kitchen/plug",
                            R"({"state":"ON","power":120.5,"energy":3.21,"voltage":229,"current":0.55,
                                "power_on_behavior":"previous","linkquality":87,"last_seen":1718000400123})");
  EXPECT_TRUE(in.rejections.empty());
  EXPECT_EQ(in.readings.size(), 5U);
  EXPECT_EQ(value_of(in, "power_w"), 120.5);
  EXPECT_DOUBLE_EQ(value_of(in, "energy_wh"), 3210.0);
  EXPECT_EQ(value_of(in, "voltage_v"), 229.0);
  EXPECT_EQ(value_of(in, "current_a"), 0.55);
  EXPECT_EQ(value_of(in, "state"), 1.0);
  EXPECT_EQ(reading(in, "power_w")->timestamp_ms, 1718000400123);
  ASSERT_EQ(in.observations.size(), 1U);
  EXPECT_EQ(in.observations[0].value, 1.0);
  // last_seen in ISO form (another Zigbee2MQTT setting) is not a timestamp we use.
  const auto iso = interpret(b, "zigbee2mqtt/kitchen/plug", R"({"power":1,"last_seen":"2024-06-10T12:00:00Z"})");
  EXPECT_FALSE(reading(iso, "power_w")->timestamp_ms);
}

TEST(MqttZigbee2mqttPlug, AvailabilityNewAndLegacy) {
  const DeviceBinding b = bind("zigbee2mqtt-plug", "kitchen/plug");
  EXPECT_EQ(interpret(b, "zigbee2mqtt/kitchen/plug/availability", R"({"state":"online"})").online, true);
  EXPECT_EQ(interpret(b, "zigbee2mqtt/kitchen/plug/availability", R"({"state":"offline"})").online, false);
  EXPECT_EQ(interpret(b, "zigbee2mqtt/kitchen/plug/availability", "online").online, true);
  EXPECT_EQ(interpret(b, "zigbee2mqtt/kitchen/plug/availability", "offline").online, false);
  expect_rejected(interpret(b, "zigbee2mqtt/kitchen/plug/availability", R"({"state":1})"), RejectReason::kWrongType);
  // The availability topic is not the state topic's.
  EXPECT_TRUE(interpret(b, "zigbee2mqtt/kitchen/plug/availability", "online").readings.empty());
}

TEST(MqttZigbee2mqttPlug, SetCommand) {
  const DeviceBinding b = bind("zigbee2mqtt-plug", "kitchen/plug", {{"base", "z2m"}});
  const auto r = render_command(b, "state", 1);
  ASSERT_TRUE(r.command);
  EXPECT_EQ(r.command->topic, "z2m/kitchen/plug/set");
  EXPECT_EQ(r.command->payload, R"({"state":"ON"})");
  EXPECT_EQ(render_command(b, "state", 0).command->payload, R"({"state":"OFF"})");
  const auto in = interpret(b, "z2m/kitchen/plug", R"({"state":"OFF","power":0})");
  ASSERT_EQ(in.observations.size(), 1U);
  EXPECT_EQ(in.observations[0].value, 0.0);
}

// --- OpenDTU --------------------------------------------------------------------------------------

TEST(MqttOpenDtu, PlainNumberTopics) {
  const DeviceBinding b = bind("opendtu", "114182912345");
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/0/power", "123.4"), "power_w"), 123.4);
  EXPECT_DOUBLE_EQ(value_of(interpret(b, "solar/114182912345/0/yieldtotal", "1234.567"), "energy_wh"), 1234567.0);
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/0/yieldday", "987"), "energy_today_wh"), 987.0);
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/0/voltage", "230.1"), "voltage_v"), 230.1);
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/0/frequency", "49.98"), "frequency_hz"), 49.98);
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/status/reachable", "1"), "reachable"), 1.0);
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/status/producing", "0"), "producing"), 0.0);
  EXPECT_EQ(interpret(b, "solar/dtu/status", "online").online, true);
  EXPECT_EQ(interpret(b, "solar/dtu/status", "offline").online, false);
  // Another inverter on the same DTU is another device.
  expect_rejected(interpret(b, "solar/114182999999/0/power", "5"), RejectReason::kNoMapping);
}

TEST(MqttOpenDtu, NonPersistentLimitAndItsConfirmation) {
  const DeviceBinding b = bind("opendtu", "114182912345");
  const Control& limit = *b.profile->find_control("limit_relative_pct");
  EXPECT_TRUE(limit.nonpersistent);
  EXPECT_EQ(limit.failsafe, 100.0);
  auto r = render_command(b, "limit_relative_pct", 50);
  ASSERT_TRUE(r.command);
  EXPECT_EQ(r.command->topic, "solar/114182912345/cmd/limit_nonpersistent_relative");
  EXPECT_EQ(r.command->payload, "50");
  EXPECT_EQ(render_command(b, "limit_relative_pct", 12.5).command->payload, "12.5");
  const auto in = interpret(b, "solar/114182912345/status/limit_relative", "50.0");
  ASSERT_EQ(in.observations.size(), 1U);
  EXPECT_EQ(in.observations[0].control, "limit_relative_pct");
  EXPECT_EQ(value_of(in, "limit_relative_pct"), 50.0);  // also a point
  EXPECT_TRUE(confirms(limit, 33.3, 33.4));
  EXPECT_FALSE(confirms(limit, 50, 50.2));
  EXPECT_FALSE(confirms(limit, 50, std::nan("")));
}

// --- Commands that cannot be sent -----------------------------------------------------------------

TEST(MqttCommands, Rejections) {
  const DeviceBinding dtu = bind("opendtu", "114182912345");
  auto r = render_command(dtu, "limit_relative_pct", 101);
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->reason, RejectReason::kBadValue);
  EXPECT_NE(r.rejection->message.find("outside [0, 100]"), std::string::npos) << r.rejection->message;
  EXPECT_EQ(render_command(dtu, "limit_relative_pct", std::nan("")).rejection->reason, RejectReason::kBadValue);
  r = render_command(dtu, "limit_absolute_w", 300);
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->reason, RejectReason::kNoMapping);
  const DeviceBinding shelly = bind("shelly-gen2-switch", kShellyId);
  r = render_command(shelly, "output", 0.5);
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->reason, RejectReason::kBadValue);
  EXPECT_NE(r.rejection->message.find("(0, 1)"), std::string::npos) << r.rejection->message;
  EXPECT_FALSE(render_command(DeviceBinding{}, "output", 1).command);
}

// --- Every rejection reason -----------------------------------------------------------------------

TEST(MqttRejections, NotJson) {
  const DeviceBinding b = bind("shelly-gen2-switch", kShellyId);
  expect_rejected(interpret(b, "shellyplus1pm-a8032ab12345/events/rpc", "hello"), RejectReason::kNotJson);
  expect_rejected(interpret(b, "shellyplus1pm-a8032ab12345/events/rpc", R"({"method":"NotifyStatus")"),
                  RejectReason::kNotJson);
  expect_rejected(interpret(b, "shellyplus1pm-a8032ab12345/events/rpc", "{\"m\":\"\xff\"}"), RejectReason::kNotJson);
}

TEST(MqttRejections, WrongType) {
  const DeviceBinding b = bind("tasmota-plug", "tasmota_ABC123");
  expect_rejected(interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"ENERGY":{"Power":[12,13,14]}})"),
                  RejectReason::kWrongType, "power_w");
  expect_rejected(interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"ENERGY":{"Power":"lots"}})"),
                  RejectReason::kWrongType, "power_w");
  expect_rejected(interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"ENERGY":{"Power":null}})"),
                  RejectReason::kWrongType, "power_w");
  // A number in a string is still a number.
  EXPECT_EQ(value_of(interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"ENERGY":{"Power":"45.5"}})"), "power_w"), 45.5);
  // One bad field does not spoil the others.
  const auto mixed = interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"ENERGY":{"Power":45,"Voltage":{"L1":230}}})");
  EXPECT_TRUE(mixed.used());
  EXPECT_EQ(value_of(mixed, "power_w"), 45.0);
  ASSERT_EQ(mixed.rejections.size(), 1U);
  EXPECT_EQ(mixed.rejections[0].reason, RejectReason::kWrongType);
  EXPECT_EQ(mixed.rejections[0].point, "voltage_v");
}

TEST(MqttRejections, MissingField) {
  const DeviceBinding b = bind("tasmota-plug", "tasmota_ABC123");
  const auto in = interpret(b, "tele/tasmota_ABC123/SENSOR", R"({"Time":"2024-06-10T12:00:00","AM2301":{"Temperature":21.5}})");
  expect_rejected(in, RejectReason::kMissingField);
  EXPECT_NE(in.rejections[0].message.find("/ENERGY/Power"), std::string::npos) << in.rejections[0].message;
}

TEST(MqttRejections, TooLarge) {
  const DeviceBinding b = bind("zigbee2mqtt-plug", "plug");
  expect_rejected(interpret(b, "zigbee2mqtt/plug", std::string(kMaxPayloadBytes + 1, ' ')), RejectReason::kTooLarge);
  std::string deep = R"({"power":)" + std::string(kMaxJsonDepth, '[') + "1" + std::string(kMaxJsonDepth, ']') + "}";
  expect_rejected(interpret(b, "zigbee2mqtt/plug", deep), RejectReason::kTooLarge);
  expect_rejected(interpret(b, std::string(kMaxTopicBytes + 1, 'a'), "1"), RejectReason::kTooLarge);
  // Exactly at the limits is fine.
  std::string padded = R"({"power":7})";
  padded.resize(kMaxPayloadBytes, ' ');
  EXPECT_EQ(value_of(interpret(b, "zigbee2mqtt/plug", padded), "power_w"), 7.0);
}

TEST(MqttRejections, NoMapping) {
  const DeviceBinding b = bind("tasmota-plug", "tasmota_ABC123");
  expect_rejected(interpret(b, "tele/tasmota_OTHER/SENSOR", R"({"ENERGY":{"Power":1}})"), RejectReason::kNoMapping);
  expect_rejected(interpret(b, "tele/tasmota_ABC123/+", "1"), RejectReason::kNoMapping);  // not a topic name
  expect_rejected(interpret(b, "", "1"), RejectReason::kNoMapping);
  expect_rejected(interpret(DeviceBinding{}, "tele/tasmota_ABC123/LWT", "Online"), RejectReason::kNoMapping);
}

TEST(MqttRejections, BadValue) {
  const DeviceBinding b = bind("opendtu", "114182912345");
  expect_rejected(interpret(b, "solar/114182912345/0/power", "abc"), RejectReason::kBadValue, "power_w");
  expect_rejected(interpret(b, "solar/114182912345/0/power", ""), RejectReason::kBadValue, "power_w");
  expect_rejected(interpret(b, "solar/114182912345/0/power", "nan"), RejectReason::kBadValue, "power_w");
  expect_rejected(interpret(b, "solar/114182912345/0/power", "1e999"), RejectReason::kBadValue, "power_w");
  expect_rejected(interpret(b, "solar/114182912345/0/voltage", "900"), RejectReason::kBadValue, "voltage_v");
  expect_rejected(interpret(b, "solar/dtu/status", "rebooting"), RejectReason::kBadValue);
  EXPECT_EQ(value_of(interpret(b, "solar/114182912345/0/power", " 12\n"), "power_w"), 12.0);  // whitespace is fine
}

TEST(MqttRejections, ReasonNames) {
  EXPECT_EQ(to_string(RejectReason::kNotJson), "not_json");
  EXPECT_EQ(to_string(RejectReason::kWrongType), "wrong_type");
  EXPECT_EQ(to_string(RejectReason::kMissingField), "missing_field");
  EXPECT_EQ(to_string(RejectReason::kTooLarge), "too_large");
  EXPECT_EQ(to_string(RejectReason::kNoMapping), "no_mapping");
  EXPECT_EQ(to_string(RejectReason::kBadValue), "bad_value");
}

// --- JSON pointers and conditions in a profile of our own -----------------------------------------

TEST(MqttMapping, PointersConditionsAndValueMaps) {
  auto loaded = load_profile_string(R"([profile]
name = "t"
kind = "other"
source = "Test device, https://example.com"

[[points]]
name = "second"
topic = "{id}/data"
json = "/list/1/a~1b"
when = { json = "/type", equals = [2, true, "x"] }

[[points]]
name = "mode"
topic = "{id}/data"
json = "/mode"
values = { auto = 2, "true" = 5 }
)",
                                    "t.toml");
  ASSERT_TRUE(loaded.profile) << loaded.errors.front().format();
  const auto bound = bind_device(std::make_shared<const Profile>(std::move(*loaded.profile)), "d");
  ASSERT_TRUE(bound.binding);
  const DeviceBinding& b = *bound.binding;
  const auto in = interpret(b, "d/data", R"({"type":2,"list":[{"a/b":1},{"a/b":42}],"mode":"auto"})");
  EXPECT_EQ(value_of(in, "second"), 42.0);
  EXPECT_EQ(value_of(in, "mode"), 2.0);
  EXPECT_EQ(value_of(interpret(b, "d/data", R"({"type":true,"list":[0,{"a/b":3}]})"), "second"), 3.0);
  EXPECT_EQ(value_of(interpret(b, "d/data", R"({"mode":true})"), "mode"), 5.0);  // mapped boolean
  EXPECT_FALSE(reading(interpret(b, "d/data", R"({"type":"2","list":[0,{"a/b":3}],"mode":"auto"})"), "second"));
  // On an object a token is a member name, also when it looks like an index.
  EXPECT_EQ(value_of(interpret(b, "d/data", R"({"type":2,"list":{"1":{"a/b":3}}})"), "second"), 3.0);
  expect_rejected(interpret(b, "d/data", R"({"type":3,"list":[0,{"a/b":3}],"mode":"manual"})"),
                  RejectReason::kBadValue, "mode");
  expect_rejected(interpret(b, "d/data", R"({"type":2,"list":{"01":{"a/b":3}}})"), RejectReason::kMissingField);
}

}  // namespace
}  // namespace gridlet::adapters::mqtt
