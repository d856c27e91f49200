// Battery energy integrated from power: trapezoids, the split at zero, gaps and bad readings.
#include "gateway/runtime/energy_integrator.hpp"

#include <gtest/gtest.h>

namespace gridlet::runtime {
namespace {

adapters::Reading power(double w, std::int64_t t_ms, adapters::Quality q = adapters::Quality::kGood,
                        const std::string& point = "battery.W") {
  adapters::Reading r;
  r.device = "bat";
  r.point = point;
  r.unit = "W";
  r.value = w;
  r.quality = q;
  r.timestamp_ms = t_ms;
  return r;
}

// {charge, discharge} after the reading, or {-1, -1} when the counters did not move.
std::pair<double, double> feed(EnergyIntegrator& e, const adapters::Reading& r) {
  const auto out = e.offer(r);
  if (out.empty()) return {-1, -1};
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].point, EnergyIntegrator::kChargePoint);
  EXPECT_EQ(out[1].point, EnergyIntegrator::kDischargePoint);
  EXPECT_EQ(out[0].unit, "Wh");
  EXPECT_EQ(out[0].timestamp_ms, r.timestamp_ms);
  return {out[0].value, out[1].value};
}

TEST(EnergyIntegrator, IntegratesDischargeAndChargeSeparately) {
  EnergyIntegrator e;
  e.watch("bat");
  EXPECT_EQ(feed(e, power(1000, 0)).first, -1);  // the first reading only starts
  auto [c, d] = feed(e, power(1000, 60'000));    // 1 kW for a minute
  EXPECT_DOUBLE_EQ(c, 0);
  EXPECT_NEAR(d, 1000.0 / 60, 1e-9);
  std::tie(c, d) = feed(e, power(-2000, 120'000));  // crosses zero: 2/3 of the minute at -2 kW side
  // Discharge: the triangle from 1000 W to 0 over 20 s; charge: from 0 to -2000 W over 40 s.
  EXPECT_NEAR(d, 1000.0 / 60 + 1000.0 * (20.0 / 3600) / 2, 1e-9);
  EXPECT_NEAR(c, 2000.0 * (40.0 / 3600) / 2, 1e-9);
}

TEST(EnergyIntegrator, GapsAndBadReadingsAddNothing) {
  EnergyIntegrator e;
  e.watch("bat");
  feed(e, power(500, 0));
  EXPECT_EQ(feed(e, power(500, EnergyIntegrator::kMaxGapMs + 1)).first, -1);  // too long apart
  EXPECT_EQ(feed(e, power(500, EnergyIntegrator::kMaxGapMs + 2, adapters::Quality::kError)).first, -1);
  // After an error, the next good reading starts again instead of bridging the gap.
  EXPECT_EQ(feed(e, power(500, EnergyIntegrator::kMaxGapMs + 60'000)).first, -1);
  const auto [c, d] = feed(e, power(500, EnergyIntegrator::kMaxGapMs + 120'000));
  EXPECT_DOUBLE_EQ(c, 0);
  EXPECT_NEAR(d, 500.0 / 60, 1e-9);
  // An old reading (out of order) moves nothing.
  EXPECT_EQ(feed(e, power(9000, 10)).first, -1);
}

TEST(EnergyIntegrator, OnlyWatchedBatteriesAndTheirPowerPoint) {
  EnergyIntegrator e;
  e.watch("bat");
  auto other = power(1000, 0);
  other.device = "pv";
  EXPECT_TRUE(e.offer(other).empty());
  other.timestamp_ms = 60'000;
  EXPECT_TRUE(e.offer(other).empty());
  EXPECT_TRUE(e.offer(power(1000, 0, adapters::Quality::kGood, "battery.WMaxChaRte")).empty());
  EXPECT_FALSE(EnergyIntegrator::is_power_point(power(1, 0, adapters::Quality::kGood, "battery.WMaxChaRte")));
  EXPECT_TRUE(EnergyIntegrator::is_power_point(power(1, 0, adapters::Quality::kGood, "power_w")));
  feed(e, power(100, 0));
  EXPECT_TRUE(e.offer(power(100, 60'000, adapters::Quality::kGood, "power_w")).empty()) << "one power point";
}

}  // namespace
}  // namespace gridlet::runtime
