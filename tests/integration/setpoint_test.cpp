// Transactional setpoints against the real device simulator: range-checked, written with their
// scale factor, read back, kept alive before the device's revert timer, re-asserted after the
// device comes back, released on expiry and on command; refusals and ignored writes are alarms.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "tests/integration/devsim_support.hpp"
#include "tests/integration/modbus_support.hpp"
#include "tests/integration/test_support.hpp"

#ifdef DEVSIM_PATH

namespace gridlet::adapters::modbus {
namespace {

using gridlet::testing::Devsim;
using gridlet::testing::eventually;
using gridlet::testing::holds_for;
using namespace gridlet::testing::modbus;
using namespace std::chrono_literals;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ControlEvent set_and_wait(DevicePoller& p, const std::string& point, double value,
                          std::int64_t until_ms = 0) {
  auto done = std::make_shared<std::promise<ControlEvent>>();
  auto f = done->get_future();
  p.set(SetpointCommand{point, value, "test", "integration test", until_ms},
        [done](const ControlEvent& ev) { done->set_value(ev); });
  EXPECT_EQ(f.wait_for(15s), std::future_status::ready);
  return f.valid() ? f.get() : ControlEvent{};
}

ControlEvent release_and_wait(DevicePoller& p, const std::string& point) {
  auto done = std::make_shared<std::promise<ControlEvent>>();
  auto f = done->get_future();
  p.release(point, "test", "done", [done](const ControlEvent& ev) { done->set_value(ev); });
  EXPECT_EQ(f.wait_for(15s), std::future_status::ready);
  return f.get();
}

// A poller with its sink, set up for setpoints with a short revert timer.
struct Rig {
  explicit Rig(int port, std::uint8_t unit, std::chrono::seconds revert = 3s,
               std::chrono::milliseconds heartbeat = 0ms, std::map<std::string, double> failsafe = {})
      : bus(tcp_bus(port)), poller(bus, "dev", unit, nullptr, sink, quick()) {
    ControlSettings cs;
    cs.revert = revert;
    cs.retry = 500ms;
    cs.heartbeat = heartbeat;
    cs.failsafe = std::move(failsafe);
    poller.set_control(&sink, cs);
    poller.start();
  }
  double value(const std::string& point) const {
    const auto r = sink.latest("dev", point);
    return r && r->quality == Quality::kGood ? r->value : -1e9;
  }
  // Waits until a freshly polled value of `point` equals v.
  bool reads(const std::string& point, double v, std::chrono::milliseconds within = 5s) const {
    return eventually(within, [&] { return value(point) == v; });
  }
  CollectingSink sink;
  Bus bus;
  DevicePoller poller;
};

TEST(Setpoints, InverterLimitIsWrittenReadBackKeptAliveAndReleased) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--setpoint-delay-ms", "100"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig rig(*port, 1, 3s);
  ASSERT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 10s));
  ASSERT_TRUE(eventually(5s, [&] { return rig.value("nameplate.WRtg") > 0; }));
  const double rating = rig.value("nameplate.WRtg");

  const ControlEvent ev = set_and_wait(rig.poller, "controls.WMaxLimPct", 40);
  EXPECT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  ASSERT_TRUE(ev.readback);
  EXPECT_DOUBLE_EQ(*ev.readback, 40.0);
  EXPECT_NE(ev.detail.find("=["), std::string::npos) << "the audit detail names the registers written";
  const auto held = rig.poller.setpoints();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].point, "controls.WMaxLimPct");
  EXPECT_EQ(held[0].keepalive_ms, 1000) << "a third of the 3 s revert timer";

  // The device holds it: enabled, with the revert timer we asked for, and the power obeys.
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 1));
  EXPECT_TRUE(rig.reads("controls.WMaxLimPct_RvrtTms", 3));
  EXPECT_TRUE(eventually(5s, [&] {
    const double w = rig.value("inverter_three_phase.W");
    return w >= 0 && w <= 0.4 * rating * 1.01;
  })) << "W " << rig.value("inverter_three_phase.W") << " of " << rating;

  // Kept alive: three revert periods later the device has never reverted.
  ASSERT_TRUE(holds_for(9s, [&] { return rig.value("controls.WMaxLim_Ena") == 1; }))
      << "the device reverted: the keep-alive failed";
  EXPECT_GE(rig.sink.events_of(ControlAction::kKeepAlive, ControlOutcome::kApplied), 6);

  // Released: the enable goes back to 0 and nothing is held any more.
  const ControlEvent rel = release_and_wait(rig.poller, "controls.WMaxLimPct");
  EXPECT_EQ(rel.outcome, ControlOutcome::kApplied) << rel.detail;
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 0));
  EXPECT_TRUE(rig.poller.setpoints().empty());
}

TEST(Setpoints, AWriteTheDeviceIgnoresIsAnAlarmNotASuccess) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--fault", "1=ignore-writes"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig rig(*port, 1);
  ASSERT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 10s));
  const ControlEvent ev = set_and_wait(rig.poller, "controls.WMaxLimPct", 30);
  EXPECT_EQ(ev.outcome, ControlOutcome::kMismatch) << ev.detail;
  EXPECT_TRUE(ev.alarm());
  EXPECT_NE(ev.detail.find("did not take"), std::string::npos) << ev.detail;
  EXPECT_TRUE(rig.poller.setpoints().empty()) << "an ignored setpoint is not held as if it worked";
  EXPECT_EQ(rig.sink.events_of(ControlAction::kSet, ControlOutcome::kMismatch), 1);
}

TEST(Setpoints, OutOfRangeAndUnknownControlsAreRejectedBeforeWriting) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "2=battery"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig pv(*port, 1);
  Rig bat(*port, 2);
  // Out of the control's own range: refused at once, even before discovery, never held.
  EXPECT_EQ(set_and_wait(pv.poller, "controls.WMaxLimPct", 101).outcome, ControlOutcome::kRejected);
  ASSERT_TRUE(pv.reads("controls.WMaxLim_Ena", 0, 10s));
  ASSERT_TRUE(eventually(10s, [&] { return bat.value("battery.WChaRteMax") > 0; }));

  auto ev = set_and_wait(pv.poller, "controls.WMaxLimPct", 150);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRejected);
  EXPECT_NE(ev.detail.find("outside [0, 100]"), std::string::npos) << ev.detail;
  ev = set_and_wait(pv.poller, "inverter_three_phase.W", 1);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRejected) << "a measurement is not a control";
  ev = set_and_wait(pv.poller, "storage_basic.InWRte", 10);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRejected) << "the inverter has no model 124";
  EXPECT_NE(ev.detail.find("no SunSpec model 124"), std::string::npos) << ev.detail;

  // The battery's nameplate bounds the charge power.
  const double max_w = bat.value("battery.WChaRteMax");
  ev = set_and_wait(bat.poller, "storage_basic.WChaMax", max_w * 2);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRejected) << ev.detail;
  ev = set_and_wait(bat.poller, "storage_basic.WChaMax", max_w / 2);
  EXPECT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  EXPECT_TRUE(bat.reads("storage_basic.WChaMax", max_w / 2));
  // Released to the nameplate value.
  const auto rel = release_and_wait(bat.poller, "storage_basic.WChaMax");
  EXPECT_EQ(rel.outcome, ControlOutcome::kApplied) << rel.detail;
  EXPECT_TRUE(bat.reads("storage_basic.WChaMax", max_w));
  EXPECT_TRUE(pv.poller.setpoints().empty());
}

TEST(Setpoints, DeviceRefusalIsAnAlarm) {
  // devsim's battery accepts a reserve of at most 50 %: within SunSpec's range, refused by the
  // device with exception 3 (illegal data value), as real devices refuse what they cannot do.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "2=battery"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig bat(*port, 2);
  ASSERT_TRUE(bat.reads("storage_basic.StorCtl_Mod", 0, 10s));
  const auto ev = set_and_wait(bat.poller, "storage_basic.MinRsvPct", 80);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRefused) << ev.detail;
  EXPECT_NE(ev.detail.find("exception 3"), std::string::npos) << ev.detail;
  EXPECT_TRUE(bat.poller.setpoints().empty());
}

TEST(Setpoints, BatteryRateSetsItsModeBitAndReleaseClearsIt) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "2=battery", "--setpoint-delay-ms", "100"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig bat(*port, 2);
  ASSERT_TRUE(bat.reads("storage_basic.StorCtl_Mod", 0, 10s));
  // -50 % on the charge side with the charge bit: discharge at half power.
  const auto ev = set_and_wait(bat.poller, "storage_basic.InWRte", -50);
  EXPECT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  EXPECT_TRUE(bat.reads("storage_basic.StorCtl_Mod", 1));
  EXPECT_TRUE(bat.reads("storage_basic.InWRte", -50));
  EXPECT_TRUE(bat.reads("storage_basic.InOutWRte_RvrtTms", 3));
  const auto rel = release_and_wait(bat.poller, "storage_basic.InWRte");
  EXPECT_EQ(rel.outcome, ControlOutcome::kApplied) << rel.detail;
  EXPECT_TRUE(bat.reads("storage_basic.StorCtl_Mod", 0));
}

TEST(Setpoints, ExpiryReleasesTheSetpoint) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig rig(*port, 1, 60s);
  ASSERT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 10s));
  const auto ev = set_and_wait(rig.poller, "controls.WMaxLimPct", 50, unix_ms() + 1500);
  ASSERT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 1));
  EXPECT_TRUE(eventually(6s, [&] {
    return rig.sink.events_of(ControlAction::kRelease, ControlOutcome::kApplied) == 1;
  }));
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 0)) << "released long before the 60 s revert timer";
  EXPECT_TRUE(rig.poller.setpoints().empty());
}

TEST(Setpoints, ReassertedWhenTheDeviceComesBackWithoutIt) {
  auto sim = std::make_unique<Devsim>(std::vector<std::string>{"--tcp", "127.0.0.1:0", "--device", "1=inverter"});
  const auto port = sim->tcp_port();
  ASSERT_TRUE(port);
  Rig rig(*port, 1, 60s);
  ASSERT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 10s));
  ASSERT_EQ(set_and_wait(rig.poller, "controls.WMaxLimPct", 25).outcome, ControlOutcome::kApplied);
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 1));

  // The device restarts (power cycle, firmware update): it comes back with its defaults.
  EXPECT_EQ(sim->stop(), 0);
  sim = std::make_unique<Devsim>(std::vector<std::string>{"--tcp", "127.0.0.1:" + std::to_string(*port),
                                                          "--device", "1=inverter"});
  ASSERT_TRUE(sim->tcp_port());
  EXPECT_TRUE(eventually(20s, [&] {
    return rig.sink.events_of(ControlAction::kReassert, ControlOutcome::kApplied) >= 1;
  }));
  EXPECT_TRUE(rig.reads("controls.WMaxLimPct", 25, 5s));
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 1, 5s));
}

TEST(Setpoints, ReleaseAllAtShutdownWritesTheFailSafe) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "2=battery"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig pv(*port, 1, 60s);
  Rig bat(*port, 2, 60s);
  ASSERT_TRUE(pv.reads("controls.WMaxLim_Ena", 0, 10s));
  ASSERT_TRUE(bat.reads("storage_basic.StorCtl_Mod", 0, 10s));
  ASSERT_EQ(set_and_wait(pv.poller, "controls.WMaxLimPct", 10).outcome, ControlOutcome::kApplied);
  ASSERT_EQ(set_and_wait(bat.poller, "storage_basic.OutWRte", 20).outcome, ControlOutcome::kApplied);
  auto a = pv.poller.release_all("stopping");
  auto b = bat.poller.release_all("stopping");
  ASSERT_EQ(a.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(b.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(pv.reads("controls.WMaxLim_Ena", 0));
  EXPECT_TRUE(bat.reads("storage_basic.StorCtl_Mod", 0));
  EXPECT_EQ(pv.sink.events_of(ControlAction::kRelease, ControlOutcome::kApplied), 1);
  EXPECT_EQ(bat.sink.events_of(ControlAction::kRelease, ControlOutcome::kApplied), 1);
}


TEST(Setpoints, DerLimitAndActivePowerThroughModel704) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der", "--setpoint-delay-ms", "100"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig der(*port, 1, 3s);
  ASSERT_TRUE(der.reads("DERCtlAC.WMaxLimPctEna", 0, 10s));
  ASSERT_TRUE(eventually(5s, [&] { return der.value("DERCapacity.WMaxRtg") > 0; }));
  const double rating = der.value("DERCapacity.WMaxRtg");

  auto ev = set_and_wait(der.poller, "DERCtlAC.WMaxLimPct", 30);
  ASSERT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  EXPECT_TRUE(der.reads("DERCtlAC.WMaxLimPctEna", 1));
  EXPECT_TRUE(der.reads("DERCtlAC.WMaxLimPctRvrtTms", 3));
  EXPECT_TRUE(der.reads("DERCtlAC.WMaxLimPctRvrt", 100)) << "reverts to unlimited, not to the limit";
  EXPECT_TRUE(eventually(5s, [&] {
    const double w = der.value("DERMeasureAC.W");
    return w >= 0 && w <= 0.3 * rating * 1.01;
  })) << der.value("DERMeasureAC.W");
  // Kept alive past the 3 s timer.
  EXPECT_TRUE(holds_for(4s, [&] { return der.value("DERCtlAC.WMaxLimPctEna") == 1; }));

  // Active power in watts: WSetMod 1, bounded by the nameplate on both sides.
  ev = set_and_wait(der.poller, "DERCtlAC.WSet", rating * 1.5);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRejected) << ev.detail;
  ev = set_and_wait(der.poller, "DERCtlAC.WSet", 1000);
  ASSERT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  EXPECT_TRUE(der.reads("DERCtlAC.WSetEna", 1));
  EXPECT_TRUE(der.reads("DERCtlAC.WSetMod", 1));
  EXPECT_TRUE(eventually(5s, [&] {
    const double w = der.value("DERMeasureAC.W");
    return w >= 0 && w <= 1000 * 1.01;
  })) << der.value("DERMeasureAC.W");
  EXPECT_EQ(der.poller.setpoints().size(), 2u);

  for (const char* point : {"DERCtlAC.WMaxLimPct", "DERCtlAC.WSet"}) {
    EXPECT_EQ(release_and_wait(der.poller, point).outcome, ControlOutcome::kApplied) << point;
  }
  EXPECT_TRUE(der.reads("DERCtlAC.WMaxLimPctEna", 0));
  EXPECT_TRUE(der.reads("DERCtlAC.WSetEna", 0));
}

TEST(Setpoints, ControllerHeartbeatKeepsTheDeviceUnderControl) {
  // The device drops remote control when the controller heartbeat stops for 2 s.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der", "--heartbeat-timeout", "2"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  {
    Rig der(*port, 1, 60s, 500ms);
    ASSERT_TRUE(der.reads("DERCtlAC.WMaxLimPctEna", 0, 10s));
    ASSERT_EQ(set_and_wait(der.poller, "DERCtlAC.WMaxLimPct", 50).outcome, ControlOutcome::kApplied);
    EXPECT_TRUE(der.reads("DERCtlAC.WMaxLimPctEna", 1));
    // Three watchdog periods with our heartbeat: still under control.
    ASSERT_TRUE(holds_for(6s, [&] { return der.value("DERCtlAC.WMaxLimPctEna") == 1; }))
        << "the heartbeat did not keep the device";
    const auto events = der.sink.events();
    const bool started = std::any_of(events.begin(), events.end(), [](const ControlEvent& e) {
      return e.action == ControlAction::kHeartbeat && e.outcome == ControlOutcome::kApplied &&
             e.point == "DERCtl.ControllerHb";
    });
    EXPECT_TRUE(started) << "the first heartbeat is in the audit log";
    EXPECT_TRUE(der.value("DERCtl.ControllerHb") >= 5) << der.value("DERCtl.ControllerHb");
  }  // the gateway goes away without releasing (a crash): no more heartbeats
  Rig observer(*port, 1, 60s, 0ms);
  EXPECT_TRUE(observer.reads("DERCtlAC.WMaxLimPctEna", 0, 6s))
      << "the device's watchdog took control back once the heartbeat stopped";
}


TEST(Setpoints, ProfilePointOverAnRtuLine) {
  // A register-map device on a real serial code path (socat pty): devsim's SDM630 lets its
  // demand period (holding 0x0002, float32 minutes) be written with 0, 5, 8, 10, 15, 20, 30 or 60
  // and refuses other values with exception 3. The profile is the test's own, for this register.
  gridlet::testing::TempDir dir;
  gridlet::testing::PtyPair pty(dir.path());
  ASSERT_TRUE(pty.ready());
  Devsim sim({"--rtu", pty.device_end(), "--baud", "19200", "--device", "4=sdm630"});
  ASSERT_TRUE(sim.rtu_ready()) << sim.log();
  const auto loaded = load_profile_string(R"toml(
[profile]
name = "sdm630-demand"
kind = "meter"
source = "Eastron SDM630 Modbus Protocol, holding register 40003 (demand period)"
max_read_registers = 80
[[points]]
name = "not_there"
table = "holding"
address = 200
type = "u16"
poll = "fast"
description = "answers exception 2 on every poll: the device is there, one block is not"
[[points]]
name = "demand_period_min"
table = "holding"
address = 2
type = "f32"
unit = "min"
access = "rw"
kind = "setpoint"
min = 0
max = 60
failsafe = 60
poll = "fast"
)toml", "sdm630-demand.toml");
  ASSERT_TRUE(loaded.profile) << loaded.errors.front().format();
  BusSettings bs;
  bs.id = "rs485";
  bs.rtu = true;
  bs.device = pty.client_end();
  bs.baud = 19200;
  bs.timeout = 500ms;
  bs.frame_gap = 10ms;
  CollectingSink sink;
  Bus bus(bs);
  DevicePoller meter(bus, "dev", 4, std::make_shared<const Profile>(*loaded.profile), sink, quick());
  meter.set_control(&sink, ControlSettings{});
  meter.start();
  ASSERT_TRUE(eventually(10s, [&] { return sink.good("dev", "demand_period_min"); }));
  EXPECT_EQ(sink.latest("dev", "demand_period_min")->value, 60);

  auto ev = set_and_wait(meter, "demand_period_min", 15);
  EXPECT_EQ(ev.outcome, ControlOutcome::kApplied) << ev.detail;
  ASSERT_TRUE(ev.readback);
  EXPECT_EQ(*ev.readback, 15);
  EXPECT_TRUE(eventually(3s, [&] { return sink.latest("dev", "demand_period_min")->value == 15; }));
  // Within the profile's range, refused by the device: the 15 it holds stays held.
  ev = set_and_wait(meter, "demand_period_min", 7);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRefused) << ev.detail;
  ASSERT_EQ(meter.setpoints().size(), 1u);
  EXPECT_EQ(meter.setpoints()[0].value, 15);
  // Outside it: rejected before the line is used; still 15.
  ev = set_and_wait(meter, "demand_period_min", 90);
  EXPECT_EQ(ev.outcome, ControlOutcome::kRejected) << ev.detail;
  EXPECT_EQ(meter.setpoints()[0].value, 15);
  // A block that answers with an exception on every poll is not lost contact: no re-assertion.
  EXPECT_TRUE(holds_for(2s, [&] { return sink.events_of(ControlAction::kReassert, ControlOutcome::kApplied) == 0; }));
  // Back to 15, then released to the profile's fail-safe.
  ASSERT_EQ(set_and_wait(meter, "demand_period_min", 15).outcome, ControlOutcome::kApplied);
  const auto rel = release_and_wait(meter, "demand_period_min");
  EXPECT_EQ(rel.outcome, ControlOutcome::kApplied) << rel.detail;
  EXPECT_EQ(rel.readback, 60.0);
  EXPECT_TRUE(eventually(3s, [&] { return sink.latest("dev", "demand_period_min")->value == 60; }));
}


TEST(Setpoints, AConfiguredFailSafeStaysInForceAfterRelease) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig rig(*port, 1, 60s, 0ms, {{"controls.WMaxLimPct", 50}});
  ASSERT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 10s));
  ASSERT_EQ(set_and_wait(rig.poller, "controls.WMaxLimPct", 20).outcome, ControlOutcome::kApplied);
  ASSERT_EQ(rig.poller.release_all("stopping").wait_for(5s), std::future_status::ready);
  // "Curtail to 50 % when the gateway stops": enabled, at 50 %, with no revert timer.
  EXPECT_TRUE(rig.reads("controls.WMaxLimPct", 50));
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 1));
  EXPECT_TRUE(rig.reads("controls.WMaxLimPct_RvrtTms", 0));
  const auto controls = rig.poller.controls();
  ASSERT_FALSE(controls.empty());
  EXPECT_EQ(controls[0].failsafe, 50.0);
}

TEST(Setpoints, AReleaseTheDeviceMissesIsRetriedUntilItTakesIt) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  Rig rig(*port, 1, 60s);
  ASSERT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 10s));
  ASSERT_EQ(set_and_wait(rig.poller, "controls.WMaxLimPct", 30).outcome, ControlOutcome::kApplied);
  // The device goes silent for 3 s; the release during that time cannot reach it.
  ASSERT_EQ(write_now(rig.bus, 1, kFaultArg, 3).outcome, Outcome::kOk);
  ASSERT_EQ(write_now(rig.bus, 1, kFaultMode, 6).outcome, Outcome::kOk);
  const ControlEvent rel = release_and_wait(rig.poller, "controls.WMaxLimPct");
  EXPECT_EQ(rel.outcome, ControlOutcome::kFailed) << rel.detail;
  auto held = rig.poller.setpoints();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].releasing);
  // It comes back: the release is written then, and nothing is held any more.
  EXPECT_TRUE(eventually(20s, [&] {
    return rig.sink.events_of(ControlAction::kRelease, ControlOutcome::kApplied) == 1;
  }));
  EXPECT_TRUE(rig.reads("controls.WMaxLim_Ena", 0, 5s));
  EXPECT_TRUE(rig.poller.setpoints().empty());
}

}  // namespace
}  // namespace gridlet::adapters::modbus

#endif  // DEVSIM_PATH
