// The publishing rules, step by step on given times: rate limit with the latest held value sent
// later, deadband, quality changes, the refresh of unchanged values, per-point settings, and the
// payload.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "adapters/mqtt/publish_policy.hpp"

namespace gridlet::adapters::mqtt {
namespace {

using namespace std::chrono_literals;

Reading reading(double value, Quality q = Quality::kGood, std::string point = "W") {
  Reading r;
  r.device = "pv";
  r.point = std::move(point);
  r.unit = "W";
  r.value = value;
  r.quality = q;
  r.timestamp_ms = 1000;
  return r;
}

TEST(MqttPublishPolicy, ARateLimitHoldsTheLatestValueAndSendsItWhenDue) {
  PublishPolicy p({1000ms, 300s, 0.0});
  EXPECT_TRUE(p.offer(reading(100), 0));
  EXPECT_FALSE(p.offer(reading(110), 200));  // too soon: held
  EXPECT_FALSE(p.offer(reading(120), 400));  // the held value is replaced by the newer one
  EXPECT_TRUE(p.due(999).empty());
  const auto due = p.due(1000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].value, 120);
  EXPECT_TRUE(p.due(1500).empty()) << "sent once";
  EXPECT_TRUE(p.offer(reading(130), 2000));
}

TEST(MqttPublishPolicy, SmallChangesAreNotNewsQualityChangesAlwaysAre) {
  PublishPolicy p({0ms, 300s, 5.0});
  EXPECT_TRUE(p.offer(reading(100), 0));
  EXPECT_FALSE(p.offer(reading(104), 10));
  EXPECT_FALSE(p.offer(reading(95), 20));
  EXPECT_TRUE(p.offer(reading(106), 30));
  EXPECT_TRUE(p.offer(reading(106, Quality::kStale), 40));
  EXPECT_TRUE(p.offer(reading(0, Quality::kError), 50));
  EXPECT_FALSE(p.offer(reading(1, Quality::kError), 60)) << "no value to compare: the quality is the news";
}

TEST(MqttPublishPolicy, AValueThatReturnsBeforeItWasSentIsNotSent) {
  PublishPolicy p({1000ms, 300s, 0.0});
  EXPECT_TRUE(p.offer(reading(100), 0));
  EXPECT_FALSE(p.offer(reading(150), 100));  // held
  EXPECT_FALSE(p.offer(reading(100), 200));  // back to what the broker holds
  EXPECT_TRUE(p.due(2000).empty());
}

TEST(MqttPublishPolicy, AnUnchangedValueIsRefreshedEveryMaxInterval) {
  PublishPolicy p({1000ms, 60s, 0.0});
  EXPECT_TRUE(p.offer(reading(100), 0));
  EXPECT_FALSE(p.offer(reading(100), 30'000));
  EXPECT_TRUE(p.due(59'999).empty());
  EXPECT_EQ(p.due(60'000).size(), 1u);
  EXPECT_TRUE(p.due(61'000).empty());
  EXPECT_TRUE(p.offer(reading(100), 120'000)) << "offered after max_interval: sent";
}

TEST(MqttPublishPolicy, PerPointSettingsAndEverythingAfterAReconnect) {
  PublishPolicy p({1000ms, 300s, 0.0});
  p.set("pv", "E", {0ms, 300s, 100.0});
  EXPECT_TRUE(p.offer(reading(10'000, Quality::kGood, "E"), 0));
  EXPECT_FALSE(p.offer(reading(10'050, Quality::kGood, "E"), 10));
  EXPECT_TRUE(p.offer(reading(10'101, Quality::kGood, "E"), 20)) << "no rate limit on this point";
  EXPECT_TRUE(p.offer(reading(1), 0));
  EXPECT_FALSE(p.offer(reading(2), 10));  // held by the default rate limit
  const auto all = p.all(50);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].point, "E");
  EXPECT_EQ(all[1].value, 2) << "the held value is the latest";
  EXPECT_TRUE(p.due(5000).empty());
}

TEST(MqttPublishPolicy, AReadingThatCouldNotBeSentIsSentLater) {
  PublishPolicy p({1000ms, 300s, 0.0});
  const auto r = reading(100);
  ASSERT_TRUE(p.offer(r, 0));
  p.failed(r);  // the broker was away
  EXPECT_FALSE(p.offer(reading(100), 10)) << "the same value is not news";
  const auto due = p.due(20);
  ASSERT_EQ(due.size(), 1u) << "but it was never sent";
  EXPECT_EQ(due[0].value, 100);
  p.failed(reading(101));
  EXPECT_EQ(p.all(30).size(), 1u);
}

TEST(MqttPublishPolicy, PayloadCarriesValueUnitQualityAndTime) {
  auto j = nlohmann::json::parse(point_payload(reading(230.5)));
  EXPECT_EQ(j["value"], 230.5);
  EXPECT_EQ(j["unit"], "W");
  EXPECT_EQ(j["quality"], "good");
  EXPECT_EQ(j["ts"], 1000);
  j = nlohmann::json::parse(point_payload(reading(7, Quality::kError)));
  EXPECT_TRUE(j["value"].is_null());
  EXPECT_EQ(j["quality"], "error");
}

}  // namespace
}  // namespace gridlet::adapters::mqtt
