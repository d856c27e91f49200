#include "gateway/runtime/point_store.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "gateway/runtime/device_registry.hpp"

namespace gridlet::runtime {
namespace {

using adapters::ManualClock;
using adapters::Quality;
using namespace std::chrono_literals;

adapters::Reading reading(std::int64_t t, double v, Quality q = Quality::kGood) {
  return adapters::Reading{"pv1", "W", "W", v, q, t};
}

TEST(PointStore, DeclaredPointIsMissingUntilRead) {
  ManualClock clock;
  PointStore ps(clock);
  ps.declare({"pv1", "W"}, "W", 10s);
  auto pv = ps.get({"pv1", "W"});
  ASSERT_TRUE(pv);
  EXPECT_EQ(pv->quality, Quality::kMissing);
  EXPECT_EQ(pv->timestamp_ms, 0);
}

TEST(PointStore, GoodBecomesStaleAfterMaxAge) {
  ManualClock clock;
  PointStore ps(clock);
  ps.declare({"pv1", "W"}, "W", 10s);
  ps.update(reading(clock.now_ms(), 1500));
  clock.advance(10s);
  EXPECT_EQ(ps.mark_stale(), 0u);
  clock.advance(1ms);
  EXPECT_EQ(ps.mark_stale(), 1u);
  EXPECT_EQ(ps.get({"pv1", "W"})->quality, Quality::kStale);
  EXPECT_EQ(ps.get({"pv1", "W"})->value, 1500);
}

TEST(PointStore, ChangeListenersSeeEveryChangeTelemetryListenersOnlyAdapterReadings) {
  ManualClock clock;
  PointStore ps(clock);
  std::vector<adapters::Reading> changes, stored;
  ps.add_change_listener([&](const adapters::Reading& r) { changes.push_back(r); });
  ps.add_listener([&](const adapters::Reading& r) { stored.push_back(r); });
  ps.declare({"pv1", "W"}, "W", 10s);
  ps.update(reading(clock.now_ms(), 1500));
  ps.update(reading(clock.now_ms() + 1, 1600), PointStore::Origin::kAlreadyStored);
  clock.advance(11s);
  ps.mark_stale();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(stored.size(), 1u);
  EXPECT_EQ(changes[2].quality, Quality::kStale);
  EXPECT_EQ(changes[2].value, 1600);
  EXPECT_EQ(changes[2].unit, "W");
}

TEST(PointStore, ErrorKeepsLastValueButNotItsQualityAndOldReadingsAreIgnored) {
  ManualClock clock;
  PointStore ps(clock);
  int heard = 0;
  ps.add_listener([&](const adapters::Reading&) { ++heard; });
  EXPECT_TRUE(ps.update(reading(1000, 42)));
  EXPECT_TRUE(ps.update(reading(2000, 0, Quality::kError)));
  EXPECT_FALSE(ps.update(reading(1500, 7)));  // older than what we hold
  auto pv = ps.get({"pv1", "W"});
  EXPECT_EQ(pv->quality, Quality::kError);
  EXPECT_EQ(pv->value, 42);
  EXPECT_EQ(heard, 2);
  // Readings that were committed elsewhere (API ingest) update the value but are not re-persisted.
  EXPECT_TRUE(ps.update(reading(3000, 9), PointStore::Origin::kAlreadyStored));
  EXPECT_EQ(ps.get({"pv1", "W"})->value, 9);
  EXPECT_EQ(heard, 2);
}

TEST(DeviceRegistry, ReloadKeepsLiveState) {
  DeviceRegistry reg;
  config::DeviceConfig a;
  a.id = "a";
  a.name = "A";
  a.kind = adapters::DeviceKind::kMeter;
  a.bus = "lan";
  a.unit_id = 1;
  a.profile = "sdm630";
  config::DeviceConfig b = a;
  b.id = "b";
  b.enabled = false;
  reg.load({a, b});
  reg.mark_online("a", 123);
  reg.mark_offline("b", "timeout");
  reg.set_errors("b", 20, "");
  EXPECT_EQ(reg.find("b")->errors, 20u);
  EXPECT_EQ(reg.find("b")->last_error, "timeout");
  EXPECT_EQ(reg.summary().total, 2u);
  EXPECT_EQ(reg.summary().enabled, 1u);
  EXPECT_EQ(reg.summary().online, 1u);
  a.name = "renamed";
  reg.load({a});
  ASSERT_NE(reg.find("a"), nullptr);
  EXPECT_TRUE(reg.find("a")->online);
  EXPECT_EQ(reg.find("a")->config.name, "renamed");
  EXPECT_EQ(reg.find("b"), nullptr);
}

}  // namespace
}  // namespace gridlet::runtime
