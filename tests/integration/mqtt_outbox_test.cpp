// Store-and-forward of the gateway's QoS 1 messages, end to end with the real gatewayd and two real
// mosquitto brokers: the devices' broker stays up, the broker the gateway publishes on ([mqtt])
// restarts in the middle of a stream, or is away while the gateway is killed with a full outbox.
// A checking subscriber with a persistent session must see every value, in order, dropping only
// the duplicates QoS 1 allows by the "seq" each message carries.
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/gatewayd_support.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"

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

constexpr const char* kPowerTopic = "gridlet/it/plug/power_w";

// What the checking subscriber saw on the power topic, in arrival order.
struct Seen {
  std::uint64_t seq = 0;
  double value = 0;
};

class MqttOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(devices_broker_.ready()) << devices_broker_.log();
    ASSERT_TRUE(home_.ready()) << home_.log();
    data_ = dir_.path() / "data";
    std::filesystem::create_directories(data_);
    config_ = dir_.path() / "gridlet.toml";
    write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                            "\"\ncommit_interval = \"100ms\"\n"
                            "[[buses]]\nid = \"zigbee\"\ntype = \"mqtt\"\nurl = \"" + devices_broker_.url() +
                            "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + home_.url() +
                            "\"\n[[devices]]\nid = \"plug\"\nkind = \"other\"\nbus = \"zigbee\"\n"
                            "profile = \"zigbee2mqtt-plug\"\ntopic_id = \"plug\"\n"
                            "[mqtt]\nenabled = true\nbus = \"home\"\nqos = 1\ndiscovery = false\n"
                            "min_interval = \"0ms\"\n");
    // The checker's persistent session exists before anything is published.
    mq::ClientSettings cs;
    cs.name = cs.client_id = "checker";
    cs.url = home_.url();
    cs.clean_session = false;
    cs.reconnect_min = 100ms;
    cs.reconnect_max = 500ms;
    checker_ = std::make_unique<mq::Client>(cs, loop_, mq::Client::Handlers{{}, {}, [this](mq::Message m) {
                                              if (m.topic != kPowerTopic) return;
                                              const auto j = json::parse(m.payload);
                                              std::lock_guard lock(mu_);
                                              seen_.push_back({j["seq"].get<std::uint64_t>(), j["value"].get<double>()});
                                            }});
    checker_->subscribe(kPowerTopic, 1);
    ASSERT_TRUE(checker_->start());
    ASSERT_TRUE(eventually(5s, [&] { return checker_->connected(); }));

    mq::ClientSettings ds;
    ds.name = ds.client_id = "plug";
    ds.url = devices_broker_.url();
    plug_ = std::make_unique<mq::Client>(ds, loop_, mq::Client::Handlers{});
    ASSERT_TRUE(plug_->start());
    ASSERT_TRUE(eventually(5s, [&] { return plug_->connected(); }));
  }

  void TearDown() override {
    checker_.reset();
    plug_.reset();
  }

  // The plug reports power = value, each report one second after the last (Zigbee2MQTT's
  // last_seen in ms), so every report is a new reading.
  void report(int value) {
    const json j{{"power", value}, {"last_seen", 1'790'000'000'000 + value * 1000LL}, {"state", "ON"}};
    // One at a time, each until the broker acknowledged it: the device side must not lose any.
    ASSERT_TRUE(eventually(5s, [&] {
      auto done = std::make_shared<std::promise<bool>>();
      auto delivered = done->get_future();
      plug_->publish({"zigbee2mqtt/plug", j.dump(), 1, false}, [done](bool ok) { done->set_value(ok); });
      return delivered.wait_for(2s) == std::future_status::ready && delivered.get();
    }));
  }

  // The gateway listens on the devices' broker (it subscribes right after connecting).
  static void wait_for_devices_bus(Daemon& d) {
    ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt zigbee: connected")).has_value()) << d.proc().log();
    std::this_thread::sleep_for(300ms);
  }

  // Every value 1..n arrived; after dropping repeated seqs, seqs and values increase together.
  ::testing::AssertionResult complete_and_in_order(int n) {
    std::lock_guard lock(mu_);
    std::vector<Seen> unique;
    std::map<std::uint64_t, double> by_seq;
    for (const auto& s : seen_) {
      if (const auto it = by_seq.find(s.seq); it != by_seq.end()) {
        if (it->second != s.value) return ::testing::AssertionFailure() << "seq " << s.seq << " with two values";
        continue;  // a duplicate QoS 1 allows
      }
      by_seq.emplace(s.seq, s.value);
      unique.push_back(s);
    }
    // After a reconnect the gateway repeats the latest value with a new seq: that is not a gap.
    std::vector<double> values;
    for (const auto& s : unique) {
      if (!values.empty() && s.value == values.back()) continue;
      values.push_back(s.value);
    }
    for (std::size_t i = 1; i < unique.size(); ++i) {
      if (unique[i].seq <= unique[i - 1].seq) {
        return ::testing::AssertionFailure() << "seq " << unique[i].seq << " after " << unique[i - 1].seq;
      }
    }
    std::vector<double> want;
    for (int v = 1; v <= n; ++v) want.push_back(v);
    if (values != want) {
      std::string got;
      for (const auto v : values) got += std::to_string(static_cast<int>(v)) + " ";
      return ::testing::AssertionFailure() << "values in arrival order: " << got;
    }
    return ::testing::AssertionSuccess() << seen_.size() << " messages, " << unique.size() << " distinct";
  }

  double metric(std::uint16_t port, const std::string& viewer, const std::string& name) {
    const auto r = gridlet::testing::http(port, "GET", "/metrics", viewer);
    if (!r || r->status != 200) return -1;
    const std::regex re("\\n" + name + "(\\{[^}]*\\})? ([0-9.e+]+)");
    std::smatch m;
    if (!std::regex_search(r->body, m, re)) return -1;
    return std::stod(m[2]);
  }

  static Mosquitto::Options persistent() {
    Mosquitto::Options o;
    o.persistence = true;
    return o;
  }

  TempDir dir_;
  Mosquitto devices_broker_{dir_.path() / "zigbee"};
  Mosquitto home_{dir_.path() / "home", persistent()};
  std::filesystem::path data_, config_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  ThreadExecutor loop_;  // joined before the clients and what their handlers touch go
  std::unique_ptr<mq::Client> checker_, plug_;
};

TEST_F(MqttOutboxTest, ABrokerRestartInTheMiddleOfAStreamLosesNothingAndKeepsTheOrder) {
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: connected")).has_value()) << d.proc().log();
  wait_for_devices_bus(d);
  constexpr int kValues = 300;
  for (int v = 1; v <= kValues; ++v) {
    report(v);
    std::this_thread::sleep_for(5ms);
    if (v == kValues / 3) {
      ASSERT_TRUE(home_.restart()) << home_.log();  // down for a moment, then back
    }
  }
  EXPECT_TRUE(eventually(30s, [&] { return static_cast<bool>(complete_and_in_order(kValues)); }))
      << complete_and_in_order(kValues) << "\n" << d.proc().log();
  EXPECT_GE(checker_->stats().connects, 2u) << "the checker saw the restart too";
}

TEST_F(MqttOutboxTest, KillNineWithAFullOutboxLosesNothing) {
  const std::string viewer = gridlet::testing::create_token(data_ / "tokens", "viewer");
  home_.stop();  // the checker's session is on its disk; the gateway cannot reach it
  constexpr int kValues = 200;
  {
    Daemon d(config_, data_);
    ASSERT_TRUE(d.ready()) << d.proc().log();
    wait_for_devices_bus(d);
    for (int v = 1; v <= kValues; ++v) report(v);
    // Every value is in the outbox and on disk before the kill.
    ASSERT_TRUE(eventually(15s, [&] {
      return metric(d.port(), viewer, "gridlet_mqtt_outbox_written_total") >= kValues &&
             metric(d.port(), viewer, "gridlet_mqtt_outbox_messages") >= kValues;
    })) << gridlet::testing::http(d.port(), "GET", "/metrics", viewer)->body << "\n" << d.proc().log();
    d.proc().signal(SIGKILL);
    d.proc().wait();
  }
  ASSERT_TRUE(home_.restart()) << home_.log();
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  EXPECT_TRUE(d.proc().wait_for_log(std::regex("MQTT outbox: 2[0-9][0-9] messages from the previous run")).has_value())
      << d.proc().log();
  EXPECT_TRUE(eventually(30s, [&] { return static_cast<bool>(complete_and_in_order(kValues)); }))
      << complete_and_in_order(kValues) << "\n" << d.proc().log();
  EXPECT_TRUE(eventually(10s, [&] { return metric(d.port(), viewer, "gridlet_mqtt_outbox_messages") == 0; }));
}

}  // namespace
}  // namespace gridlet
