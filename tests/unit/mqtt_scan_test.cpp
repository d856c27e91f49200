// `gatewayd scan mqtt` without a broker (adapters/mqtt/scan.hpp): the classifier and the inventory
// against payloads shaped after each vendor's documentation (written here: field names, types and
// topics as documented by Shelly's Gen2+ API, Tasmota's discovery, Zigbee2MQTT's bridge/devices and
// OpenDTU's MQTT topics), the preset chosen for each device, unusable payloads, and the three
// outputs, the config snippet checked by the gateway's own configuration loader.
#include "adapters/mqtt/scan.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"

namespace gridlet::adapters::mqtt::scan {
namespace {

constexpr std::string_view kSrc = "gridlet-scan-test";

// --- Payloads ------------------------------------------------------------------------------------

const std::string kPlusId = "shellyplus1pm-a8032ab12345";

std::string plus_full_status() {
  return R"({"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events","method":"NotifyFullStatus",
    "params":{"ts":1718000100.52,"ble":{},"cloud":{"connected":false},"input:0":{"id":0,"state":false},
    "mqtt":{"connected":true},"switch:0":{"id":0,"source":"init","output":true,"apower":812.0,"voltage":231.4,
    "freq":50.0,"current":3.52,"aenergy":{"total":98765.432,"by_minute":[0.0,0.0,0.0],"minute_ts":1718000100},
    "temperature":{"tC":41.3,"tF":106.3}},"sys":{"mac":"A8032AB12345","uptime":120}}})";
}

std::string device_info_answer(long long id, const std::string& dev, const std::string& model, const std::string& app,
                               const std::string& extra = "") {
  return R"({"id":)" + std::to_string(id) + R"(,"src":")" + dev + R"(","dst":"gridlet-scan-test","result":{"name":null,"id":")" +
         dev + R"(","mac":"A8032AB12345","slot":0,"model":")" + model + R"(","gen":2,"fw_id":"20240819-074343/1.4.2-gc2639da",
         "ver":"1.4.2","app":")" + app + R"(","auth_en":false,"auth_domain":null)" + extra + "}}";
}

const std::string kTasmotaConfig = R"({"ip":"192.168.1.50","dn":"Tasmota","fn":["Washing machine",null,null,null],
  "hn":"tasmota-4B2C1D-3101","mac":"A4CF124B2C1D","md":"Gosund SP1 v23","ty":0,"if":0,"ofln":"Offline","onln":"Online",
  "state":["OFF","ON","TOGGLE","HOLD"],"sw":"13.4.0","t":"tasmota_4B2C1D","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],
  "rl":[1,0,0,0,0,0,0,0],"swc":[-1,-1,-1,-1,-1,-1,-1,-1],"swn":[null,null,null,null,null,null,null,null],
  "btn":[0,0,0,0,0,0,0,0],"so":{"4":0,"11":0,"13":0,"17":0,"20":0,"30":0,"68":0,"73":0,"82":0,"114":0,"117":0},
  "lk":0,"lt_st":0,"sho":[0,0,0,0],"sht":[[0,0,0],[0,0,0],[0,0,0],[0,0,0]],"ver":1})";

const std::string kTasmotaSensors = R"({"sn":{"Time":"2024-06-10T10:15:00","ENERGY":{"TotalStartTime":"2023-01-01T00:00:00",
  "Total":123.456,"Yesterday":1.2,"Today":0.4,"Power":1830,"ApparentPower":1850,"ReactivePower":120,"Factor":0.99,
  "Voltage":230,"Current":8.04}},"ver":1})";

const std::string kZ2mDevices = R"json([
  {"ieee_address":"0x00124b0022aabbcc","type":"Coordinator","network_address":0,"supported":true,"friendly_name":"Coordinator",
   "disabled":false,"definition":null,"power_source":null,"interview_completed":true,"interviewing":false},
  {"ieee_address":"0x04cf8cdf3c7b6f01","type":"Router","network_address":11264,"supported":true,"friendly_name":"Kitchen Plug",
   "disabled":false,"description":null,"software_build_id":"2.1.0","model_id":"lumi.plug.maeu01","manufacturer":"LUMI",
   "interview_completed":true,"interviewing":false,"power_source":"Mains (single phase)",
   "definition":{"model":"SP-EUC01","vendor":"Aqara","description":"Smart plug EU","supports_ota":true,
     "exposes":[{"type":"switch","features":[{"type":"binary","name":"state","property":"state","access":7,"value_on":"ON","value_off":"OFF"}]},
                {"type":"numeric","name":"power","property":"power","access":5,"unit":"W","description":"Instantaneous measured power"},
                {"type":"numeric","name":"energy","property":"energy","access":5,"unit":"kWh"},
                {"type":"numeric","name":"voltage","property":"voltage","access":5,"unit":"V"},
                {"type":"numeric","name":"linkquality","property":"linkquality","access":1,"unit":"lqi"}],"options":[]}},
  {"ieee_address":"0x00158d0001a2b3c4","type":"EndDevice","network_address":4242,"supported":true,"friendly_name":"hall/climate",
   "disabled":false,"interview_completed":true,"interviewing":false,"power_source":"Battery",
   "definition":{"model":"WSDCGQ11LM","vendor":"Aqara","description":"Temperature, humidity and pressure sensor",
     "exposes":[{"type":"numeric","name":"temperature","property":"temperature","access":1,"unit":"°C"},
                {"type":"numeric","name":"humidity","property":"humidity","access":1,"unit":"%"}]}},
  {"ieee_address":"0x00158d000fffffff","type":"EndDevice","network_address":77,"supported":false,"friendly_name":"0x00158d000fffffff",
   "disabled":false,"interview_completed":true,"interviewing":false,"definition":null}
])json";

const Device* find(const std::vector<Device>& devices, Vendor v, std::string_view topic_id) {
  for (const auto& d : devices) {
    if (d.vendor == v && d.topic_id == topic_id && !d.is_dtu) return &d;
  }
  return nullptr;
}

// --- The classifier ------------------------------------------------------------------------------

TEST(MqttScanClassify, ShellyOnlineIsOnlyTrueOrFalse) {
  auto c = classify(kPlusId + "/online", "true", kSrc);
  ASSERT_TRUE(c.known);
  ASSERT_EQ(c.findings.size(), 1U);
  EXPECT_EQ(c.findings[0].vendor, Vendor::kShelly);
  EXPECT_EQ(c.findings[0].topic_id, kPlusId);
  EXPECT_EQ(c.findings[0].online, true);
  EXPECT_EQ(classify(kPlusId + "/online", "false", kSrc).findings.at(0).online, false);
  // Other systems publish <x>/online too: not a Shelly, and not a bad payload either.
  for (const char* other : {"1", "online", "{\"state\":\"online\"}", ""}) {
    const auto o = classify("printer/online", other, kSrc);
    EXPECT_FALSE(o.known) << other;
    EXPECT_TRUE(o.findings.empty());
    EXPECT_TRUE(o.problem.empty());
  }
}

TEST(MqttScanClassify, ShellyNotifyFullStatusGivesComponents) {
  const auto c = classify(kPlusId + "/events/rpc", plus_full_status(), kSrc);
  ASSERT_TRUE(c.problem.empty()) << c.problem;
  ASSERT_EQ(c.findings.size(), 1U);
  const Finding& f = c.findings[0];
  EXPECT_EQ(f.topic_id, kPlusId);
  EXPECT_EQ(f.device_id, kPlusId);
  EXPECT_EQ(f.seen, "events/rpc");
  EXPECT_EQ(f.components, (std::vector<std::string>{"input:0", "switch:0"}));
  EXPECT_EQ(f.metering, true);
  EXPECT_EQ(f.switchable, true);
}

TEST(MqttScanClassify, ShellyNotifyStatusIsPartial) {
  // Only what changed: the output alone says nothing about metering.
  const auto c = classify("boiler/events/rpc",
                          R"({"src":"shellyplus1-b8d61a8a0001","dst":"boiler/events","method":"NotifyStatus",
                              "params":{"ts":1718000200.01,"switch:0":{"id":0,"output":false,"source":"button"}}})",
                          kSrc);
  ASSERT_EQ(c.findings.size(), 1U);
  EXPECT_EQ(c.findings[0].topic_id, "boiler");  // the topic prefix, not the device id
  EXPECT_EQ(c.findings[0].device_id, "shellyplus1-b8d61a8a0001");
  EXPECT_FALSE(c.findings[0].metering.has_value());
  EXPECT_EQ(c.findings[0].switchable, true);
  // NotifyEvent: the device is there, nothing about components.
  const auto e = classify("boiler/events/rpc",
                          R"({"src":"shellyplus1-b8d61a8a0001","dst":"boiler/events","method":"NotifyEvent",
                              "params":{"ts":1718000201.5,"events":[{"component":"input:0","id":0,"event":"single_push","ts":1718000201.5}]}})",
                          kSrc);
  ASSERT_EQ(e.findings.size(), 1U);
  EXPECT_TRUE(e.findings[0].components.empty());
}

TEST(MqttScanClassify, ShellyAnswersOnOurReplyTopicOnly) {
  const std::string answer = device_info_answer(7, kPlusId, "SNSW-001P16EU", "Plus1PM");
  const auto c = classify(std::string(kSrc) + "/rpc", answer, kSrc);
  ASSERT_EQ(c.findings.size(), 1U) << c.problem;
  const Finding& f = c.findings[0];
  EXPECT_EQ(f.rpc_id, 7);
  EXPECT_EQ(f.seen, "GetDeviceInfo");
  EXPECT_EQ(f.model, "SNSW-001P16EU");
  EXPECT_EQ(f.app, "Plus1PM");
  EXPECT_EQ(f.generation, 2);
  EXPECT_EQ(f.firmware, "1.4.2");
  EXPECT_EQ(f.mac, "A8032AB12345");
  EXPECT_FALSE(classify("somebody-else/rpc", answer, kSrc).known);
  EXPECT_FALSE(classify(std::string(kSrc) + "/rpc", answer, "").known);
}

TEST(MqttScanClassify, TasmotaDiscoveryConfigAndSensors) {
  auto c = classify("tasmota/discovery/A4CF124B2C1D/config", kTasmotaConfig, kSrc);
  ASSERT_EQ(c.findings.size(), 1U) << c.problem;
  const Finding& f = c.findings[0];
  EXPECT_EQ(f.vendor, Vendor::kTasmota);
  EXPECT_EQ(f.topic_id, "tasmota_4B2C1D");
  EXPECT_EQ(f.name, "Washing machine");
  EXPECT_EQ(f.model, "Gosund SP1 v23");
  EXPECT_EQ(f.firmware, "13.4.0");
  EXPECT_EQ(f.ip, "192.168.1.50");
  EXPECT_EQ(f.full_topic, "%prefix%/%topic%/");
  EXPECT_EQ(f.switchable, true);
  c = classify("tasmota/discovery/A4CF124B2C1D/sensors", kTasmotaSensors, kSrc);
  ASSERT_EQ(c.findings.size(), 1U) << c.problem;
  EXPECT_EQ(c.findings[0].device_id, "A4CF124B2C1D");
  EXPECT_EQ(c.findings[0].metering, true);
  c = classify("tasmota/discovery/A4CF124B2C1D/sensors", R"({"sn":{"Time":"2024-06-10T10:15:00"},"ver":1})", kSrc);
  EXPECT_EQ(c.findings.at(0).metering, false);
  c = classify("tele/tasmota_4B2C1D/LWT", "Online", kSrc);
  ASSERT_EQ(c.findings.size(), 1U);
  EXPECT_EQ(c.findings[0].online, true);
  EXPECT_EQ(classify("tele/tasmota_4B2C1D/LWT", "Offline", kSrc).findings.at(0).online, false);
}

TEST(MqttScanClassify, Zigbee2mqttBridgeDevicesSkipsTheCoordinator) {
  const auto c = classify("zigbee2mqtt/bridge/devices", kZ2mDevices, kSrc);
  ASSERT_TRUE(c.problem.empty()) << c.problem;
  ASSERT_EQ(c.findings.size(), 3U);
  EXPECT_EQ(c.findings[0].topic_id, "Kitchen Plug");
  EXPECT_EQ(c.findings[0].base, "zigbee2mqtt");
  EXPECT_EQ(c.findings[0].model, "SP-EUC01");
  EXPECT_EQ(c.findings[0].manufacturer, "Aqara");
  EXPECT_EQ(c.findings[0].device_id, "0x04cf8cdf3c7b6f01");
  EXPECT_EQ(c.findings[0].metering, true);
  EXPECT_EQ(c.findings[0].switchable, true);
  EXPECT_EQ(c.findings[1].topic_id, "hall/climate");
  EXPECT_EQ(c.findings[1].metering, false);
  EXPECT_EQ(c.findings[1].switchable, false);
  EXPECT_NE(c.findings[2].note.find("not supported"), std::string::npos);
  // Another base topic.
  EXPECT_EQ(classify("z2m-garage/bridge/devices", kZ2mDevices, kSrc).findings.at(0).base, "z2m-garage");
}

TEST(MqttScanClassify, OpenDtuDtuAndInverters) {
  auto c = classify("solar/dtu/hostname", "OpenDTU-07F614", kSrc);
  ASSERT_EQ(c.findings.size(), 1U);
  EXPECT_TRUE(c.findings[0].is_dtu);
  EXPECT_EQ(c.findings[0].name, "OpenDTU-07F614");
  EXPECT_EQ(classify("solar/dtu/status", "online", kSrc).findings.at(0).online, true);
  c = classify("solar/114190641177/name", "HM-800 garage", kSrc);
  ASSERT_EQ(c.findings.size(), 1U);
  EXPECT_EQ(c.findings[0].topic_id, "114190641177");
  EXPECT_EQ(c.findings[0].base, "solar");
  EXPECT_EQ(c.findings[0].name, "HM-800 garage");
  c = classify("solar/114190641177/0/power", "231.4", kSrc);
  ASSERT_EQ(c.findings.size(), 1U);
  EXPECT_EQ(c.findings[0].metering, true);
  // Not a serial: someone else's name topic.
  EXPECT_FALSE(classify("home/kitchen/name", "Kitchen", kSrc).known);
  EXPECT_FALSE(classify("zigbee2mqtt/0x00158d0001a2b3c4/name", "x", kSrc).known);
}

TEST(MqttScanClassify, UnusablePayloadsAreProblemsNotFindings) {
  const std::pair<std::string, std::string> bad[] = {
      {kPlusId + "/events/rpc", "not json"},
      {kPlusId + "/events/rpc", R"({"method":"NotifyStatus","params":{}})"},          // no src
      {kPlusId + "/events/rpc", R"({"src":"x","method":"NotifyStatus","params":[]})"},  // params not an object
      {"tasmota/discovery/A4CF124B2C1D/config", R"({"dn":"Tasmota"})"},               // no topic
      {"tasmota/discovery/A4CF124B2C1D/config", "[1,2]"},
      {"tasmota/discovery/A4CF124B2C1D/sensors", R"({"ver":1})"},
      {"zigbee2mqtt/bridge/devices", R"({"friendly_name":"x"})"},
      {"zigbee2mqtt/bridge/devices", std::string(100, '[')},
      {"solar/dtu/status", "maybe"},
      {"solar/114190641177/0/power", "lots"},
      {std::string(kSrc) + "/rpc", R"({"id":"x","src":"a","result":{}})"},
      {std::string(kSrc) + "/rpc", R"({"id":3,"src":"a"})"},
  };
  for (const auto& [topic, payload] : bad) {
    const auto c = classify(topic, payload, kSrc);
    EXPECT_TRUE(c.known) << topic;
    EXPECT_FALSE(c.problem.empty()) << topic << " " << payload;
    EXPECT_TRUE(c.findings.empty()) << topic;
  }
  EXPECT_NE(classify("zigbee2mqtt/bridge/devices", std::string(100, '['), kSrc).problem.find("deeper"), std::string::npos);
}

TEST(MqttScanClassify, FiltersIncludeOurReplyTopic) {
  const auto filters = scan_filters(kSrc);
  EXPECT_NE(std::find(filters.begin(), filters.end(), std::string(kSrc) + "/rpc"), filters.end());
  EXPECT_NE(std::find(filters.begin(), filters.end(), "tasmota/discovery/+/config"), filters.end());
  EXPECT_NE(std::find(filters.begin(), filters.end(), "+/bridge/devices"), filters.end());
}

// --- The inventory -------------------------------------------------------------------------------

// The requests handed out, answered by `answer(topic, request)` (a fake device).
template <typename F>
void answer_requests(Inventory& inv, F answer) {
  for (const auto& r : inv.take_requests()) {
    const auto request = nlohmann::json::parse(r.payload);
    EXPECT_EQ(request["src"], inv.reply_src());
    const std::string reply = answer(r.topic, request);
    if (!reply.empty()) inv.add(inv.reply_src() + "/rpc", reply);
  }
}

TEST(MqttScanInventory, AsksEachShellyOnceAndMergesTheAnswers) {
  Inventory inv{std::string(kSrc)};
  inv.add(kPlusId + "/online", "true");
  inv.add(kPlusId + "/events/rpc", plus_full_status());
  std::vector<std::string> methods;
  answer_requests(inv, [&](const std::string& topic, const nlohmann::json& request) {
    EXPECT_EQ(topic, kPlusId + "/rpc");
    methods.push_back(request["method"]);
    if (request["method"] == "Shelly.GetDeviceInfo") {
      return device_info_answer(request["id"].get<long long>(), kPlusId, "SNSW-001P16EU", "Plus1PM");
    }
    return std::string();  // GetStatus not answered
  });
  EXPECT_EQ(methods, (std::vector<std::string>{"Shelly.GetDeviceInfo", "Shelly.GetStatus"}));
  EXPECT_TRUE(inv.take_requests().empty());  // once
  EXPECT_EQ(inv.unanswered_requests(), 1U);
  inv.add(kPlusId + "/online", "true");
  EXPECT_TRUE(inv.take_requests().empty());
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 1U);
  const Device& d = devices[0];
  EXPECT_EQ(d.preset, "shelly-gen2-switch");
  EXPECT_EQ(d.kind, "other");
  EXPECT_EQ(d.model, "SNSW-001P16EU");
  EXPECT_EQ(d.online, true);
  EXPECT_TRUE(d.why.empty()) << d.why;
  EXPECT_EQ(inv.stats().requests, 2U);
  EXPECT_EQ(inv.stats().answers, 1U);
  // An answer to a request we did not make is ignored.
  inv.add(std::string(kSrc) + "/rpc", device_info_answer(999, "shellyplus1-other", "X", "Plus1"));
  EXPECT_EQ(inv.devices().size(), 1U);
}

TEST(MqttScanInventory, Pro3emFromGetStatus) {
  Inventory inv{std::string(kSrc)};
  const std::string id = "shellypro3em-c8f09e8a1b2c";
  inv.add(id + "/online", "true");
  answer_requests(inv, [&](const std::string&, const nlohmann::json& request) {
    const auto rid = request["id"].get<long long>();
    if (request["method"] == "Shelly.GetDeviceInfo") {
      return device_info_answer(rid, id, "SPEM-003CEBEU", "Pro3EM", R"(,"profile":"triphase")");
    }
    return R"({"id":)" + std::to_string(rid) + R"(,"src":")" + id + R"(","dst":"gridlet-scan-test","result":{
      "em:0":{"id":0,"a_current":4.03,"a_voltage":236.1,"a_act_power":951.2,"b_current":0.5,"b_voltage":235.2,
      "b_act_power":100.1,"c_current":0.1,"c_voltage":237.0,"c_act_power":-10.0,"total_current":4.63,"total_act_power":1041.3},
      "emdata:0":{"id":0,"total_act":2345.67,"total_act_ret":12.5},"sys":{"mac":"C8F09E8A1B2C"},"wifi":{"status":"got ip"}}})";
  });
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 1U);
  EXPECT_EQ(devices[0].preset, "shelly-pro3em");
  EXPECT_EQ(devices[0].kind, "meter");
  EXPECT_TRUE(devices[0].components.contains("emdata:0"));
  EXPECT_EQ(devices[0].shelly_profile, "triphase");
}

TEST(MqttScanInventory, ShellyThatNeverAnswersHasNoPreset) {
  Inventory inv{std::string(kSrc)};
  inv.add("shellyplusplugs-aabbccddeeff/online", "false");
  EXPECT_EQ(inv.take_requests().size(), 2U);
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 1U);
  EXPECT_TRUE(devices[0].preset.empty());
  EXPECT_NE(devices[0].why.find("no answer"), std::string::npos);
  EXPECT_EQ(devices[0].online, false);
}

TEST(MqttScanInventory, ShellyRefusedRpcStillUsesItsNotifications) {
  Inventory inv{std::string(kSrc)};
  inv.add(kPlusId + "/events/rpc", plus_full_status());
  answer_requests(inv, [&](const std::string&, const nlohmann::json& request) {
    return R"({"id":)" + std::to_string(request["id"].get<long long>()) + R"(,"src":")" + kPlusId +
           R"(","dst":"gridlet-scan-test","error":{"code":401,"message":"{\"auth_type\": \"digest\"}"}})";
  });
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 1U);
  EXPECT_EQ(devices[0].preset, "shelly-gen2-switch");
  EXPECT_NE(devices[0].note.find("401"), std::string::npos);
}

TEST(MqttScanInventory, TasmotaSensorsBeforeOrAfterTheConfig) {
  for (const bool sensors_first : {true, false}) {
    Inventory inv{std::string(kSrc)};
    if (sensors_first) inv.add("tasmota/discovery/A4CF124B2C1D/sensors", kTasmotaSensors);
    inv.add("tasmota/discovery/A4CF124B2C1D/config", kTasmotaConfig);
    if (!sensors_first) inv.add("tasmota/discovery/A4CF124B2C1D/sensors", kTasmotaSensors);
    inv.add("tele/tasmota_4B2C1D/LWT", "Online");
    const auto devices = inv.devices();
    ASSERT_EQ(devices.size(), 1U) << sensors_first;
    EXPECT_EQ(devices[0].preset, "tasmota-plug");
    EXPECT_EQ(devices[0].metering, true);
    EXPECT_EQ(devices[0].online, true);
    EXPECT_TRUE(devices[0].why.empty()) << devices[0].why;
  }
}

TEST(MqttScanInventory, TasmotaWithAnotherFullTopicHasNoPreset) {
  Inventory inv{std::string(kSrc)};
  std::string config = kTasmotaConfig;
  config.replace(config.find("%prefix%/%topic%/"), 17, "home/%topic%/%prefix%/");
  inv.add("tasmota/discovery/A4CF124B2C1D/config", config);
  inv.add("tele/tasmota_other/LWT", "Online");  // LWT only: the preset, with a caveat
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 2U);
  const Device* custom = find(devices, Vendor::kTasmota, "tasmota_4B2C1D");
  ASSERT_NE(custom, nullptr);
  EXPECT_TRUE(custom->preset.empty());
  EXPECT_NE(custom->why.find("FullTopic"), std::string::npos);
  const Device* lwt = find(devices, Vendor::kTasmota, "tasmota_other");
  ASSERT_NE(lwt, nullptr);
  EXPECT_EQ(lwt->preset, "tasmota-plug");
  EXPECT_NE(lwt->why.find("LWT only"), std::string::npos);
}

TEST(MqttScanInventory, Zigbee2mqttPresetOnlyForPlugs) {
  Inventory inv{std::string(kSrc)};
  inv.add("zigbee2mqtt/bridge/devices", kZ2mDevices);
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 3U);
  EXPECT_EQ(find(devices, Vendor::kZigbee2mqtt, "Kitchen Plug")->preset, "zigbee2mqtt-plug");
  const Device* climate = find(devices, Vendor::kZigbee2mqtt, "hall/climate");
  EXPECT_TRUE(climate->preset.empty());
  EXPECT_NE(climate->why.find("no power"), std::string::npos);
  EXPECT_TRUE(find(devices, Vendor::kZigbee2mqtt, "0x00158d000fffffff")->preset.empty());
}

TEST(MqttScanInventory, OpenDtuCountsInverters) {
  Inventory inv{std::string(kSrc)};
  inv.add("solar/dtu/hostname", "OpenDTU-07F614");
  inv.add("solar/dtu/status", "online");
  inv.add("solar/114190641177/name", "HM-800");
  inv.add("solar/114190641177/0/power", "412.5");
  inv.add("solar/116180000042/0/power", "0");
  const auto devices = inv.devices();
  ASSERT_EQ(devices.size(), 3U);
  EXPECT_TRUE(devices[0].is_dtu);
  EXPECT_EQ(devices[0].inverters, 2U);
  EXPECT_TRUE(devices[0].preset.empty());
  EXPECT_EQ(devices[1].preset, "opendtu");
  EXPECT_EQ(devices[1].kind, "inverter");
  EXPECT_EQ(devices[1].name, "HM-800");
}

TEST(MqttScanInventory, CountsUnusableMessages) {
  Inventory inv{std::string(kSrc)};
  inv.add("zigbee2mqtt/bridge/devices", "{oops");
  inv.add("solar/114190641177/0/power", "n/a");
  inv.add("weather/temperature", "21.5");  // nobody's announcement: ignored
  EXPECT_EQ(inv.stats().messages, 3U);
  EXPECT_EQ(inv.stats().bad, 2U);
  ASSERT_EQ(inv.stats().bad_examples.size(), 2U);
  EXPECT_EQ(inv.stats().bad_examples[0], "zigbee2mqtt/bridge/devices: not JSON");
  const std::string table = to_table(inv.devices(), inv.stats(), BrokerInfo{"mqtt://127.0.0.1:1883", "", {}, {}, {}, {}, 4, std::chrono::seconds(10)});
  EXPECT_NE(table.find("no devices found on mqtt://127.0.0.1:1883 in 10 s (3 messages seen)"), std::string::npos) << table;
  EXPECT_NE(table.find("2 messages could not be used"), std::string::npos) << table;
  EXPECT_NE(table.find("solar/114190641177/0/power: not a number"), std::string::npos) << table;
}

// --- Outputs -------------------------------------------------------------------------------------

Inventory everything() {
  Inventory inv{std::string(kSrc)};
  inv.add(kPlusId + "/online", "true");
  inv.add(kPlusId + "/events/rpc", plus_full_status());
  answer_requests(inv, [&](const std::string&, const nlohmann::json& request) {
    return request["method"] == "Shelly.GetDeviceInfo"
               ? device_info_answer(request["id"].get<long long>(), kPlusId, "SNSW-001P16EU", "Plus1PM")
               : std::string();
  });
  inv.add("tasmota/discovery/A4CF124B2C1D/config", kTasmotaConfig);
  inv.add("tasmota/discovery/A4CF124B2C1D/sensors", kTasmotaSensors);
  inv.add("z2m/bridge/devices", kZ2mDevices);
  inv.add("solar/dtu/hostname", "OpenDTU-07F614");
  inv.add("solar/114190641177/name", "HM-800");
  inv.add("pv/114190641178/name", "HM-800");  // a second DTU with another base topic, same name
  return inv;
}

TEST(MqttScanOutput, JsonIsOneArrayWithEveryDevice) {
  const Inventory inv = everything();
  const auto doc = nlohmann::json::parse(to_json(inv.devices()));
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 8U);  // shelly, tasmota, 3 zigbee, dtu, 2 inverters
  const auto& shelly = doc[0];
  EXPECT_EQ(shelly["vendor"], "shelly");
  EXPECT_EQ(shelly["topic_id"], kPlusId);
  EXPECT_EQ(shelly["preset"], "shelly-gen2-switch");
  EXPECT_EQ(shelly["model"], "SNSW-001P16EU (Plus1PM)");
  EXPECT_EQ(shelly["online"], true);
  EXPECT_EQ(shelly["components"], nlohmann::json({"input:0", "switch:0"}));
  for (const auto& d : doc) {
    for (const char* key : {"vendor", "topic_id", "base", "device_id", "name", "model", "manufacturer", "firmware", "mac", "ip",
                            "online", "components", "metering", "preset", "kind", "note", "seen"}) {
      EXPECT_TRUE(d.contains(key)) << key << " in " << d.dump();
    }
  }
  EXPECT_EQ(to_json({}), "[]");
}

TEST(MqttScanOutput, SnippetLoadsAsAConfiguration) {
  const Inventory inv = everything();
  BrokerInfo broker;
  broker.url = "mqtt://192.0.2.5:1883";
  broker.listened = std::chrono::seconds(10);
  const std::string snippet = to_config_snippet(inv.devices(), inv.stats(), broker, "home");
  const auto loaded = config::load_config_string("[site]\nid = \"scan-test\"\n" + snippet, "snippet");
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.format() << "\n" << snippet;
  ASSERT_TRUE(loaded.config.has_value()) << snippet;
  ASSERT_EQ(loaded.config->buses.size(), 1U);
  EXPECT_EQ(loaded.config->buses[0].id, "home");
  EXPECT_EQ(loaded.config->buses[0].url, "mqtt://192.0.2.5:1883");
  // Shelly, Tasmota, the Zigbee plug and two inverters; the DTU and two Zigbee devices as comments.
  ASSERT_EQ(loaded.config->devices.size(), 5U) << snippet;
  std::map<std::string, const config::DeviceConfig*> by_profile_and_topic;
  for (const auto& d : loaded.config->devices) by_profile_and_topic[d.profile + " " + d.topic_id] = &d;
  ASSERT_TRUE(by_profile_and_topic.contains("shelly-gen2-switch " + kPlusId)) << snippet;
  ASSERT_TRUE(by_profile_and_topic.contains("tasmota-plug tasmota_4B2C1D")) << snippet;
  const auto* plug = by_profile_and_topic.at("zigbee2mqtt-plug Kitchen Plug");
  EXPECT_EQ(plug->id, "kitchen-plug");
  EXPECT_EQ(plug->variables.at("base"), "z2m");  // not the default base topic
  const auto* inv1 = by_profile_and_topic.at("opendtu 114190641177");
  const auto* inv2 = by_profile_and_topic.at("opendtu 114190641178");
  EXPECT_NE(inv1->id, inv2->id);
  EXPECT_FALSE(inv1->variables.contains("base"));  // "solar" is the preset's default
  EXPECT_EQ(inv2->variables.at("base"), "pv");
  EXPECT_EQ(inv1->kind, DeviceKind::kInverter);
  EXPECT_NE(snippet.find("# not configured: zigbee2mqtt z2m/hall/climate (WSDCGQ11LM"), std::string::npos) << snippet;
  EXPECT_NE(snippet.find("# not configured: opendtu solar/dtu"), std::string::npos) << snippet;
}

TEST(MqttScanOutput, TableListsEveryDevice) {
  const Inventory inv = everything();
  const std::string table = to_table(inv.devices(), inv.stats(), BrokerInfo{"mqtt://192.0.2.5:1883", "", {}, {}, {}, {}, 4, std::chrono::seconds(10)});
  EXPECT_EQ(table.rfind("vendor", 0), 0U) << table;
  for (const char* expected : {"shellyplus1pm-a8032ab12345", "tasmota_4B2C1D", "z2m/Kitchen Plug", "solar/114190641177",
                               "8 devices found on mqtt://192.0.2.5:1883 in 10 s, 5 with a preset",
                               "1 of 2 Shelly RPC requests answered"}) {
    EXPECT_NE(table.find(expected), std::string::npos) << expected << "\n" << table;
  }
}

TEST(MqttScanCommand, BadArgumentsExit2) {
  auto run = [](Command c) {
    std::ostringstream out, err;
    c.progress = false;
    const int rc = run_command(c, out, err);
    EXPECT_TRUE(out.str().empty());
    EXPECT_FALSE(err.str().empty());
    return rc;
  };
  Command c;
  c.url = "http://broker";
  EXPECT_EQ(run(c), 2);
  c.url = "mqtt://";
  EXPECT_EQ(run(c), 2);
  c.url = "mqtt://127.0.0.1:1";
  c.bus_id = "Not An Id";
  EXPECT_EQ(run(c), 2);
  c.bus_id = "mqtt1";
  c.ca_file = "/etc/ssl/certs/ca-certificates.crt";  // TLS files need a TLS URL
  EXPECT_EQ(run(c), 2);
  c.ca_file.clear();
  c.password_file = "/nonexistent/password";
  EXPECT_EQ(run(c), 2);  // no username
  c.username = "gridlet";
  EXPECT_EQ(run(c), 2);  // unreadable
}

}  // namespace
}  // namespace gridlet::adapters::mqtt::scan
