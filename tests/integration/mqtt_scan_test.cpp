// `gatewayd scan mqtt` end to end: a real mosquitto on 127.0.0.1 (a free port) holding the retained
// announcements of one device of each vendor (Tasmota discovery, a Zigbee2MQTT bridge/devices
// list, OpenDTU topics) and a fake Shelly Plus 1PM, a client of its own with the Shelly's last
// will and birth on <id>/online that answers Shelly.GetDeviceInfo and Shelly.GetStatus on the
// requester's <src>/rpc, as the Shelly Gen2+ RPC-over-MQTT channel does. The real gatewayd binary
// scans it (--json, --config-snippet, the table), the snippet passes `gatewayd check-config`, and
// an unreachable broker or a wrong password end the scan with exit code 3 and the reason.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"

namespace {

using gridlet::adapters::mqtt::Client;
using gridlet::adapters::mqtt::ClientSettings;
using gridlet::adapters::mqtt::Message;
using gridlet::testing::ChildProcess;
using gridlet::testing::eventually;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kGatewayd = GATEWAYD_PATH;
const std::string kShellyId = "shellyplus1pm-a8032ab12345";

ClientSettings settings_for(const Mosquitto& broker, const std::string& client_id) {
  ClientSettings s;
  s.name = client_id;
  s.url = broker.url();
  s.client_id = client_id;
  s.reconnect_min = 100ms;
  s.reconnect_max = 1s;
  return s;
}

// Publishes and waits for the broker's acknowledgement.
bool publish_and_wait(Client& c, Message m) {
  std::atomic<int> result{-1};
  if (!c.publish(std::move(m), [&](bool ok) { result = ok ? 1 : 0; })) return false;
  return eventually(5s, [&] { return result.load() >= 0; }) && result.load() == 1;
}

// The retained announcements of a Tasmota plug, a Zigbee2MQTT network and an OpenDTU, as their
// documentation shows them, plus one payload that cannot be used.
const std::vector<Message> kRetained = {
    {"tasmota/discovery/A4CF124B2C1D/config",
     R"({"ip":"192.168.1.50","dn":"Tasmota","fn":["Washing machine",null,null,null],"hn":"tasmota-4B2C1D-3101",)"
     R"("mac":"A4CF124B2C1D","md":"Gosund SP1 v23","ty":0,"if":0,"ofln":"Offline","onln":"Online",)"
     R"("state":["OFF","ON","TOGGLE","HOLD"],"sw":"13.4.0","t":"tasmota_4B2C1D","ft":"%prefix%/%topic%/",)"
     R"("tp":["cmnd","stat","tele"],"rl":[1,0,0,0,0,0,0,0],"ver":1})",
     1, true},
    {"tasmota/discovery/A4CF124B2C1D/sensors",
     R"({"sn":{"Time":"2024-06-10T10:15:00","ENERGY":{"Total":123.456,"Today":0.4,"Power":1830,"Voltage":230,"Current":8.04}},"ver":1})",
     1, true},
    {"tele/tasmota_4B2C1D/LWT", "Online", 1, true},
    {"zigbee2mqtt/bridge/devices",
     R"json([{"ieee_address":"0x00124b0022aabbcc","type":"Coordinator","friendly_name":"Coordinator","definition":null},
      {"ieee_address":"0x04cf8cdf3c7b6f01","type":"Router","supported":true,"friendly_name":"Kitchen Plug","disabled":false,
       "interview_completed":true,"definition":{"model":"SP-EUC01","vendor":"Aqara","description":"Smart plug EU",
       "exposes":[{"type":"switch","features":[{"type":"binary","name":"state","property":"state","access":7}]},
                  {"type":"numeric","name":"power","property":"power","unit":"W","access":5},
                  {"type":"numeric","name":"energy","property":"energy","unit":"kWh","access":5}]}},
      {"ieee_address":"0x00158d0001a2b3c4","type":"EndDevice","supported":true,"friendly_name":"Hall sensor",
       "interview_completed":true,"definition":{"model":"WSDCGQ11LM","vendor":"Aqara",
       "exposes":[{"type":"numeric","name":"temperature","property":"temperature","unit":"°C","access":1}]}}])json",
     1, true},
    {"solar/dtu/hostname", "OpenDTU-07F614", 1, true},
    {"solar/dtu/status", "online", 1, true},
    {"solar/114190641177/name", "Garage HM-800", 1, true},
    {"solar/114190641177/0/power", "412.5", 1, true},
    {"tasmota/discovery/DEADBEEF0001/config", "{broken", 1, true},
};

// A Shelly Plus 1PM on its own MQTT client: last will and birth on <id>/online, and the RPC
// channel: a request frame on <id>/rpc is answered on <src>/rpc.
class FakeShelly {
 public:
  explicit FakeShelly(const Mosquitto& broker, const std::string& username = "", const std::string& password = "") {
    ClientSettings s = settings_for(broker, kShellyId);
    s.username = username;
    s.password = password;
    s.will = Message{kShellyId + "/online", "false", 1, true};
    s.birth = Message{kShellyId + "/online", "true", 1, true};
    client_ = std::make_unique<Client>(s, loop_, Client::Handlers{{}, {}, [this](Message m) { answer(m); }});
    client_->subscribe(kShellyId + "/rpc", 1);
  }
  bool start() { return client_->start() && eventually(5s, [&] { return client_->connected(); }); }
  int requests() const { return requests_.load(); }

 private:
  void answer(const Message& m) {
    const json request = json::parse(m.payload, nullptr, false);
    if (!request.is_object() || !request.contains("src") || !request.contains("id")) return;
    ++requests_;
    json reply = {{"id", request["id"]}, {"src", kShellyId}, {"dst", request["src"]}};
    if (request["method"] == "Shelly.GetDeviceInfo") {
      reply["result"] = {{"name", "Boiler"},  {"id", kShellyId},  {"mac", "A8032AB12345"},
                         {"slot", 0},         {"model", "SNSW-001P16EU"}, {"gen", 2},
                         {"fw_id", "20240819-074343/1.4.2-gc2639da"}, {"ver", "1.4.2"},
                         {"app", "Plus1PM"},  {"auth_en", false}, {"auth_domain", nullptr}};
    } else if (request["method"] == "Shelly.GetStatus") {
      reply["result"] = {{"input:0", {{"id", 0}, {"state", false}}},
                         {"switch:0",
                          {{"id", 0}, {"source", "init"}, {"output", true}, {"apower", 812.0}, {"voltage", 231.4},
                           {"current", 3.52}, {"aenergy", {{"total", 98765.432}}}, {"temperature", {{"tC", 41.3}}}}},
                         {"sys", {{"mac", "A8032AB12345"}}}};
    } else {
      reply["error"] = {{"code", 404}, {"message", "No handler for " + request["method"].get<std::string>()}};
    }
    client_->publish({request["src"].get<std::string>() + "/rpc", reply.dump(), 1, false});
  }

  ThreadExecutor loop_;  // before the client: destroyed (joined) after it
  std::unique_ptr<Client> client_;
  std::atomic<int> requests_{0};
};

struct CliRun {
  int rc = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `gatewayd ARGS...` to completion, stdout and stderr apart.
CliRun gatewayd(const TempDir& dir, std::vector<std::string> args) {
  static int n = 0;
  const auto out_file = dir.path() / ("out-" + std::to_string(++n));
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" > '" + out_file.string() + "'", kGatewayd};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv);
  CliRun r;
  r.rc = p.wait();
  r.err = p.log();
  std::ifstream in(out_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  return r;
}

const json* find(const json& devices, const std::string& vendor, const std::string& topic_id) {
  for (const auto& d : devices) {
    if (d["vendor"] == vendor && d["topic_id"] == topic_id) return &d;
  }
  return nullptr;
}

// `gatewayd check-config` on the snippet below a [site] table.
void expect_check_config_passes(const TempDir& dir, const std::string& snippet) {
  const auto config = dir.path() / "gridlet.toml";
  write_file(config, "[site]\nid = \"scan-it\"\nname = \"scan test\"\n\n" + snippet);
  const CliRun check = gatewayd(dir, {"check-config", config.string()});
  EXPECT_EQ(check.rc, 0) << check.out << check.err << "\n" << snippet;
  EXPECT_EQ(check.out, "ok\n") << snippet;
}

class MqttScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready()) << broker_.log();
    publisher_ = std::make_unique<Client>(settings_for(broker_, "announcer"), loop_, Client::Handlers{});
    ASSERT_TRUE(publisher_->start());
    ASSERT_TRUE(eventually(5s, [&] { return publisher_->connected(); }));
    for (const auto& m : kRetained) ASSERT_TRUE(publish_and_wait(*publisher_, m)) << m.topic;
    ASSERT_TRUE(shelly_.start());
  }

  TempDir dir_;
  Mosquitto broker_{dir_.path() / "broker"};
  ThreadExecutor loop_;
  std::unique_ptr<Client> publisher_;
  FakeShelly shelly_{broker_};
};

TEST_F(MqttScanTest, JsonListsOneDeviceOfEachVendorWithItsPreset) {
  const CliRun r = gatewayd(dir_, {"scan", "mqtt", broker_.url(), "--seconds", "2", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  const json devices = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(devices.is_array()) << r.out;

  const json* shelly = find(devices, "shelly", kShellyId);
  ASSERT_NE(shelly, nullptr) << r.out;
  EXPECT_EQ((*shelly)["preset"], "shelly-gen2-switch");
  EXPECT_EQ((*shelly)["model"], "SNSW-001P16EU (Plus1PM)") << "the GetDeviceInfo answer was used";
  EXPECT_EQ((*shelly)["name"], "Boiler");
  EXPECT_EQ((*shelly)["firmware"], "1.4.2");
  EXPECT_EQ((*shelly)["online"], true);
  EXPECT_EQ((*shelly)["metering"], true) << "the GetStatus answer was used";
  EXPECT_EQ(shelly_.requests(), 2) << "GetDeviceInfo and GetStatus, once each";

  const json* tasmota = find(devices, "tasmota", "tasmota_4B2C1D");
  ASSERT_NE(tasmota, nullptr) << r.out;
  EXPECT_EQ((*tasmota)["preset"], "tasmota-plug");
  EXPECT_EQ((*tasmota)["metering"], true);
  EXPECT_EQ((*tasmota)["name"], "Washing machine");

  const json* plug = find(devices, "zigbee2mqtt", "Kitchen Plug");
  ASSERT_NE(plug, nullptr) << r.out;
  EXPECT_EQ((*plug)["preset"], "zigbee2mqtt-plug");
  EXPECT_EQ((*plug)["base"], "zigbee2mqtt");
  const json* sensor = find(devices, "zigbee2mqtt", "Hall sensor");
  ASSERT_NE(sensor, nullptr) << r.out;
  EXPECT_TRUE((*sensor)["preset"].is_null()) << "listed, without a preset";
  EXPECT_FALSE((*sensor)["note"].is_null());

  const json* inverter = find(devices, "opendtu", "114190641177");
  ASSERT_NE(inverter, nullptr) << r.out;
  EXPECT_EQ((*inverter)["preset"], "opendtu");
  EXPECT_EQ((*inverter)["kind"], "inverter");
  EXPECT_EQ((*inverter)["name"], "Garage HM-800");

  EXPECT_EQ(devices.size(), 6U) << "the five devices and the DTU:\n" << r.out;
  EXPECT_NE(r.err.find("1 message could not be used"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tasmota/discovery/DEADBEEF0001/config: not JSON"), std::string::npos) << r.err;
}

TEST_F(MqttScanTest, ConfigSnippetPassesCheckConfig) {
  const CliRun r = gatewayd(dir_, {"scan", "mqtt", broker_.url(), "--seconds", "2", "--config-snippet", "--bus-id", "home"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  for (const char* expected :
       {"[[buses]]\nid = \"home\"\ntype = \"mqtt\"\n", "profile = \"shelly-gen2-switch\"\ntopic_id = \"shellyplus1pm-a8032ab12345\"\n",
        "profile = \"tasmota-plug\"\ntopic_id = \"tasmota_4B2C1D\"\n", "profile = \"zigbee2mqtt-plug\"\ntopic_id = \"Kitchen Plug\"\n",
        "profile = \"opendtu\"\ntopic_id = \"114190641177\"\n", "# not configured: zigbee2mqtt zigbee2mqtt/Hall sensor",
        "# 1 message could not be used:"}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("url = \"" + broker_.url() + "\""), std::string::npos) << r.out;
  expect_check_config_passes(dir_, r.out);
}

TEST_F(MqttScanTest, TableIsTheDefault) {
  const CliRun r = gatewayd(dir_, {"scan", "mqtt", broker_.url(), "--seconds", "1"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  EXPECT_EQ(r.out.rfind("vendor", 0), 0U) << r.out;
  EXPECT_NE(r.out.find("6 devices found on " + broker_.url() + " in 1 s, 4 with a preset"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 of 2 Shelly RPC requests answered"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("scan mqtt: found shelly " + kShellyId), std::string::npos) << r.err;
}

TEST(MqttScan, NothingThereIsNotAnError) {
  TempDir dir;
  Mosquitto broker(dir.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  const CliRun json_run = gatewayd(dir, {"scan", "mqtt", broker.url(), "--seconds", "1", "--json"});
  EXPECT_EQ(json_run.rc, 0) << json_run.err;
  EXPECT_EQ(json_run.out, "[]\n");
  const CliRun table = gatewayd(dir, {"scan", "mqtt", broker.url(), "--seconds", "1"});
  EXPECT_EQ(table.rc, 0) << table.err;
  EXPECT_NE(table.out.find("no devices found on " + broker.url() + " in 1 s"), std::string::npos) << table.out;
}

TEST(MqttScan, UnreachableBrokerAndBadArguments) {
  TempDir dir;
  const std::string nobody = "mqtt://127.0.0.1:" + std::to_string(gridlet::testing::free_loopback_port());
  const CliRun r = gatewayd(dir, {"scan", "mqtt", nobody, "--seconds", "1", "--json"});
  EXPECT_EQ(r.rc, 3) << r.err;
  EXPECT_NE(r.err.find("cannot reach " + nobody + ": cannot connect: no connection"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"scan", "mqtt"}, {"scan", "mqtt", "http://127.0.0.1"}, {"scan", "mqtt", nobody, "--seconds", "0"},
        {"scan", "mqtt", nobody, "--json", "--config-snippet"}, {"scan", "mqtt", nobody, "--password-file", "/etc/hostname"},
        {"scan", "mqtt", nobody, "--bus-id", "No Spaces"}, {"scan", "mqtt", nobody, "--protocol", "4"}}) {
    const CliRun b = gatewayd(dir, bad);
    EXPECT_EQ(b.rc, 2) << testing::PrintToString(bad) << "\n" << b.err;
  }
}

TEST(MqttScan, PasswordsAreUsedAndAWrongOneIsReported) {
  TempDir dir;
  const auto passwords = dir.path() / "passwd";
  ChildProcess make({"/usr/bin/mosquitto_passwd", "-c", "-b", passwords.string(), "gridlet", "s3cret"});
  ASSERT_EQ(make.wait(), 0) << make.log();
  Mosquitto::Options o;
  o.password_file = passwords;
  Mosquitto broker(dir.path() / "broker", o);
  ASSERT_TRUE(broker.ready()) << broker.log();
  FakeShelly shelly(broker, "gridlet", "s3cret");
  ASSERT_TRUE(shelly.start());

  const auto right = dir.path() / "mqtt.password";
  write_file(right, "s3cret\n");
  ::chmod(right.c_str(), 0600);
  const auto wrong = dir.path() / "wrong.password";
  write_file(wrong, "guess\n");
  ::chmod(wrong.c_str(), 0600);

  const CliRun refused = gatewayd(dir, {"scan", "mqtt", broker.url(), "--seconds", "1", "--username", "gridlet", "--password-file",
                                     wrong.string()});
  EXPECT_EQ(refused.rc, 3) << refused.err;
  EXPECT_NE(refused.err.find("not authorized"), std::string::npos) << refused.err;
  const CliRun anonymous = gatewayd(dir, {"scan", "mqtt", broker.url(), "--seconds", "1"});
  EXPECT_EQ(anonymous.rc, 3) << anonymous.err;

  const CliRun r = gatewayd(dir, {"scan", "mqtt", broker.url(), "--seconds", "1", "--config-snippet", "--username", "gridlet",
                               "--password-file", right.string()});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("username = \"gridlet\"\npassword_file = \"" + right.string() + "\"\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("topic_id = \"" + kShellyId + "\""), std::string::npos) << r.out;
  expect_check_config_passes(dir, r.out);
}

}  // namespace
