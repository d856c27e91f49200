// Home Assistant discovery documents for typical devices, each checked against Home Assistant's
// documented rules (tests/unit/ha_rules.hpp); and the checker itself, one broken document per rule.
#include "adapters/mqtt/ha_discovery.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/unit/ha_rules.hpp"

namespace gridlet::adapters::mqtt {
namespace {

using json = nlohmann::json;

GatewaySpec gateway(bool controls = true) {
  GatewaySpec gw;
  gw.site = "home";
  gw.sw_version = "0.1.0";
  gw.support_url = "https://gridlet.example/support";
  gw.controls_enabled = controls;
  return gw;
}

PointSpec point(std::string name, std::string unit, PointKind kind, PointRole role = PointRole::kNone) {
  PointSpec p;
  p.name = std::move(name);
  p.unit = std::move(unit);
  p.kind = kind;
  p.role = role;
  return p;
}

DeviceSpec inverter() {
  DeviceSpec d;
  d.id = "inverter";
  d.name = "PV inverter";
  d.manufacturer = "Fronius";
  d.model = "Symo 10.0-3-M";
  d.sw_version = "1.28.7-1";
  d.kind = DeviceKind::kInverter;
  d.points = {
      point("inverter_three_phase.W", "W", PointKind::kMeasured, PointRole::kPower),
      point("inverter_three_phase.WH", "Wh", PointKind::kCounter, PointRole::kPvProductionEnergy),
      point("inverter_three_phase.PhVphA", "V", PointKind::kMeasured),
      point("inverter_three_phase.A", "A", PointKind::kMeasured),
      point("inverter_three_phase.Hz", "Hz", PointKind::kMeasured),
      point("inverter_three_phase.VA", "VA", PointKind::kMeasured),
      point("inverter_three_phase.VAr", "var", PointKind::kMeasured),
      point("inverter_three_phase.TmpCab", "°C", PointKind::kMeasured),
      point("inverter_three_phase.St", "", PointKind::kStatus),
      point("controls.WMaxLimPct", "%", PointKind::kSetpoint),
  };
  ControlSpec limit;
  limit.name = "WMaxLimPct";
  limit.label = "Power limit";
  limit.kind = ControlKind::kNumber;
  limit.min = 0;
  limit.max = 100;
  limit.step = 1;
  limit.unit = "%";
  limit.state_point = "controls.WMaxLimPct";
  d.controls = {limit};
  return d;
}

DeviceSpec battery() {
  DeviceSpec d;
  d.id = "battery";
  d.name = "Home battery";
  d.manufacturer = "BYD";
  d.model = "HVS 7.7";
  d.kind = DeviceKind::kBattery;
  d.points = {
      point("battery.SoC", "%", PointKind::kMeasured, PointRole::kStateOfCharge),
      point("battery.charge_W", "W", PointKind::kMeasured, PointRole::kPower),
      point("battery.discharge_W", "W", PointKind::kMeasured, PointRole::kPower),
      point("battery.WHRtg", "Wh", PointKind::kMeasured),
  };
  return d;
}

DeviceSpec grid_meter() {
  DeviceSpec d;
  d.id = "grid_meter";
  d.name = "Grid meter";
  d.manufacturer = "Carlo Gavazzi";
  d.model = "EM24";
  d.kind = DeviceKind::kMeter;
  d.points = {
      point("meter.TotWhImp", "Wh", PointKind::kCounter, PointRole::kGridImportEnergy),
      point("meter.TotWhExp", "kWh", PointKind::kCounter, PointRole::kGridExportEnergy),
      point("meter.W", "W", PointKind::kMeasured, PointRole::kPower),
  };
  return d;
}

DeviceSpec shelly() {
  DeviceSpec d;
  d.id = "heat_pump_plug";
  d.name = "Heat pump plug";
  d.manufacturer = "Shelly";
  d.model = "Plus Plug S";
  d.kind = DeviceKind::kOther;
  d.points = {
      point("switch[0].apower", "W", PointKind::kMeasured, PointRole::kPower),
      point("switch[0].aenergy.total", "Wh", PointKind::kCounter),
      point("switch[0].voltage", "V", PointKind::kMeasured),
      point("switch[0].output", "", PointKind::kStatus, PointRole::kSwitchState),
      point("sys.overtemperature", "", PointKind::kStatus, PointRole::kAlarm),
  };
  ControlSpec relay;
  relay.name = "switch[0]";
  relay.label = "Relay";
  relay.kind = ControlKind::kSwitch;
  relay.state_point = "switch[0].output";
  d.controls = {relay};
  return d;
}

// Points whose names meet after '.', '[' and ']' are mapped.
DeviceSpec colliding() {
  DeviceSpec d;
  d.id = "odd_names";
  d.name = "Odd names";
  d.points = {
      point("a.b", "W", PointKind::kMeasured),
      point("a_b", "W", PointKind::kMeasured),
      point("a[b]", "W", PointKind::kMeasured),
      point("x[1].y", "V", PointKind::kMeasured),
      point("x_1_y", "V", PointKind::kMeasured),
      point("plain", "A", PointKind::kMeasured),
  };
  return d;
}

void expect_passes_rules(const std::vector<DiscoveryMessage>& messages) {
  ASSERT_FALSE(messages.empty());
  for (const auto& m : messages) {
    const auto v = ha_rules::check_discovery(m.topic, m.payload);
    EXPECT_TRUE(v.empty()) << m.topic << "\n" << ha_rules::describe(v) << m.payload;
  }
}

const DiscoveredEntity& entity(const DeviceDiscovery& dd, std::string_view source, bool control = false) {
  for (const auto& e : dd.entities) {
    if (e.source == source && e.control == control) return e;
  }
  ADD_FAILURE() << "no entity for " << source;
  static const DiscoveredEntity none;
  return none;
}

json doc_of(const DiscoveredEntity& e) { return json::parse(e.message.payload); }

bool has_entity(const DeviceDiscovery& dd, std::string_view source) {
  return std::any_of(dd.entities.begin(), dd.entities.end(),
                     [&](const DiscoveredEntity& e) { return e.source == source; });
}

// --- Documents for typical devices ---------------------------------------------------------------

TEST(HaDiscovery, InverterPowerAndEnergyAreShownAndPassTheRules) {
  const auto dd = discover_device(gateway(), inverter());
  expect_passes_rules(dd.messages());
  EXPECT_TRUE(dd.issues.empty());

  const auto& power = entity(dd, "inverter_three_phase.W");
  EXPECT_EQ(power.component, "sensor");
  EXPECT_EQ(power.message.topic,
            "homeassistant/sensor/gridlet_home_DEV_inverter/inverter_three_phase_W/config");
  json doc = doc_of(power);
  EXPECT_EQ(doc["device_class"], "power");
  EXPECT_EQ(doc["unit_of_measurement"], "W");
  EXPECT_EQ(doc["state_class"], "measurement");
  EXPECT_EQ(doc["enabled_by_default"], true);
  EXPECT_EQ(doc["name"], "Power");
  EXPECT_EQ(doc["state_topic"], "gridlet/home/inverter/inverter_three_phase.W");
  EXPECT_EQ(doc["unique_id"], "gridlet:home:inverter:inverter_three_phase_W");

  doc = doc_of(entity(dd, "inverter_three_phase.WH"));
  EXPECT_EQ(doc["device_class"], "energy");
  EXPECT_EQ(doc["unit_of_measurement"], "Wh");
  EXPECT_EQ(doc["state_class"], "total_increasing");
  EXPECT_EQ(doc["enabled_by_default"], true);
  EXPECT_EQ(doc["name"], "PV production energy");
}

TEST(HaDiscovery, InverterDetailsAreClassifiedButStartDisabled) {
  const auto dd = discover_device(gateway(), inverter());
  const std::vector<std::pair<std::string, std::string>> classes = {
      {"inverter_three_phase.PhVphA", "voltage"},      {"inverter_three_phase.A", "current"},
      {"inverter_three_phase.Hz", "frequency"},         {"inverter_three_phase.VA", "apparent_power"},
      {"inverter_three_phase.VAr", "reactive_power"},   {"inverter_three_phase.TmpCab", "temperature"}};
  for (const auto& [source, cls] : classes) {
    const json doc = doc_of(entity(dd, source));
    EXPECT_EQ(doc["device_class"], cls) << source;
    EXPECT_EQ(doc["state_class"], "measurement") << source;
    EXPECT_EQ(doc["enabled_by_default"], false) << source;
    EXPECT_FALSE(doc.contains("entity_category")) << source;
  }
  const json status = doc_of(entity(dd, "inverter_three_phase.St"));
  EXPECT_EQ(status["entity_category"], "diagnostic");
  EXPECT_EQ(status["enabled_by_default"], false);
  EXPECT_FALSE(status.contains("state_class"));
  EXPECT_FALSE(status.contains("device_class"));
}

TEST(HaDiscovery, InverterLimitIsANumberThatReadsItsStatePoint) {
  const auto dd = discover_device(gateway(), inverter());
  const auto& limit = entity(dd, "WMaxLimPct", true);
  EXPECT_EQ(limit.component, "number");
  EXPECT_EQ(limit.unique_id, "gridlet:home:inverter:control:WMaxLimPct");
  const json doc = doc_of(limit);
  EXPECT_EQ(doc["command_topic"], "gridlet/home/inverter/WMaxLimPct/set");
  EXPECT_EQ(doc["state_topic"], "gridlet/home/inverter/controls.WMaxLimPct");
  EXPECT_EQ(doc["min"], 0.0);
  EXPECT_EQ(doc["max"], 100.0);
  EXPECT_EQ(doc["step"], 1.0);
  EXPECT_EQ(doc["mode"], "box");
  EXPECT_EQ(doc["unit_of_measurement"], "%");
  EXPECT_FALSE(doc.contains("device_class"));
  EXPECT_EQ(doc["name"], "Power limit");
  // The read-back is shown by the number, not again as a sensor.
  EXPECT_FALSE(has_entity(dd, "controls.WMaxLimPct"));
}

TEST(HaDiscovery, BatteryGetsNoFakeEnergyCountersButAHintToIntegratePower) {
  const auto dd = discover_device(gateway(), battery());
  expect_passes_rules(dd.messages());

  const json soc = doc_of(entity(dd, "battery.SoC"));
  EXPECT_EQ(soc["device_class"], "battery");
  EXPECT_EQ(soc["unit_of_measurement"], "%");
  EXPECT_EQ(soc["state_class"], "measurement");
  EXPECT_EQ(soc["enabled_by_default"], true);
  EXPECT_EQ(soc["name"], "State of charge");

  for (const char* p : {"battery.charge_W", "battery.discharge_W"}) {
    const json doc = doc_of(entity(dd, p));
    EXPECT_EQ(doc["device_class"], "power");
    EXPECT_EQ(doc["enabled_by_default"], true);
    EXPECT_EQ(doc["name"], p);  // two power points: neither is just "Power"
  }
  // Stored energy is not a counter.
  const json capacity = doc_of(entity(dd, "battery.WHRtg"));
  EXPECT_EQ(capacity["device_class"], "energy_storage");
  EXPECT_EQ(capacity["state_class"], "measurement");

  for (const auto& e : dd.entities) {
    EXPECT_NE(doc_of(e).value("device_class", ""), "energy") << e.source;
  }
  ASSERT_EQ(dd.integrate_from_power.size(), 2u);
  EXPECT_EQ(dd.integrate_from_power[0].role, PointRole::kBatteryChargeEnergy);
  EXPECT_EQ(dd.integrate_from_power[1].role, PointRole::kBatteryDischargeEnergy);
  const std::vector<std::string> power = {"battery.charge_W", "battery.discharge_W"};
  EXPECT_EQ(dd.integrate_from_power[0].from_power_points, power);
  EXPECT_EQ(dd.integrate_from_power[0].suggested_point, "integrated.charge_energy");
  EXPECT_EQ(dd.integrate_from_power[1].suggested_point, "integrated.discharge_energy");
}

TEST(HaDiscovery, AnIntegratedCounterIsShownOnceTheGatewayPublishesIt) {
  DeviceSpec d = battery();
  for (const auto& hint : discover_device(gateway(), d).integrate_from_power) {
    PointSpec p = point(hint.suggested_point, "Wh", PointKind::kCounter, hint.role);
    p.integrated_from_power = true;
    d.points.push_back(p);
  }
  const auto dd = discover_device(gateway(), d);
  expect_passes_rules(dd.messages());
  EXPECT_TRUE(dd.integrate_from_power.empty());
  const json charge = doc_of(entity(dd, "integrated.charge_energy"));
  EXPECT_EQ(charge["device_class"], "energy");
  EXPECT_EQ(charge["state_class"], "total_increasing");
  EXPECT_EQ(charge["name"], "Battery charge energy (integrated)");
}

TEST(HaDiscovery, BatteryWithoutPowerPointsSaysSoInsteadOfHinting) {
  DeviceSpec d = battery();
  d.points.resize(1);  // SoC only
  const auto dd = discover_device(gateway(), d);
  EXPECT_TRUE(dd.integrate_from_power.empty());
  EXPECT_EQ(dd.issues.size(), 2u);
}

TEST(HaDiscovery, GridMeterCountersAreWhatTheEnergyDashboardNeeds) {
  const auto dd = discover_device(gateway(), grid_meter());
  expect_passes_rules(dd.messages());
  EXPECT_TRUE(dd.integrate_from_power.empty());  // not a battery
  const json imp = doc_of(entity(dd, "meter.TotWhImp"));
  EXPECT_EQ(imp["device_class"], "energy");
  EXPECT_EQ(imp["state_class"], "total_increasing");
  EXPECT_EQ(imp["unit_of_measurement"], "Wh");
  EXPECT_EQ(imp["name"], "Grid import energy");
  EXPECT_EQ(imp["enabled_by_default"], true);
  const json exp = doc_of(entity(dd, "meter.TotWhExp"));
  EXPECT_EQ(exp["device_class"], "energy");
  EXPECT_EQ(exp["unit_of_measurement"], "kWh");
  EXPECT_EQ(exp["name"], "Grid export energy");
}

TEST(HaDiscovery, ShellySwitchHasPowerEnergyAndASwitch) {
  const auto dd = discover_device(gateway(), shelly());
  expect_passes_rules(dd.messages());

  const auto& relay = entity(dd, "switch[0]", true);
  EXPECT_EQ(relay.component, "switch");
  EXPECT_EQ(relay.object_id, "switch_0");
  json doc = doc_of(relay);
  EXPECT_EQ(doc["command_topic"], "gridlet/home/heat_pump_plug/switch[0]/set");
  EXPECT_EQ(doc["state_topic"], "gridlet/home/heat_pump_plug/switch[0].output");
  EXPECT_EQ(doc["payload_on"], "ON");
  EXPECT_EQ(doc["payload_off"], "OFF");
  EXPECT_EQ(doc["state_on"], "ON");
  EXPECT_EQ(doc["state_off"], "OFF");
  EXPECT_EQ(doc["enabled_by_default"], true);
  EXPECT_FALSE(has_entity(dd, "switch[0].output"));

  doc = doc_of(entity(dd, "switch[0].apower"));
  EXPECT_EQ(doc["device_class"], "power");
  EXPECT_EQ(doc["enabled_by_default"], true);
  doc = doc_of(entity(dd, "switch[0].aenergy.total"));
  EXPECT_EQ(doc["device_class"], "energy");
  EXPECT_EQ(doc["state_class"], "total_increasing");
  EXPECT_EQ(doc["enabled_by_default"], true);  // energy is curated without a role
  EXPECT_EQ(entity(dd, "switch[0].aenergy.total").object_id, "switch_0_aenergy_total");
  EXPECT_EQ(doc_of(entity(dd, "switch[0].voltage"))["enabled_by_default"], false);

  const auto& alarm = entity(dd, "sys.overtemperature");
  EXPECT_EQ(alarm.component, "binary_sensor");
  doc = doc_of(alarm);
  EXPECT_EQ(doc["device_class"], "problem");
  EXPECT_EQ(doc["entity_category"], "diagnostic");
  EXPECT_EQ(doc["enabled_by_default"], true);
}

TEST(HaDiscovery, WithoutControlOverMqttStatePointsAreSensors) {
  const auto dd = discover_device(gateway(false), shelly());
  expect_passes_rules(dd.messages());
  for (const auto& e : dd.entities) EXPECT_FALSE(e.control) << e.source;
  const auto& output = entity(dd, "switch[0].output");
  EXPECT_EQ(output.component, "binary_sensor");
  EXPECT_EQ(doc_of(output)["device_class"], "power");

  const auto inv = discover_device(gateway(false), inverter());
  const json readback = doc_of(entity(inv, "controls.WMaxLimPct"));
  EXPECT_EQ(readback["entity_category"], "diagnostic");
  EXPECT_EQ(readback["enabled_by_default"], false);
}

TEST(HaDiscovery, CollidingPointNamesGetDistinctObjectIds) {
  const auto dd = discover_device(gateway(), colliding());
  expect_passes_rules(dd.messages());
  std::set<std::string> ids, uids, topics;
  for (const auto& e : dd.entities) {
    ids.insert(e.object_id);
    uids.insert(e.unique_id);
    topics.insert(e.message.topic);
  }
  EXPECT_EQ(ids.size(), dd.entities.size());
  EXPECT_EQ(uids.size(), dd.entities.size());
  EXPECT_EQ(topics.size(), dd.entities.size());
  // A name that needs no mapping keeps its id; the mapped ones are told apart by a hash.
  EXPECT_EQ(entity(dd, "a_b").object_id, "a_b");
  EXPECT_EQ(entity(dd, "x_1_y").object_id, "x_1_y");
  EXPECT_EQ(entity(dd, "plain").object_id, "plain");
  EXPECT_EQ(entity(dd, "a.b").object_id.rfind("a_b_", 0), 0u);
  EXPECT_EQ(entity(dd, "a[b]").object_id.rfind("a_b_", 0), 0u);
  EXPECT_NE(entity(dd, "a.b").object_id, entity(dd, "a[b]").object_id);
  EXPECT_EQ(entity(dd, "x[1].y").object_id.rfind("x_1_y_", 0), 0u);
  EXPECT_EQ(dd.issues.size(), 3u);  // a.b, a[b], x[1].y
  // Without the colliding partner the readable id comes back.
  DeviceSpec alone;
  alone.id = "odd_names";
  alone.points = {point("a.b", "W", PointKind::kMeasured)};
  EXPECT_EQ(discover_device(gateway(), alone).entities.at(0).object_id, "a_b");
}

TEST(HaDiscovery, ObjectIdMapping) {
  EXPECT_EQ(object_id_for("inverter_three_phase.W"), "inverter_three_phase_W");
  EXPECT_EQ(object_id_for("battery[1].SoC"), "battery_1_SoC");
  EXPECT_EQ(object_id_for("a b°c"), "a_b__c");  // '°' is two bytes
  EXPECT_EQ(object_id_for("]"), "point");
  EXPECT_EQ(object_id_for("Ok-1_x"), "Ok-1_x");
}

TEST(HaDiscovery, IdsOfDifferentDevicesAndSitesCannotCollide) {
  DeviceSpec pv;
  pv.id = "pv";
  pv.points = {point("total_w", "W", PointKind::kMeasured)};
  DeviceSpec pv_total;
  pv_total.id = "pv_total";
  pv_total.points = {point("w", "W", PointKind::kMeasured)};
  const auto a = discover_device(gateway(), pv).entities.at(0);
  const auto b = discover_device(gateway(), pv_total).entities.at(0);
  EXPECT_NE(a.unique_id, b.unique_id);
  EXPECT_NE(a.message.topic, b.message.topic);

  GatewaySpec site_a = gateway();
  site_a.site = "a_b";
  GatewaySpec site_b = gateway();
  site_b.site = "a";
  DeviceSpec c;
  c.id = "c";
  c.points = {point("w", "W", PointKind::kMeasured)};
  DeviceSpec bc;
  bc.id = "b_c";
  bc.points = {point("w", "W", PointKind::kMeasured)};
  const auto x = discover_device(site_a, c).entities.at(0);
  const auto y = discover_device(site_b, bc).entities.at(0);
  EXPECT_NE(x.unique_id, y.unique_id);
  EXPECT_NE(x.message.topic, y.message.topic);
  EXPECT_NE(doc_of(x)["device"]["identifiers"], doc_of(y)["device"]["identifiers"]);
}

TEST(HaDiscovery, EveryEntityCarriesDeviceOriginAndBothAvailabilities) {
  const auto dd = discover_device(gateway(), inverter());
  for (const auto& e : dd.entities) {
    const json doc = doc_of(e);
    EXPECT_EQ(doc["availability_mode"], "all");
    ASSERT_EQ(doc["availability"].size(), 2u);
    EXPECT_EQ(doc["availability"][0]["topic"], "gridlet/home/status");
    EXPECT_EQ(doc["availability"][1]["topic"], "gridlet/home/inverter/availability");
    EXPECT_EQ(doc["availability"][1]["payload_available"], "online");
    EXPECT_EQ(doc["availability"][1]["payload_not_available"], "offline");
    const json& dev = doc["device"];
    EXPECT_EQ(dev["identifiers"], json::array({"gridlet:home:inverter"}));
    EXPECT_EQ(dev["name"], "PV inverter");
    EXPECT_EQ(dev["manufacturer"], "Fronius");
    EXPECT_EQ(dev["model"], "Symo 10.0-3-M");
    EXPECT_EQ(dev["sw_version"], "1.28.7-1");
    EXPECT_EQ(dev["via_device"], "gridlet:home");
    EXPECT_EQ(doc["origin"], (json{{"name", "Gridlet"},
                                   {"sw_version", "0.1.0"},
                                   {"support_url", "https://gridlet.example/support"}}));
  }
}

TEST(HaDiscovery, ValuesAndQualityComeFromTheStateJson) {
  const auto dd = discover_device(gateway(), inverter());
  const json doc = doc_of(entity(dd, "inverter_three_phase.W"));
  const std::string tpl = doc["value_template"];
  EXPECT_NE(tpl.find("value_json.value"), std::string::npos);
  EXPECT_NE(tpl.find("value_json.quality"), std::string::npos);
  EXPECT_EQ(doc["json_attributes_topic"], doc["state_topic"]);
  const std::string attrs = doc["json_attributes_template"];
  EXPECT_NE(attrs.find("value_json.get('quality')"), std::string::npos);
  EXPECT_NE(attrs.find("value_json.get('ts')"), std::string::npos);
}

TEST(HaDiscovery, TheGatewayIsADeviceOfItsOwn) {
  const auto msgs = gateway_discovery(gateway());
  expect_passes_rules(msgs);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].topic, "homeassistant/binary_sensor/gridlet_home/status/config");
  const json doc = json::parse(msgs[0].payload);
  EXPECT_EQ(doc["device"]["identifiers"], json::array({"gridlet:home"}));
  EXPECT_EQ(doc["state_topic"], gateway_status_topic(gateway()));
  EXPECT_EQ(doc["device_class"], "connectivity");
}

TEST(HaDiscovery, TopicsAreTheOnesThePublisherUses) {
  const GatewaySpec gw = gateway();
  EXPECT_EQ(state_root(gw), "gridlet/home");
  EXPECT_EQ(gateway_status_topic(gw), "gridlet/home/status");
  EXPECT_EQ(device_availability_topic(gw, "battery"), "gridlet/home/battery/availability");
  EXPECT_EQ(point_state_topic(gw, "battery", "battery.SoC"), "gridlet/home/battery/battery.SoC");
  EXPECT_EQ(control_command_topic(gw, "plug", "switch[0]"), "gridlet/home/plug/switch[0]/set");

  GatewaySpec custom = gw;
  custom.discovery_prefix = "ha";
  const auto dd = discover_device(custom, grid_meter());
  for (const auto& m : dd.messages()) {
    EXPECT_EQ(m.topic.rfind("ha/sensor/", 0), 0u);
    EXPECT_TRUE(ha_rules::check_discovery(m.topic, m.payload, "ha").empty());
  }
}

TEST(HaDiscovery, RemovingADeviceClearsEveryTopicItPublished) {
  const GatewaySpec gw = gateway();
  const auto published = discover_device(gw, shelly()).messages();
  const auto removal = device_removal_messages(gw, shelly());
  ASSERT_EQ(removal.size(), published.size());
  for (std::size_t i = 0; i < removal.size(); ++i) {
    EXPECT_EQ(removal[i].topic, published[i].topic);
    EXPECT_TRUE(removal[i].payload.empty());
    EXPECT_TRUE(ha_rules::check_discovery(removal[i].topic, removal[i].payload).empty());
  }
  EXPECT_EQ(removal_messages(published), removal);
}

TEST(HaDiscovery, AChangedDeviceClearsOnlyWhatItNoLongerHas) {
  const GatewaySpec gw = gateway();
  const auto before = discover_device(gw, shelly()).messages();
  DeviceSpec smaller = shelly();
  smaller.points.erase(smaller.points.begin() + 2);  // switch[0].voltage
  const auto after = discover_device(gw, smaller).messages();
  const auto gone = removed_since(before, after);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].topic,
            "homeassistant/sensor/gridlet_home_DEV_heat_pump_plug/switch_0_voltage/config");
  EXPECT_TRUE(gone[0].payload.empty());
}

TEST(HaDiscovery, SameInputSameBytes) {
  for (const DeviceSpec& d : {inverter(), battery(), grid_meter(), shelly(), colliding()}) {
    EXPECT_EQ(discover_device(gateway(), d).messages(), discover_device(gateway(), d).messages());
  }
  EXPECT_EQ(gateway_discovery(gateway()), gateway_discovery(gateway()));
  // Ids do not depend on the order of the points.
  DeviceSpec reversed = colliding();
  std::reverse(reversed.points.begin(), reversed.points.end());
  const auto a = discover_device(gateway(), colliding());
  const auto b = discover_device(gateway(), reversed);
  for (const auto& e : a.entities) EXPECT_EQ(entity(b, e.source).message, e.message) << e.source;
}

TEST(HaDiscovery, BadInputIsReportedNotThrown) {
  DeviceSpec d = inverter();
  d.id = "Inverter 1";
  auto dd = discover_device(gateway(), d);
  EXPECT_TRUE(dd.entities.empty());
  ASSERT_EQ(dd.issues.size(), 1u);

  d = inverter();
  d.points.push_back(point("bad/name", "W", PointKind::kMeasured));
  d.points.push_back(point("inverter_three_phase.W", "W", PointKind::kMeasured));  // twice
  d.controls[0].min = 200;  // above max
  ControlSpec no_range;
  no_range.name = "ExportLimit";
  d.controls.push_back(no_range);
  ControlSpec tiny_step;
  tiny_step.name = "Fine";
  tiny_step.min = 0;
  tiny_step.max = 1;
  tiny_step.step = 0.0001;
  d.controls.push_back(tiny_step);
  dd = discover_device(gateway(), d);
  expect_passes_rules(dd.messages());
  EXPECT_FALSE(has_entity(dd, "bad/name"));
  EXPECT_FALSE(has_entity(dd, "WMaxLimPct"));
  EXPECT_FALSE(has_entity(dd, "ExportLimit"));
  EXPECT_EQ(doc_of(entity(dd, "Fine", true))["step"], 0.001);
  EXPECT_EQ(dd.issues.size(), 5u);
  // The limit's read-back is a sensor again, since its control is left out.
  EXPECT_TRUE(has_entity(dd, "controls.WMaxLimPct"));

  DeviceSpec names;
  names.id = "dev";
  names.name = std::string("caf\xc3", 4);  // cut UTF-8
  names.points = {point("w", "W", PointKind::kMeasured)};
  expect_passes_rules(discover_device(gateway(), names).messages());
}

TEST(HaDiscovery, ARoleThatDoesNotFitItsUnitIsDropped) {
  DeviceSpec d;
  d.id = "meter";
  d.points = {point("E", "W", PointKind::kCounter, PointRole::kGridImportEnergy),
              point("P", "V", PointKind::kMeasured, PointRole::kPower),
              point("S", "", PointKind::kMeasured, PointRole::kStateOfCharge)};
  const auto dd = discover_device(gateway(), d);
  expect_passes_rules(dd.messages());
  for (const auto& e : dd.entities) {
    const json doc = doc_of(e);
    EXPECT_EQ(doc["enabled_by_default"], false) << e.source;
    EXPECT_EQ(doc["name"], e.source);
  }
  EXPECT_FALSE(doc_of(entity(dd, "E")).contains("device_class"));  // a "counter" in W
  EXPECT_EQ(doc_of(entity(dd, "P"))["device_class"], "voltage");
  EXPECT_GE(dd.issues.size(), 3u);
}

}  // namespace
}  // namespace gridlet::adapters::mqtt

// --- The checker: one deliberately broken document per rule ---------------------------------------

namespace gridlet::ha_rules {
namespace {

using json = nlohmann::json;

const char* kTopic = "homeassistant/sensor/gridlet_home_DEV_meter/power/config";

json valid_sensor() {
  return json{{"unique_id", "gridlet:home:meter:power"},
              {"name", "Power"},
              {"state_topic", "gridlet/home/meter/W"},
              {"value_template", "{{ value_json.value }}"},
              {"device_class", "power"},
              {"unit_of_measurement", "W"},
              {"state_class", "measurement"},
              {"device", {{"identifiers", {"gridlet:home:meter"}}, {"name", "Meter"}}},
              {"origin", {{"name", "Gridlet"}}},
              {"availability", {{{"topic", "gridlet/home/status"}}}},
              {"availability_mode", "all"}};
}

json valid_number() {
  json doc = valid_sensor();
  for (const char* k : {"device_class", "unit_of_measurement", "state_class"}) doc.erase(k);
  doc["command_topic"] = "gridlet/home/meter/limit/set";
  doc["min"] = 0;
  doc["max"] = 100;
  doc["step"] = 1;
  doc["mode"] = "box";
  return doc;
}

json valid_switch() {
  json doc = valid_sensor();
  for (const char* k : {"device_class", "unit_of_measurement", "state_class"}) doc.erase(k);
  doc["command_topic"] = "gridlet/home/meter/relay/set";
  return doc;
}

std::vector<Violation> check(const json& doc, const std::string& topic = kTopic) {
  return check_discovery(topic, doc.dump());
}

// Exactly this rule is broken.
void expect_only(const std::vector<Violation>& v, std::string_view rule) {
  EXPECT_TRUE(has_rule(v, rule)) << "expected " << rule << ", got:\n" << describe(v);
  for (const auto& x : v) EXPECT_EQ(x.rule, rule) << describe(v);
}

TEST(HaRules, ValidDocumentsPass) {
  EXPECT_TRUE(check(valid_sensor()).empty()) << describe(check(valid_sensor()));
  EXPECT_TRUE(check(valid_number(), "homeassistant/number/n/limit/config").empty());
  EXPECT_TRUE(check(valid_switch(), "homeassistant/switch/relay/config").empty());  // no node id
}

TEST(HaRules, UnknownComponent) {
  expect_only(check(valid_sensor(), "homeassistant/gauge/n/power/config"), "topic.component");
}

TEST(HaRules, TopicShape) {
  expect_only(check(valid_sensor(), "homeassistant/sensor/power"), "topic.shape");
  expect_only(check(valid_sensor(), "homeassistant/sensor/a/b/power/config"), "topic.shape");
  expect_only(check(valid_sensor(), "homeassistant/sensor/n/power/state"), "topic.shape");
}

TEST(HaRules, TopicPrefix) {
  expect_only(check(valid_sensor(), "ha/sensor/n/power/config"), "topic.prefix");
}

TEST(HaRules, ObjectIdCharset) {
  expect_only(check(valid_sensor(), "homeassistant/sensor/n/inverter.W/config"), "topic.object_id");
}

TEST(HaRules, NodeIdCharset) {
  expect_only(check(valid_sensor(), "homeassistant/sensor/my node/power/config"), "topic.node_id");
}

TEST(HaRules, PayloadMustBeAJsonObject) {
  expect_only(check_discovery(kTopic, "{\"name\": "), "payload.json");
  expect_only(check_discovery(kTopic, "[1, 2]"), "payload.json");
}

TEST(HaRules, MissingUniqueId) {
  json doc = valid_sensor();
  doc.erase("unique_id");
  expect_only(check(doc), "unique_id");
}

TEST(HaRules, DeviceBlockWithoutIdentifiers) {
  json doc = valid_sensor();
  doc["device"].erase("identifiers");
  expect_only(check(doc), "device.identifiers");
  doc["device"]["identifiers"] = json::array();
  expect_only(check(doc), "device.identifiers");
  doc["device"]["identifiers"] = json::array({""});
  expect_only(check(doc), "device.identifiers");
  // Connections identify a device too.
  doc["device"].erase("identifiers");
  doc["device"]["connections"] = json::array({json::array({"mac", "02:5b:26:a8:dc:12"})});
  EXPECT_TRUE(check(doc).empty());
}

TEST(HaRules, OriginWithoutName) {
  json doc = valid_sensor();
  doc["origin"] = json{{"sw_version", "1.0"}};
  expect_only(check(doc), "origin.name");
}

TEST(HaRules, AvailabilityEntryWithoutTopic) {
  json doc = valid_sensor();
  doc["availability"].push_back(json{{"payload_available", "online"}});
  expect_only(check(doc), "availability.topic");
}

TEST(HaRules, AvailabilityNotAList) {
  json doc = valid_sensor();
  doc["availability"] = "gridlet/home/status";
  expect_only(check(doc), "availability.type");
}

TEST(HaRules, AvailabilityAndAvailabilityTopicExcludeEachOther) {
  json doc = valid_sensor();
  doc["availability_topic"] = "gridlet/home/status";
  expect_only(check(doc), "availability.exclusive");
}

TEST(HaRules, AvailabilityModeUnknown) {
  json doc = valid_sensor();
  doc["availability_mode"] = "every";
  expect_only(check(doc), "availability.mode");
}

TEST(HaRules, SensorWithoutStateTopic) {
  json doc = valid_sensor();
  doc.erase("state_topic");
  expect_only(check(doc), "state_topic");
}

TEST(HaRules, SensorDeviceClassNotDocumented) {
  json doc = valid_sensor();
  doc["device_class"] = "active_power";
  expect_only(check(doc), "sensor.device_class");
}

TEST(HaRules, UnitNotAllowedForTheDeviceClass) {
  json doc = valid_sensor();
  doc["unit_of_measurement"] = "Wh";
  expect_only(check(doc), "sensor.unit");
  doc["device_class"] = "voltage";
  doc["unit_of_measurement"] = "VDC";
  expect_only(check(doc), "sensor.unit");
  doc["device_class"] = "timestamp";
  doc["unit_of_measurement"] = "s";
  doc.erase("state_class");
  expect_only(check(doc), "sensor.unit");
}

TEST(HaRules, EnergyCannotBeAMeasurement) {
  json doc = valid_sensor();
  doc["device_class"] = "energy";
  doc["unit_of_measurement"] = "kWh";
  expect_only(check(doc), "sensor.state_class_for_device_class");
  doc["state_class"] = "total_increasing";
  EXPECT_TRUE(check(doc).empty());
  doc["state_class"] = "total";
  EXPECT_TRUE(check(doc).empty());
}

TEST(HaRules, PowerCannotBeATotal) {
  json doc = valid_sensor();
  doc["state_class"] = "total_increasing";
  expect_only(check(doc), "sensor.state_class_for_device_class");
}

TEST(HaRules, StateClassNotDocumented) {
  json doc = valid_sensor();
  doc["state_class"] = "instant";
  expect_only(check(doc), "sensor.state_class");
}

TEST(HaRules, OptionsOnlyForEnumWithoutUnitOrStateClass) {
  json doc = valid_sensor();
  doc["options"] = json::array({"on", "off"});
  const auto v = check(doc);
  expect_only(v, "sensor.options");
  EXPECT_EQ(v.size(), 2u);
}

TEST(HaRules, LastResetOnlyWithTotal) {
  json doc = valid_sensor();
  doc["device_class"] = "energy";
  doc["unit_of_measurement"] = "kWh";
  doc["state_class"] = "total_increasing";
  doc["last_reset_value_template"] = "{{ value_json.reset }}";
  expect_only(check(doc), "sensor.last_reset");
}

TEST(HaRules, EntityCategoryConfigIsNotForSensors) {
  json doc = valid_sensor();
  doc["entity_category"] = "config";
  expect_only(check(doc), "entity_category");
  doc["entity_category"] = "diagnostic";
  EXPECT_TRUE(check(doc).empty());
}

TEST(HaRules, EntityCategoryUnknown) {
  json doc = valid_number();
  doc["entity_category"] = "system";
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "entity_category");
}

TEST(HaRules, EnabledByDefaultIsABoolean) {
  json doc = valid_sensor();
  doc["enabled_by_default"] = "false";
  expect_only(check(doc), "enabled_by_default");
}

TEST(HaRules, BinarySensorDeviceClass) {
  json doc = valid_switch();
  doc.erase("command_topic");
  doc["device_class"] = "alarm";
  expect_only(check(doc, "homeassistant/binary_sensor/n/alarm/config"), "binary_sensor.device_class");
}

TEST(HaRules, NumberWithoutCommandTopic) {
  json doc = valid_number();
  doc.erase("command_topic");
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "command_topic");
}

TEST(HaRules, CommandTopicWithWildcard) {
  json doc = valid_number();
  doc["command_topic"] = "gridlet/+/limit/set";
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "command_topic.wildcard");
}

TEST(HaRules, NumberMinAboveMax) {
  json doc = valid_number();
  doc["min"] = 101;
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "number.range");
  doc.erase("max");  // Home Assistant's default max is 100
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "number.range");
}

TEST(HaRules, NumberStepBelowTheSmallest) {
  json doc = valid_number();
  doc["step"] = 0.0001;
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "number.step");
}

TEST(HaRules, NumberModeUnknown) {
  json doc = valid_number();
  doc["mode"] = "dial";
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "number.mode");
}

TEST(HaRules, NumberDeviceClassAndUnit) {
  json doc = valid_number();
  doc["device_class"] = "power";
  doc["unit_of_measurement"] = "%";
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "number.unit");
  doc["device_class"] = "timestamp";
  expect_only(check(doc, "homeassistant/number/n/limit/config"), "number.device_class");
}

TEST(HaRules, SwitchWithoutCommandTopic) {
  json doc = valid_switch();
  doc.erase("command_topic");
  expect_only(check(doc, "homeassistant/switch/n/relay/config"), "command_topic");
}

TEST(HaRules, SwitchDeviceClass) {
  json doc = valid_switch();
  doc["device_class"] = "relay";
  expect_only(check(doc, "homeassistant/switch/n/relay/config"), "switch.device_class");
}

TEST(HaRules, AbbreviatedKeysAreReadAsTheFullOnes) {
  const json doc = {{"uniq_id", "x1"},
                    {"stat_t", "~/W"},
                    {"~", "gridlet/home/meter"},
                    {"dev_cla", "energy"},
                    {"unit_of_meas", "kWh"},
                    {"stat_cla", "total_increasing"},
                    {"dev", {{"ids", "gridlet:home:meter"}, {"mf", "X"}}},
                    {"o", {{"name", "Gridlet"}, {"sw", "1"}}},
                    {"avty", {{{"t", "~/availability"}}}},
                    {"avty_mode", "all"}};
  EXPECT_TRUE(check(doc).empty()) << describe(check(doc));
  json broken = doc;
  broken["stat_cla"] = "measurement";
  expect_only(check(broken), "sensor.state_class_for_device_class");
  broken = doc;
  broken["dev"].erase("ids");
  expect_only(check(broken), "device.identifiers");
}

TEST(HaRules, AnEmptyPayloadIsARemoval) {
  EXPECT_TRUE(check_discovery(kTopic, "").empty());
  expect_only(check_discovery("homeassistant/sensor/n/a.b/config", ""), "topic.object_id");
}

}  // namespace
}  // namespace gridlet::ha_rules
