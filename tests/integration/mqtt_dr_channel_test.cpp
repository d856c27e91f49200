// The aggregator's MQTT channel with the real gatewayd and a real mosquitto: every message on
// gridlet/<site>/dr/events gets an answer on gridlet/<site>/dr/acks, accepted events are stored
// (and still known after a restart), and refusals say why and are counted.
#include <gtest/gtest.h>

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

std::string event(const std::string& id, int modification, double limit_kw) {
  return json{{"event_id", id},
              {"program", "peak"},
              {"priority", 1},
              {"modification_number", modification},
              {"payload_descriptors", {{{"payload_type", "IMPORT_CAPACITY_LIMIT"}, {"units", "KW"}}}},
              {"interval_period", {{"start", "2026-12-04T17:00:00Z"}, {"duration", "PT1H"}}},
              {"intervals", {{{"id", 0}, {"payloads", {{{"type", "IMPORT_CAPACITY_LIMIT"}, {"values", {limit_kw}}}}}}}}}
      .dump();
}

class MqttDrChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready()) << broker_.log();
    data_ = dir_.path() / "data";
    std::filesystem::create_directories(data_);
    config_ = dir_.path() / "gridlet.toml";
    write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                            "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker_.url() +
                            "\"\n[mqtt]\nenabled = true\nbus = \"home\"\ndiscovery = false\ndr_events = true\n");
    viewer_ = gridlet::testing::create_token(data_ / "tokens", "viewer");
    mq::ClientSettings s;
    s.name = s.client_id = "aggregator";
    s.url = broker_.url();
    aggregator_ = std::make_unique<mq::Client>(s, loop_, mq::Client::Handlers{{}, {}, [this](mq::Message m) {
                                                 std::lock_guard lock(mu_);
                                                 acks_.push_back(json::parse(m.payload));
                                               }});
    aggregator_->subscribe("gridlet/it/dr/acks", 1);
    ASSERT_TRUE(aggregator_->start());
    ASSERT_TRUE(eventually(5s, [&] { return aggregator_->connected(); }));
  }
  void TearDown() override { aggregator_.reset(); }

  // Sends one message and waits for its answer (the n-th).
  json send(const std::string& payload) {
    std::size_t before = 0;
    {
      std::lock_guard lock(mu_);
      before = acks_.size();
    }
    EXPECT_TRUE(aggregator_->publish({"gridlet/it/dr/events", payload, 1, false}));
    json ack;
    EXPECT_TRUE(eventually(10s, [&] {
      std::lock_guard lock(mu_);
      if (acks_.size() <= before) return false;
      ack = acks_[before];
      return true;
    })) << payload.substr(0, 200);
    return ack;
  }

  TempDir dir_;
  Mosquitto broker_{dir_.path() / "broker"};
  std::filesystem::path data_, config_;
  std::string viewer_;
  std::mutex mu_;
  std::vector<json> acks_;
  ThreadExecutor loop_;
  std::unique_ptr<mq::Client> aggregator_;
};

TEST_F(MqttDrChannelTest, EveryEventIsAnsweredAcceptedOnesAreStoredAndRefusalsSayWhy) {
  {
    Daemon d(config_, data_);
    ASSERT_TRUE(d.ready()) << d.proc().log();
    ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: connected")).has_value()) << d.proc().log();
    std::this_thread::sleep_for(300ms);  // subscribed right after connecting

    json ack = send(event("evt-1", 0, 5.5));
    EXPECT_EQ(ack["status"], "accepted") << ack.dump();
    EXPECT_EQ(ack["outcome"], "stored");
    EXPECT_EQ(ack["event_id"], "evt-1");
    EXPECT_GT(ack["seq"].get<std::uint64_t>(), 0u);
    const auto first_seq = ack["seq"].get<std::uint64_t>();

    ack = send(event("evt-1", 0, 5.5));  // QoS 1 may deliver it twice: the same answer, nothing new
    EXPECT_EQ(ack["status"], "accepted");
    EXPECT_EQ(ack["outcome"], "unchanged");
    EXPECT_GT(ack["seq"].get<std::uint64_t>(), first_seq);

    ack = send(event("evt-1", 2, 4.0));  // a newer modification replaces it
    EXPECT_EQ(ack["outcome"], "stored");
    ack = send(event("evt-1", 1, 3.0));  // an older one is refused
    EXPECT_EQ(ack["status"], "rejected");
    EXPECT_EQ(ack["error"], "stale");
    EXPECT_EQ(ack["modification_number"], 1);

    ack = send("{not json");
    EXPECT_EQ(ack["status"], "rejected");
    EXPECT_EQ(ack["error"], "invalid");
    EXPECT_EQ(ack["event_id"], "");

    auto bad = json::parse(event("evt-2", 0, 5.5));
    bad["intervals"][0]["payloads"][0]["values"] = {-1};
    ack = send(bad.dump());
    EXPECT_EQ(ack["status"], "rejected");
    EXPECT_EQ(ack["event_id"], "evt-2") << "the id is read even from an event that is refused";
    EXPECT_NE(ack["reason"].get<std::string>().find("/intervals/0/payloads/0/values"), std::string::npos)
        << ack.dump();

    ack = send(std::string(70 * 1024, ' '));
    EXPECT_EQ(ack["error"], "too_large");

    const auto metrics = gridlet::testing::http(d.port(), "GET", "/metrics", viewer_);
    ASSERT_TRUE(metrics && metrics->status == 200);
    EXPECT_NE(metrics->body.find("gridlet_mqtt_dr_received_total 7"), std::string::npos) << metrics->body;
    EXPECT_NE(metrics->body.find("gridlet_mqtt_dr_messages_total{status=\"rejected\",reason=\"invalid\"} 2"),
              std::string::npos)
        << metrics->body;
    EXPECT_NE(metrics->body.find("gridlet_mqtt_dr_messages_total{status=\"accepted\",reason=\"stored\"} 2"),
              std::string::npos);
    // A flood is answered too, beyond the burst with rate_limited.
    for (int i = 0; i < 40; ++i) {
      EXPECT_TRUE(aggregator_->publish({"gridlet/it/dr/events", event("flood-" + std::to_string(i), 0, 1), 1, false}));
    }
    EXPECT_TRUE(eventually(10s, [&] {
      std::lock_guard lock(mu_);
      return acks_.size() >= 7 + 40;
    }));
    std::lock_guard lock(mu_);
    int limited = 0;
    for (const auto& a : acks_) limited += a.value("error", "") == "rate_limited" ? 1 : 0;
    EXPECT_GT(limited, 0);
  }
  // After a restart the gateway still knows what it accepted.
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: connected")).has_value()) << d.proc().log();
  std::this_thread::sleep_for(300ms);
  json ack = send(event("evt-1", 2, 4.0));
  EXPECT_EQ(ack["outcome"], "unchanged") << ack.dump();
  ack = send(event("evt-1", 1, 3.0));
  EXPECT_EQ(ack["error"], "stale");
}

}  // namespace
}  // namespace gridlet
