// Setpoint write plans: which registers a SunSpec control or a profile point writes, in what
// order, with what scale, and what must read back; and what is rejected before any write.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "adapters/modbus/control.hpp"
#include "adapters/modbus/sunspec_models.hpp"

namespace gridlet::adapters::modbus {
namespace {

constexpr std::uint16_t kBase = 40100;  // protocol address of the model's ID register

// A model block as a device would hold it: ID, L, zeros, and the given registers by point name.
std::vector<std::uint16_t> block(std::uint16_t model, std::map<std::string, std::uint16_t> regs) {
  const auto* def = sunspec::find_model(model);
  EXPECT_NE(def, nullptr);
  std::vector<std::uint16_t> b(static_cast<std::size_t>(def->fixed_length) + 2, 0);
  b[0] = model;
  b[1] = def->fixed_length;
  for (const auto& [name, v] : regs) {
    const auto* p = sunspec::find_point(def->top, name);
    EXPECT_NE(p, nullptr) << name;
    if (p) b[p->offset + p->size - 1] = v;
  }
  return b;
}

std::uint16_t offset(std::uint16_t model, std::string_view point) {
  return sunspec::find_point(sunspec::find_model(model)->top, point)->offset;
}

SunSpecWriteContext ctx(const std::vector<std::uint16_t>& b, std::map<std::string, double> np = {}) {
  return SunSpecWriteContext{kBase, b,
                             [np](std::string_view k) -> std::optional<double> {
                               const auto it = np.find(std::string(k));
                               return it == np.end() ? std::nullopt : std::optional(it->second);
                             },
                             90};
}

std::uint16_t neg(int v) { return static_cast<std::uint16_t>(static_cast<std::int16_t>(v)); }

TEST(ControlCatalogue, NamesMatchPublishedPointsAndModels) {
  for (const char* name : {"controls.WMaxLimPct", "controls.Conn", "storage_basic.WChaMax",
                           "storage_basic.InWRte", "storage_basic.OutWRte", "storage_basic.StorCtl_Mod",
                           "storage_basic.MinRsvPct", "DERCtlAC.WMaxLimPct", "DERCtlAC.WSet",
                           "battery.SocRsvMax", "battery.SoCRsvMin"}) {
    const auto* c = find_sunspec_control(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(control_name(*c), name);
    // The value point exists in the official layout and is writable there.
    const auto* def = sunspec::find_model(control_model(*c));
    ASSERT_NE(def, nullptr);
    const std::string point = std::string(name).substr(std::string(name).find('.') + 1);
    const auto* p = sunspec::find_point(def->top, point);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_TRUE(p->writable) << name;
  }
  EXPECT_EQ(find_sunspec_control("controls.WMaxLim_Ena"), nullptr);
  EXPECT_EQ(find_sunspec_control("inverter_three_phase.W"), nullptr);
  EXPECT_EQ(sunspec_controls_of(123).size(), 2u);
}

TEST(ControlPlan, Model123LimitIsAScaledWriteWithWindowAndRevertThenTheEnable) {
  // WMaxLimPct_SF = -1; the installer's ramp time (RmpTms, between the timer and the enable) is
  // never rewritten.
  const auto b = block(123, {{"WMaxLimPct_SF", neg(-1)}, {"WMaxLimPct_RmpTms", 30}});
  const auto* c = find_sunspec_control("controls.WMaxLimPct");
  const WritePlan plan = plan_sunspec_set(*c, ctx(b), 42.36);
  ASSERT_TRUE(plan.ok()) << plan.error;
  ASSERT_EQ(plan.writes.size(), 2u) << plan.describe();
  EXPECT_EQ(plan.writes[0].address, kBase + offset(123, "WMaxLimPct"));
  // WMaxLimPct, WinTms 0, RvrtTms 90; then WMaxLim_Ena 1 alone, last.
  EXPECT_EQ(plan.writes[0].values, (std::vector<std::uint16_t>{424, 0, 90}));
  EXPECT_EQ(plan.writes[1].address, kBase + offset(123, "WMaxLim_Ena"));
  EXPECT_EQ(plan.writes[1].values, std::vector<std::uint16_t>{1});
  EXPECT_DOUBLE_EQ(plan.value, 42.4) << "rounded to the device's resolution";
  ASSERT_EQ(plan.checks.size(), 2u);
  EXPECT_EQ(plan.checks[0].expected, std::vector<std::uint16_t>{424});
  EXPECT_EQ(plan.checks[1].address, kBase + offset(123, "WMaxLim_Ena"));

  const WritePlan rel = plan_sunspec_release(*c, ctx(b), std::nullopt);
  ASSERT_TRUE(rel.ok()) << rel.error;
  ASSERT_EQ(rel.writes.size(), 1u);
  EXPECT_EQ(rel.writes[0].address, kBase + offset(123, "WMaxLim_Ena"));
  EXPECT_EQ(rel.writes[0].values, std::vector<std::uint16_t>{0});
}

TEST(ControlPlan, RangeAndScaleFactorProblemsAreRejectedBeforeWriting) {
  const auto* c = find_sunspec_control("controls.WMaxLimPct");
  const auto b = block(123, {{"WMaxLimPct_SF", neg(-1)}});
  EXPECT_FALSE(plan_sunspec_set(*c, ctx(b), 100.01).ok());
  EXPECT_FALSE(plan_sunspec_set(*c, ctx(b), -1).ok());
  EXPECT_FALSE(plan_sunspec_set(*c, ctx(b), std::nan("")).ok());
  EXPECT_TRUE(plan_sunspec_set(*c, ctx(b), 100).ok());
  // A scale factor the device reports as "not implemented" cannot scale a write.
  const auto no_sf = block(123, {{"WMaxLimPct_SF", 0x8000}});
  const WritePlan p = plan_sunspec_set(*c, ctx(no_sf), 50);
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.error.find("scale factor"), std::string::npos) << p.error;
  // A block too short for the point (a truncated model) is refused, never read past its end.
  std::vector<std::uint16_t> short_block(b.begin(), b.begin() + 4);
  EXPECT_FALSE(plan_sunspec_set(*c, ctx(short_block), 50).ok());
}

TEST(ControlPlan, Model704LimitCarriesItsRevertValueAndTimer) {
  const auto b = block(704, {{"WMaxLimPct_SF", neg(-1)}});
  const auto* c = find_sunspec_control("DERCtlAC.WMaxLimPct");
  const WritePlan plan = plan_sunspec_set(*c, ctx(b), 60);
  ASSERT_TRUE(plan.ok()) << plan.error;
  ASSERT_EQ(plan.writes.size(), 2u) << plan.describe();
  EXPECT_EQ(plan.writes[0].address, kBase + offset(704, "WMaxLimPct"));
  // WMaxLimPct 600, WMaxLimPctRvrt 1000 (100 %), EnaRvrt 0, RvrtTms uint32 90; then the enable
  // (below the value in the map) alone, so the device never enables the old value.
  EXPECT_EQ(plan.writes[0].values, (std::vector<std::uint16_t>{600, 1000, 0, 0, 90}));
  EXPECT_EQ(plan.writes[1].address, kBase + offset(704, "WMaxLimPctEna"));
  EXPECT_EQ(plan.writes[1].values, std::vector<std::uint16_t>{1});
}

TEST(ControlPlan, Model704PowerNeedsTheNameplateAndSetsWattsMode) {
  const auto b = block(704, {{"WSet_SF", 0}});
  const auto* c = find_sunspec_control("DERCtlAC.WSet");
  const WritePlan unknown = plan_sunspec_set(*c, ctx(b), 1000);
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error.find("nameplate"), std::string::npos) << unknown.error;
  const std::map<std::string, double> np{{"DERCapacity.WMaxRtg", 5000}};
  EXPECT_FALSE(plan_sunspec_set(*c, ctx(b, np), 5001).ok());
  EXPECT_FALSE(plan_sunspec_set(*c, ctx(b, np), -5001).ok());
  const WritePlan plan = plan_sunspec_set(*c, ctx(b, np), -2500);
  ASSERT_TRUE(plan.ok()) << plan.error;
  // WSetMod + WSet; EnaRvrt + RvrtTms (WSetRvrt, WSetPct, WSetPctRvrt between are untouched);
  // then WSetEna.
  ASSERT_EQ(plan.writes.size(), 3u) << plan.describe();
  EXPECT_EQ(plan.writes[0].address, kBase + offset(704, "WSetMod"));
  EXPECT_EQ(plan.writes[0].values,
            (std::vector<std::uint16_t>{1, 0xFFFF, static_cast<std::uint16_t>(-2500 & 0xFFFF)}));
  EXPECT_EQ(plan.writes[1].address, kBase + offset(704, "WSetEnaRvrt"));
  EXPECT_EQ(plan.writes[1].values, (std::vector<std::uint16_t>{0, 0, 90}));
  EXPECT_EQ(plan.writes[2].address, kBase + offset(704, "WSetEna"));
  EXPECT_EQ(plan.writes[2].values, std::vector<std::uint16_t>{1});
  const ControlInfo info = sunspec_control_info(*c, ctx(b, np).nameplate);
  EXPECT_EQ(info.min, -5000);
  EXPECT_EQ(info.max, 5000);
}

TEST(ControlPlan, Model124RateWritesTheValueFirstThenItsModeBit) {
  // StorCtl_Mod already has the discharge bit (2): setting the charge rate adds bit 1, keeps 2.
  const auto b = block(124, {{"InOutWRte_SF", neg(-2)}, {"StorCtl_Mod", 2}});
  const auto* c = find_sunspec_control("storage_basic.InWRte");
  const WritePlan plan = plan_sunspec_set(*c, ctx(b), -50);
  ASSERT_TRUE(plan.ok()) << plan.error;
  ASSERT_EQ(plan.writes.size(), 2u) << plan.describe();
  EXPECT_EQ(plan.writes[0].address, kBase + offset(124, "InWRte"));
  EXPECT_EQ(plan.writes[0].values, (std::vector<std::uint16_t>{neg(-5000), 0, 90}));
  EXPECT_EQ(plan.writes[1].address, kBase + offset(124, "StorCtl_Mod"));
  EXPECT_EQ(plan.writes[1].values, std::vector<std::uint16_t>{3});
  const WritePlan rel = plan_sunspec_release(*c, ctx(block(124, {{"InOutWRte_SF", neg(-2)}, {"StorCtl_Mod", 3}})),
                                             std::nullopt);
  ASSERT_TRUE(rel.ok()) << rel.error;
  ASSERT_EQ(rel.writes.size(), 1u);
  EXPECT_EQ(rel.writes[0].values, std::vector<std::uint16_t>{2}) << "only our bit is cleared";
}

TEST(ControlPlan, ReleaseWithoutEnableWritesTheFailSafeOrNothing) {
  const auto b = block(802, {{"SoC_SF", 0}});
  const auto* c = find_sunspec_control("battery.SoCRsvMin");
  const WritePlan none = plan_sunspec_release(*c, ctx(b), std::nullopt);
  ASSERT_TRUE(none.ok()) << none.error;
  EXPECT_TRUE(none.writes.empty());
  EXPECT_NE(none.note.find("no fail-safe"), std::string::npos);
  const WritePlan rel = plan_sunspec_release(*c, ctx(b), 15.0);
  ASSERT_TRUE(rel.ok()) << rel.error;
  EXPECT_EQ(rel.writes[0].address, kBase + offset(802, "SoCRsvMin"));
  EXPECT_EQ(rel.writes[0].values, std::vector<std::uint16_t>{15});
  // Conn has a built-in fail-safe: connected.
  const auto* conn = find_sunspec_control("controls.Conn");
  const WritePlan rc = plan_sunspec_release(*conn, ctx(block(123, {})), std::nullopt);
  ASSERT_TRUE(rc.ok()) << rc.error;
  EXPECT_EQ(rc.writes[0].values.back(), 1u);
}

TEST(ControlPlan, AConfiguredFailSafeOfASwitchedControlStaysInForce) {
  // "Curtail to 50 % when the gateway stops": the value enabled, with no revert timer.
  const auto b = block(123, {{"WMaxLimPct_SF", 0}});
  const auto* c = find_sunspec_control("controls.WMaxLimPct");
  const WritePlan rel = plan_sunspec_release(*c, ctx(b), 50.0);
  ASSERT_TRUE(rel.ok()) << rel.error;
  ASSERT_EQ(rel.writes.size(), 2u) << rel.describe();
  EXPECT_EQ(rel.writes[0].values, (std::vector<std::uint16_t>{50, 0, 0}));  // value, WinTms, RvrtTms 0
  EXPECT_EQ(rel.writes[1].values, std::vector<std::uint16_t>{1});           // enabled
}

TEST(ControlPlan, Heartbeats) {
  const auto hb715 = plan_heartbeat(715, kBase, 0x00012345);
  ASSERT_TRUE(hb715);
  EXPECT_EQ(hb715->address, kBase + offset(715, "ControllerHb"));
  EXPECT_EQ(hb715->values, (std::vector<std::uint16_t>{0x0001, 0x2345}));
  const auto hb802 = plan_heartbeat(802, kBase, 0x00012345);
  ASSERT_TRUE(hb802);
  EXPECT_EQ(hb802->address, kBase + offset(802, "CtrlHb"));
  EXPECT_EQ(hb802->values, std::vector<std::uint16_t>{0x2345});
  EXPECT_FALSE(plan_heartbeat(103, kBase, 1));
}

TEST(ControlPlan, ProfilePointsFollowTheProfile) {
  const auto loaded =
      load_profile_file(std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs/profiles/keba_p30.toml");
  ASSERT_TRUE(loaded.profile);
  const Profile& keba = *loaded.profile;
  const Point* current = keba.find("set_charging_current_a");
  ASSERT_NE(current, nullptr);
  const WritePlan plan = plan_profile_set(keba, *current, 16);
  ASSERT_TRUE(plan.ok()) << plan.error;
  ASSERT_EQ(plan.writes.size(), 1u);
  EXPECT_EQ(plan.writes[0].address, 5004);
  EXPECT_EQ(plan.writes[0].values, std::vector<std::uint16_t>{16000});  // mA
  EXPECT_TRUE(plan.checks.empty()) << "read back through max_charging_current_a, by value";
  EXPECT_EQ(profile_readback_point(keba, *current), keba.find("max_charging_current_a"));
  EXPECT_FALSE(plan_profile_set(keba, *current, 5).ok()) << "below the profile's 6 A minimum";
  EXPECT_FALSE(plan_profile_set(keba, *current, 64).ok());
  const Point* measured = keba.find("max_charging_current_a");
  EXPECT_FALSE(plan_profile_set(keba, *measured, 10).ok()) << "read-only";
}

TEST(ControlPlan, ProfileFailSafeAndKeepAliveKeys) {
  const auto loaded = load_profile_string(R"(
[profile]
name = "t"
kind = "battery"
source = "Victron CCGX Modbus TCP register list 3.00"
[[points]]
name = "grid_setpoint_w"
table = "holding"
address = 2700
type = "i16"
unit = "W"
access = "rw"
kind = "setpoint"
min = -10000
max = 10000
failsafe = 0
keepalive_s = 20
)", "t.toml");
  ASSERT_TRUE(loaded.profile) << loaded.errors.front().format();
  const Point* p = loaded.profile->find("grid_setpoint_w");
  EXPECT_EQ(p->failsafe, 0.0);
  EXPECT_EQ(p->keepalive_s, 20);
  WritePlan rel = plan_profile_release(*loaded.profile, *p, std::nullopt);
  ASSERT_TRUE(rel.ok()) << rel.error;
  EXPECT_EQ(rel.writes[0].values, std::vector<std::uint16_t>{0});
  EXPECT_EQ(rel.checks.size(), 1u) << "read back through the point itself";

  const auto bad = load_profile_string(R"(
[profile]
name = "t"
kind = "battery"
source = "Victron CCGX Modbus TCP register list 3.00"
[[points]]
name = "x"
table = "holding"
address = 1
type = "u16"
min = 0
max = 10
failsafe = 11
keepalive_s = 0
)", "bad.toml");
  ASSERT_FALSE(bad.profile);
  std::string all;
  for (const auto& e : bad.errors) all += e.format() + "\n";
  EXPECT_NE(all.find("bad.toml:13:12: error: points[0].failsafe: is outside"), std::string::npos) << all;
  EXPECT_NE(all.find("points[0].keepalive_s"), std::string::npos) << all;
}

}  // namespace
}  // namespace gridlet::adapters::modbus
