// What the real gatewayd publishes, as an independent MQTT client sees it: Eclipse mosquitto's own
// mosquitto_sub (Debian's mosquitto-clients), not our Paho-based client, against a real mosquitto
// on 127.0.0.1. The gateway reads a Zigbee2MQTT plug and a Tasmota plug that this test plays, with
// publishing, Home Assistant discovery and control on. A subscriber that comes after everything
// was published must get, retained: the gateway's status, every point as JSON (value, unit,
// quality, ts), every device's availability, and Home Assistant discovery documents that all keep
// Home Assistant's rules (tests/unit/ha_rules.hpp), point at topics that exist, and include a
// switch for each plug's relay.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/gatewayd_support.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"
#include "tests/unit/ha_rules.hpp"

namespace gridlet {
namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::Daemon;
using gridlet::testing::eventually;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace mq = adapters::mqtt;

constexpr const char* kMosquittoSub = "/usr/bin/mosquitto_sub";

// One message as mosquitto_sub printed it.
struct Received {
  std::string topic;
  bool retained = false;
  std::string payload;
};

// mosquitto_sub -F '%t\t%r\t%l\t%p' prints topic, retained flag (0/1), payload length in bytes
// and the payload, then a newline. The length makes payloads with newlines or tabs safe to split.
// Returns the complete records in order; nullopt when the output is not in that format (an error
// message of mosquitto_sub, which shares the log).
std::optional<std::vector<Received>> parse_records(const std::string& out) {
  std::vector<Received> records;
  std::size_t at = 0;
  static const std::regex head(R"(([^\t\n]+)\t([01])\t([0-9]+)\t)");
  while (at < out.size()) {
    std::smatch m;
    const std::string rest = out.substr(at, 1024);
    if (!std::regex_search(rest, m, head, std::regex_constants::match_continuous)) {
      // A head cut short by the pipe is fine; anything else is not our format.
      if (rest.find('\n') == std::string::npos && rest.size() < 1024) break;
      return std::nullopt;
    }
    const std::size_t length = std::stoul(m[3]);
    const std::size_t payload_at = at + static_cast<std::size_t>(m.length(0));
    if (payload_at + length + 1 > out.size()) break;  // the rest is still on its way
    if (out[payload_at + length] != '\n') return std::nullopt;
    records.push_back({m[1], m[2] == "1", out.substr(payload_at, length)});
    at = payload_at + length + 1;
  }
  return records;
}

// mosquitto_sub on gridlet/# and homeassistant/#, QoS 1, stopped by its pid.
class MosquittoSub {
 public:
  MosquittoSub(const Mosquitto& broker, const std::string& client_id)
      : proc_({kMosquittoSub, "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-i", client_id, "-q", "1",
               "-t", "gridlet/#", "-t", "homeassistant/#", "-F", "%t\\t%r\\t%l\\t%p"}) {}
  ~MosquittoSub() { stop(); }

  // The last message of every topic so far (the output is in order).
  std::map<std::string, Received> latest() const {
    std::map<std::string, Received> by_topic;
    const auto records = parse_records(proc_.log());
    if (!records) {
      ADD_FAILURE() << "not mosquitto_sub's -F output:\n" << proc_.log();
      return by_topic;
    }
    for (const auto& r : *records) by_topic[r.topic] = r;
    return by_topic;
  }
  std::string log() const { return proc_.log(); }
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    proc_.signal(SIGTERM);
    proc_.wait();
  }

 private:
  ChildProcess proc_;
  bool stopped_ = false;
};

std::string dump_topics(const std::map<std::string, Received>& seen) {
  std::string all;
  for (const auto& [topic, r] : seen) {
    all += topic + (r.retained ? " (retained) " : " ") + r.payload.substr(0, 100) + "\n";
  }
  return all;
}

// The point topics the two plugs' messages below fill, with the value and unit each must show.
struct ExpectedPoint {
  std::string topic;
  double value;
  std::string unit;
};
const std::vector<ExpectedPoint>& expected_points() {
  static const std::vector<ExpectedPoint> points = {
      {"gridlet/it/kitchen/power_w", 12.5, "W"},
      {"gridlet/it/kitchen/energy_wh", 1250, "Wh"},  // 1.25 kWh
      {"gridlet/it/kitchen/voltage_v", 230.1, "V"},
      {"gridlet/it/kitchen/current_a", 0.06, "A"},
      {"gridlet/it/kitchen/state", 1, ""},
      {"gridlet/it/desk/power_w", 230, "W"},
      {"gridlet/it/desk/energy_wh", 12345, "Wh"},  // 12.345 kWh
      {"gridlet/it/desk/energy_today_wh", 500, "Wh"},
      {"gridlet/it/desk/voltage_v", 231, "V"},
      {"gridlet/it/desk/current_a", 1.0, "A"},
      {"gridlet/it/desk/power_factor", 0.98, ""},
      {"gridlet/it/desk/relay", 0, ""},
  };
  return points;
}

TEST(MqttIndependentClient, MosquittoSubSeesStatusPointsAvailabilityAndValidDiscovery) {
  ASSERT_TRUE(std::filesystem::exists(kMosquittoSub)) << "mosquitto_sub is missing: run scripts/bootstrap";
  TempDir dir;
  Mosquitto broker(dir.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  const auto data = dir.path() / "data";
  std::filesystem::create_directories(data);
  const auto config = dir.path() / "gridlet.toml";
  write_file(config, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data.string() +
                         "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker.url() +
                         "\"\n[[devices]]\nid = \"kitchen\"\nkind = \"other\"\nbus = \"home\"\n"
                         "profile = \"zigbee2mqtt-plug\"\ntopic_id = \"Kitchen Plug\"\n"
                         "[[devices]]\nid = \"desk\"\nkind = \"other\"\nbus = \"home\"\n"
                         "profile = \"tasmota-plug\"\ntopic_id = \"tasmota_ABC123\"\n"
                         "[mqtt]\nenabled = true\nbus = \"home\"\ndiscovery = true\ncontrol = true\n");

  // The first subscriber is there from the start: it tells when everything has been published.
  MosquittoSub live(broker, "live-sub");
  Daemon d(config, data);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: connected")).has_value()) << d.proc().log();

  // The plugs: their availability (retained, as both publish it) and their readings, sent again
  // every second until the gateway has published them all (it subscribes right after connecting).
  ThreadExecutor loop;
  mq::ClientSettings s;
  s.name = s.client_id = "plugs";
  s.url = broker.url();
  mq::Client plugs(s, loop, {});
  ASSERT_TRUE(plugs.start());
  ASSERT_TRUE(eventually(5s, [&] { return plugs.connected(); })) << plugs.stats().last_error;
  const std::int64_t last_seen =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto feed = [&] {
    plugs.publish({"zigbee2mqtt/Kitchen Plug/availability", R"({"state":"online"})", 1, true});
    plugs.publish({"zigbee2mqtt/Kitchen Plug",
                   json{{"state", "ON"}, {"power", 12.5}, {"energy", 1.25}, {"voltage", 230.1}, {"current", 0.06},
                        {"last_seen", last_seen}}
                       .dump(),
                   1, false});
    plugs.publish({"tele/tasmota_ABC123/LWT", "Online", 1, true});
    plugs.publish({"tele/tasmota_ABC123/STATE", R"({"Time":"2026-12-04T17:00:00","POWER":"OFF"})", 1, false});
    plugs.publish({"tele/tasmota_ABC123/SENSOR",
                   R"({"Time":"2026-12-04T17:00:00","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00",)"
                   R"("Total":12.345,"Yesterday":0.4,"Today":0.5,"Power":230,"ApparentPower":235,)"
                   R"("ReactivePower":47,"Factor":0.98,"Voltage":231,"Current":1.0}})",
                   1, false});
  };
  const auto all_published = [&] {
    const auto seen = live.latest();
    for (const auto& p : expected_points()) {
      const auto it = seen.find(p.topic);
      if (it == seen.end()) return false;
      const auto doc = json::parse(it->second.payload, nullptr, false);
      if (!doc.is_object() || doc.value("quality", "") != "good") return false;
    }
    // The switches come with the state they read, once the plugs have reported it.
    int switches = 0;
    for (const auto& [topic, r] : seen) {
      if (topic.starts_with("homeassistant/switch/") && r.payload.find("state_topic") != std::string::npos) {
        ++switches;
      }
    }
    // Availability follows the device registry (about a second after the first reading).
    for (const std::string device : {"kitchen", "desk"}) {
      const auto it = seen.find("gridlet/it/" + device + "/availability");
      if (it == seen.end() || it->second.payload != "online") return false;
    }
    return switches == 2;
  };
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool published = false;
  while (!published && std::chrono::steady_clock::now() < deadline) {
    feed();
    published = eventually(1s, all_published);
  }
  ASSERT_TRUE(published) << d.proc().log() << "\nmosquitto_sub saw:\n" << dump_topics(live.latest());
  std::this_thread::sleep_for(500ms);  // discovery documents of the last points, if any were late

  // A subscriber that comes now gets everything the gateway keeps on the broker, retained.
  const auto expected = [&] {
    std::set<std::string> topics;
    for (const auto& [topic, r] : live.latest()) {
      if (topic != "gridlet/it/events" && !r.payload.empty()) topics.insert(topic);
    }
    return topics;
  }();
  MosquittoSub late(broker, "late-sub");
  ASSERT_TRUE(eventually(10s, [&] {
    const auto seen = late.latest();
    for (const auto& topic : expected) {
      if (!seen.contains(topic)) return false;
    }
    return true;
  })) << "mosquitto_sub (late) saw:\n" << dump_topics(late.latest()) << late.log();
  late.stop();
  live.stop();
  const auto retained = late.latest();

  // The gateway's status.
  ASSERT_TRUE(retained.contains("gridlet/it/status"));
  EXPECT_EQ(retained.at("gridlet/it/status").payload, "online");
  EXPECT_TRUE(retained.at("gridlet/it/status").retained);

  // Every point: JSON with value, unit, quality and ts, retained.
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (const auto& p : expected_points()) {
    SCOPED_TRACE(p.topic);
    ASSERT_TRUE(retained.contains(p.topic));
    const Received& r = retained.at(p.topic);
    EXPECT_TRUE(r.retained);
    const auto doc = json::parse(r.payload, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << r.payload;
    ASSERT_TRUE(doc.contains("value") && doc["value"].is_number()) << r.payload;
    EXPECT_NEAR(doc["value"].get<double>(), p.value, 1e-6 * std::max(1.0, std::abs(p.value))) << r.payload;
    ASSERT_TRUE(doc.contains("unit") && doc["unit"].is_string()) << r.payload;
    EXPECT_EQ(doc["unit"], p.unit) << r.payload;
    EXPECT_EQ(doc.value("quality", ""), "good") << r.payload;
    ASSERT_TRUE(doc.contains("ts") && doc["ts"].is_number_integer()) << r.payload;
    const auto ts = doc["ts"].get<std::int64_t>();
    if (p.topic.starts_with("gridlet/it/kitchen/")) {
      EXPECT_EQ(ts, last_seen) << "Zigbee2MQTT's last_seen is the reading's time";
    } else {
      EXPECT_GE(ts, last_seen - 1000) << "Tasmota's local Time has no zone: the receive time";
      EXPECT_LE(ts, now_ms + 1000);
    }
  }

  // Every device's availability.
  for (const std::string device : {"kitchen", "desk"}) {
    const std::string topic = "gridlet/it/" + device + "/availability";
    ASSERT_TRUE(retained.contains(topic)) << topic;
    EXPECT_EQ(retained.at(topic).payload, "online") << topic;
    EXPECT_TRUE(retained.at(topic).retained) << topic;
  }

  // Every Home Assistant discovery document keeps Home Assistant's rules, and the topics it names
  // for state and availability are ones a subscriber finds retained.
  int documents = 0;
  std::map<std::string, json> switches;  // command_topic -> document
  for (const auto& [topic, r] : retained) {
    if (!topic.starts_with("homeassistant/")) continue;
    SCOPED_TRACE(topic);
    ++documents;
    EXPECT_TRUE(r.retained);
    const auto violations = gridlet::ha_rules::check_discovery(topic, r.payload);
    EXPECT_TRUE(violations.empty()) << gridlet::ha_rules::describe(violations) << r.payload;
    const auto doc = json::parse(r.payload, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << r.payload;
    if (doc.contains("state_topic")) {
      EXPECT_TRUE(retained.contains(doc["state_topic"].get<std::string>())) << r.payload;
    }
    for (const auto& a : doc.value("availability", json::array())) {
      EXPECT_TRUE(retained.contains(a.value("topic", ""))) << r.payload;
    }
    if (topic.starts_with("homeassistant/switch/")) switches[doc.value("command_topic", "")] = doc;
  }
  EXPECT_GE(documents, 1 + 5 + 7) << "the gateway and every point of both plugs\n" << dump_topics(retained);

  // The plugs' relays are Home Assistant switches, reading the state the gateway publishes.
  ASSERT_TRUE(switches.contains("gridlet/it/kitchen/state/set")) << dump_topics(retained);
  EXPECT_EQ(switches["gridlet/it/kitchen/state/set"].value("state_topic", ""), "gridlet/it/kitchen/state");
  ASSERT_TRUE(switches.contains("gridlet/it/desk/relay/set")) << dump_topics(retained);
  EXPECT_EQ(switches["gridlet/it/desk/relay/set"].value("state_topic", ""), "gridlet/it/desk/relay");
}

}  // namespace
}  // namespace gridlet
