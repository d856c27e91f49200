// devsim's SunSpec DER inverter (models 1, 701, 702, 704, 715) and the controller heartbeat
// watchdogs (715 ControllerHb, battery 802 CtrlHb), against a plain libmodbus client on
// 127.0.0.1. Point offsets come from the official tables by name, so the test reads like the
// SunSpec documents. Waits are bounded polls; the only fixed waits prove that something does NOT
// happen before a timer runs out.
#include <modbus/modbus.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/modbus/sunspec_models.hpp"
#include "tests/integration/devsim_support.hpp"

namespace {

using gridlet::testing::Devsim;
using gridlet::testing::eventually;
using gridlet::testing::holds_for;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
namespace sunspec = gridlet::adapters::sunspec;

constexpr int kSunSpecBase = 40000;
constexpr int kFaultBase = 64000;
constexpr int kFaultHeartbeatLosses = kFaultBase + 6;
constexpr double kRatedW = 5000;  // devsim's default --pv-peak-w

// Offset of a top-group point of a model, from the official tables.
int off(std::uint16_t model, std::string_view point) {
  const auto* m = sunspec::find_model(model);
  const auto* p = m != nullptr ? sunspec::find_point(m->top, point) : nullptr;
  if (p == nullptr) {
    ADD_FAILURE() << "no point " << point << " in model " << model;
    return 0;
  }
  return p->offset;
}

std::uint16_t u16(std::int32_t v) { return static_cast<std::uint16_t>(v); }
std::uint16_t hi(std::int64_t v) { return static_cast<std::uint16_t>((static_cast<std::uint32_t>(v) >> 16) & 0xFFFF); }
std::uint16_t lo(std::int64_t v) { return static_cast<std::uint16_t>(static_cast<std::uint32_t>(v) & 0xFFFF); }

// A plain libmodbus TCP client for one unit at a time; errors are the libmodbus errno values.
class Client {
 public:
  explicit Client(int port) : ctx_(modbus_new_tcp("127.0.0.1", port)) {
    connected_ = ctx_ != nullptr && modbus_connect(ctx_) == 0;
    if (ctx_ != nullptr) modbus_set_response_timeout(ctx_, 1, 0);
  }
  ~Client() {
    if (ctx_ == nullptr) return;
    modbus_close(ctx_);
    modbus_free(ctx_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  void unit(int u) { modbus_set_slave(ctx_, u); }
  void timeout(std::chrono::milliseconds t) {
    modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(t.count() / 1000),
                                static_cast<std::uint32_t>((t.count() % 1000) * 1000));
  }
  // Registers, or empty on failure (error() tells why).
  std::vector<std::uint16_t> read(int address, int count) {
    std::vector<std::uint16_t> regs(static_cast<std::size_t>(count));
    if (modbus_read_registers(ctx_, address, count, regs.data()) != count) {
      error_ = errno;
      return {};
    }
    return regs;
  }
  int reg(int address) {
    const auto r = read(address, 1);
    return r.empty() ? -1 : r[0];
  }
  std::int64_t u32(int address) {
    const auto r = read(address, 2);
    return r.empty() ? -1 : (std::int64_t{r[0]} << 16) | r[1];
  }
  // 0 when acknowledged, else the libmodbus errno (EMBXILVAL for exception 3, ...).
  int write(int address, std::vector<std::uint16_t> values) {
    const int n = static_cast<int>(values.size());
    return modbus_write_registers(ctx_, address, n, values.data()) == n ? 0 : errno;
  }
  int error() const { return error_; }

 private:
  modbus_t* ctx_;
  bool connected_ = false;
  int error_ = 0;
};

// The model ids of the SunSpec chain at 40000 and where each one starts.
struct Chain {
  std::vector<int> ids;
  std::vector<int> addresses;
  int at(int id) const {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) return addresses[i];
    }
    return -1;
  }
};

Chain walk_chain(Client& c) {
  Chain chain;
  const auto marker = c.read(kSunSpecBase, 2);
  if (marker.size() != 2 || marker[0] != 0x5375 || marker[1] != 0x6e53) return chain;
  int address = kSunSpecBase + 2;
  for (int guard = 0; guard < 50; ++guard) {
    const auto h = c.read(address, 2);
    if (h.size() != 2 || h[0] == 0xFFFF) break;
    chain.ids.push_back(h[0]);
    chain.addresses.push_back(address);
    address += 2 + h[1];
  }
  return chain;
}

// A scaled int16/uint16 point and its scale factor, read in two requests.
double scaled(Client& c, int value_at, int sf_at, bool is_signed) {
  const int raw = c.reg(value_at);
  const int sf = c.reg(sf_at);
  if (raw < 0 || sf < 0) return NAN;
  const double v = is_signed ? static_cast<std::int16_t>(raw) : raw;
  return v * std::pow(10.0, static_cast<std::int16_t>(sf));
}

// A DER unit on a running devsim, with the addresses of its models.
struct Der {
  std::unique_ptr<Client> c;
  Chain chain;
  int m701 = -1, m702 = -1, m704 = -1, m715 = -1;

  double watts() { return scaled(*c, m701 + off(701, "W"), m701 + off(701, "W_SF"), true); }
  int ctl(std::string_view point) { return c->reg(m704 + off(704, point)); }
  std::int64_t ctl32(std::string_view point) { return c->u32(m704 + off(704, point)); }
};

Der connect_der(Devsim& sim, int unit) {
  Der d;
  const auto port = sim.tcp_port();
  if (!port) return d;
  d.c = std::make_unique<Client>(*port);
  if (!d.c->connected()) return d;
  d.c->unit(unit);
  d.chain = walk_chain(*d.c);
  d.m701 = d.chain.at(701);
  d.m702 = d.chain.at(702);
  d.m704 = d.chain.at(704);
  d.m715 = d.chain.at(715);
  return d;
}

TEST(DevsimDer, DiscoveryMeasurementsNameplateAndFaults) {
  // 3 kW so that W still fits int16 with an injected W_SF of -1.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der", "--pv-peak-w", "3000"});
  auto d = connect_der(sim, 1);
  ASSERT_TRUE(d.c && d.c->connected()) << sim.log();
  EXPECT_EQ(d.chain.ids, (std::vector<int>{1, 701, 702, 704, 715}));
  ASSERT_GT(d.m715, 0);
  auto& c = *d.c;
  // Lengths as the official tables give them; the 704 PF groups read "not implemented".
  EXPECT_EQ(c.reg(d.m701 + 1), sunspec::find_model(701)->fixed_length);
  EXPECT_EQ(c.reg(d.m704 + 1), sunspec::find_model(704)->fixed_length);
  EXPECT_EQ(c.reg(d.m704 + 2 + c.reg(d.m704 + 1) - 2), 0xFFFF);  // PFWAbsRvrt.PF, the last point

  // Noon: the array produces, the device says it is running and connected.
  const double w = d.watts();
  EXPECT_GT(w, 0.6 * 3000);
  EXPECT_LE(w, 3000);
  EXPECT_EQ(c.reg(d.m701 + off(701, "St")), 1);      // ON
  EXPECT_EQ(c.reg(d.m701 + off(701, "InvSt")), 3);   // RUNNING
  EXPECT_EQ(c.reg(d.m701 + off(701, "ConnSt")), 1);  // CONNECTED
  EXPECT_NEAR(c.u32(d.m701 + off(701, "Hz")) * 0.01, 50.0, 0.1);
  EXPECT_NEAR(scaled(c, d.m701 + off(701, "WL1"), d.m701 + off(701, "W_SF"), true) * 3, w, 3.0);
  // Nameplate: WMaxRtg and WMax are the PV rating.
  EXPECT_EQ(scaled(c, d.m702 + off(702, "WMaxRtg"), d.m702 + off(702, "W_SF"), false), 3000);
  EXPECT_EQ(scaled(c, d.m702 + off(702, "WMax"), d.m702 + off(702, "W_SF"), false), 3000);
  EXPECT_EQ(static_cast<std::int16_t>(d.ctl("WMaxLimPct_SF")), -1);
  EXPECT_EQ(d.ctl("WMaxLimPct"), 1000);
  EXPECT_EQ(d.ctl("WMaxLimPctEna"), 0);
  EXPECT_EQ(d.ctl32("WMaxLimPctRvrtRem"), 0);
  EXPECT_EQ(c.reg(d.m715 + off(715, "LocRemCtl")), 0);  // REMOTE
  // DERHb counts seconds.
  const auto hb0 = c.u32(d.m715 + off(715, "DERHb"));
  EXPECT_TRUE(eventually(3s, [&] { return c.u32(d.m715 + off(715, "DERHb")) > hb0; }));

  // W_SF fault: 701 and 702 report with the injected scale factor, same physical power.
  ASSERT_EQ(c.write(kFaultBase + 3, {u16(-1)}), 0);
  EXPECT_EQ(static_cast<std::int16_t>(c.reg(d.m701 + off(701, "W_SF"))), -1);
  EXPECT_EQ(static_cast<std::int16_t>(c.reg(d.m702 + off(702, "W_SF"))), -1);
  EXPECT_EQ(c.reg(d.m702 + off(702, "WMaxRtg")), 30000);
  EXPECT_NEAR(d.watts(), w, 0.02 * w + 1);
  ASSERT_EQ(c.write(kFaultBase + 3, {0x8000}), 0);
  EXPECT_EQ(c.reg(d.m701 + off(701, "W_SF")), 0);

  // Ignore-writes: acknowledged, not stored, not applied.
  ASSERT_EQ(c.write(kFaultBase, {5}), 0);
  EXPECT_EQ(c.write(d.m704 + off(704, "WMaxLimPctEna"), {1, 100}), 0);
  EXPECT_EQ(d.ctl("WMaxLimPctEna"), 0);
  EXPECT_EQ(d.ctl("WMaxLimPct"), 1000);
  // No reply.
  ASSERT_EQ(c.write(kFaultBase, {1}), 0);
  c.timeout(300ms);
  EXPECT_TRUE(c.read(kSunSpecBase, 2).empty());
  EXPECT_EQ(c.error(), ETIMEDOUT);
  c.timeout(1000ms);
  ASSERT_EQ(c.write(kFaultBase, {0}), 0);
  EXPECT_EQ(c.read(kSunSpecBase, 2).size(), 2u);
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimDer, PowerLimitTakesEffectAndRevertsToTheReversionValues) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der", "--setpoint-delay-ms", "300"});
  auto d = connect_der(sim, 1);
  ASSERT_GT(d.m704, 0) << sim.log();
  ASSERT_GT(d.watts(), 3000);

  // One write of the block: enable 30.0 %; after 2 s revert to 60.0 %, enabled.
  const auto written = SteadyClock::now();
  ASSERT_EQ(d.c->write(d.m704 + off(704, "WMaxLimPctEna"), {1, 300, 600, 1, 0, 2}), 0);
  ASSERT_TRUE(eventually(3s, [&] { return d.watts() <= 0.30 * kRatedW + 0.5; })) << "the limit never took effect";
  EXPECT_GE(SteadyClock::now() - written, 300ms);
  EXPECT_EQ(d.c->reg(d.m701 + off(701, "InvSt")), 4);         // THROTTLED
  EXPECT_EQ(d.c->u32(d.m701 + off(701, "ThrotSrc")) & 1, 1);   // MAX_W
  const auto rem = d.ctl32("WMaxLimPctRvrtRem");
  EXPECT_GE(rem, 1);
  EXPECT_LE(rem, 2);

  ASSERT_TRUE(eventually(5s, [&] { return d.ctl("WMaxLimPct") == 600; })) << "the limit never reverted";
  EXPECT_GE(SteadyClock::now() - written, 2000ms);
  EXPECT_EQ(d.ctl("WMaxLimPctEna"), 1);  // WMaxLimPctEnaRvrt
  EXPECT_EQ(d.ctl32("WMaxLimPctRvrtRem"), 0);
  ASSERT_TRUE(eventually(2s, [&] { return d.watts() > 0.30 * kRatedW + 100; }));
  EXPECT_LE(d.watts(), 0.60 * kRatedW + 0.5);
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimDer, ActivePowerSetpointIsCappedByThePvAndReverts) {
  // 08:00: the sun gives about half the rating.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der", "--start-hour", "8", "--setpoint-delay-ms", "200"});
  auto d = connect_der(sim, 1);
  ASSERT_GT(d.m704, 0) << sim.log();
  const double available = d.watts();
  ASSERT_GT(available, 0.4 * kRatedW);
  ASSERT_LT(available, 0.6 * kRatedW);
  ASSERT_EQ(static_cast<std::int16_t>(d.ctl("WSet_SF")), 0);

  // WSet above what the sun gives: the inverter makes what it can, not more.
  const int wset = d.m704 + off(704, "WSetEna");
  ASSERT_EQ(d.c->write(wset, {1, 1, hi(4000), lo(4000)}), 0);
  ASSERT_TRUE(eventually(3s, [&] { return d.ctl32("WSet") == 4000; }));
  // Past the setpoint delay the output settles at what the sun gives, and never exceeds it.
  EXPECT_TRUE(eventually(2s, [&] { return std::abs(d.watts() - available) <= 0.03 * available; }))
      << d.watts() << " W, " << available << " W available";
  EXPECT_TRUE(holds_for(500ms, [&] { return d.watts() <= 0.6 * kRatedW; }));

  // WSet below: output follows it. Block write with a 2 s reversion to disabled.
  const auto written = SteadyClock::now();
  ASSERT_EQ(d.c->write(wset, {1, 1, hi(1000), lo(1000), hi(3000), lo(3000), 1000, 1000, 0, hi(2), lo(2)}), 0);
  ASSERT_TRUE(eventually(3s, [&] { return std::abs(d.watts() - 1000) <= 1; })) << "WSet never took effect";
  EXPECT_EQ(d.c->u32(d.m701 + off(701, "ThrotSrc")) & 2, 2);  // FIXED_W
  ASSERT_TRUE(eventually(5s, [&] { return d.ctl("WSetEna") == 0; })) << "WSet never reverted";
  EXPECT_GE(SteadyClock::now() - written, 2000ms);
  EXPECT_EQ(d.ctl32("WSet"), 3000);  // WSetRvrt, shown as the setpoint
  ASSERT_TRUE(eventually(2s, [&] { return d.watts() > 1500; }));

  // W_MAX_PCT mode: 10.0 % of WMax (no reversion timer this time).
  ASSERT_EQ(d.c->write(d.m704 + off(704, "WSetRvrtTms"), {0, 0}), 0);
  ASSERT_EQ(d.c->write(wset, {1, 0}), 0);
  ASSERT_EQ(d.c->write(d.m704 + off(704, "WSetPct"), {100}), 0);
  EXPECT_TRUE(eventually(3s, [&] { return std::abs(d.watts() - 0.10 * kRatedW) <= 1; }));
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimDer, OutOfRangeAndReadOnlyWritesAreRefused) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der"});
  auto d = connect_der(sim, 1);
  ASSERT_GT(d.m715, 0) << sim.log();
  auto& c = *d.c;
  const int m704 = d.m704;
  EXPECT_EQ(c.write(m704 + off(704, "WMaxLimPct"), {1001}), EMBXILVAL);  // 100.1 %
  EXPECT_EQ(c.write(m704 + off(704, "WMaxLimPctEna"), {2}), EMBXILVAL);
  EXPECT_EQ(c.write(m704 + off(704, "WSet"), {hi(5001), lo(5001)}), EMBXILVAL);  // above WMax
  EXPECT_EQ(c.write(m704 + off(704, "WSet"), {hi(-100), lo(-100)}), EMBXILVAL);  // a PV inverter absorbs nothing
  EXPECT_EQ(c.write(m704 + off(704, "WSet") + 1, {6000}), EMBXILVAL);  // half a point: judged whole
  EXPECT_EQ(c.write(m704 + off(704, "WMaxLimPctRvrtTms"), {hi(86401), lo(86401)}), EMBXILVAL);
  EXPECT_EQ(c.write(d.m715 + off(715, "OpCtl"), {4}), EMBXILVAL);
  // A refused write stores nothing, not even its valid part.
  EXPECT_EQ(c.write(m704 + off(704, "WMaxLimPctEna"), {1, 1001}), EMBXILVAL);
  EXPECT_EQ(d.ctl("WMaxLimPctEna"), 0);
  EXPECT_EQ(d.ctl("WMaxLimPct"), 1000);
  // Read-only points: exception 2.
  EXPECT_EQ(c.write(d.m701 + off(701, "W"), {0}), EMBXILADD);
  EXPECT_EQ(c.write(m704 + off(704, "WMaxLimPct_SF"), {0}), EMBXILADD);
  EXPECT_EQ(c.write(m704 + off(704, "WMaxLimPctRvrtRem"), {0, 0}), EMBXILADD);
  EXPECT_EQ(c.write(d.m715 + off(715, "DERHb"), {0, 0}), EMBXILADD);
  EXPECT_EQ(c.write(m704 + off(704, "VarSetEna"), {1}), EMBXILADD);  // not implemented
  // The largest values in range are accepted.
  EXPECT_EQ(c.write(m704 + off(704, "WSet"), {hi(5000), lo(5000)}), 0);
  EXPECT_EQ(c.write(d.m715 + off(715, "ControllerHb"), {0xFFFF, 0xFFFF}), 0);

  // OpCtl: standby disconnects the array, exit standby brings it back.
  ASSERT_GT(d.watts(), 1000);
  ASSERT_EQ(c.write(d.m715 + off(715, "OpCtl"), {2}), 0);  // ENTER_STANDBY
  EXPECT_TRUE(eventually(3s, [&] { return d.watts() == 0; }));
  EXPECT_EQ(c.reg(d.m701 + off(701, "InvSt")), 7);   // STANDBY
  EXPECT_EQ(c.reg(d.m701 + off(701, "ConnSt")), 0);  // DISCONNECTED
  ASSERT_EQ(c.write(d.m715 + off(715, "OpCtl"), {3}), 0);  // EXIT_STANDBY
  EXPECT_TRUE(eventually(3s, [&] { return d.watts() > 1000; }));
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimDer, ControllerHeartbeatLossDisablesTheControls) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=der", "--heartbeat-timeout", "2", "--setpoint-delay-ms",
              "100"});
  auto d = connect_der(sim, 1);
  ASSERT_GT(d.m715, 0) << sim.log();
  auto& c = *d.c;
  const int hb = d.m715 + off(715, "ControllerHb");
  // 30 % limit and a 4 kW WSet, no reversion timers.
  ASSERT_EQ(c.write(d.m704 + off(704, "WMaxLimPctEna"), {1, 300}), 0);
  ASSERT_EQ(c.write(d.m704 + off(704, "WSetEna"), {1, 1, hi(4000), lo(4000)}), 0);
  ASSERT_TRUE(eventually(3s, [&] { return d.watts() <= 0.30 * kRatedW + 0.5; }));

  // A heartbeat that never changed arms nothing: still limited after the timeout.
  ASSERT_EQ(c.write(hb, {0, 0}), 0);
  EXPECT_TRUE(holds_for(2300ms, [&] { return d.ctl("WMaxLimPctEna") == 1; }));
  EXPECT_EQ(c.u32(kFaultHeartbeatLosses), 0);

  // A live controller keeps the controls.
  for (std::uint16_t beat = 1; beat <= 4; ++beat) {
    ASSERT_EQ(c.write(hb, {0, beat}), 0);
    std::this_thread::sleep_for(500ms);
  }
  const auto last_beat = SteadyClock::now() - 500ms;
  EXPECT_EQ(d.ctl("WMaxLimPctEna"), 1);
  EXPECT_EQ(d.ctl("WSetEna"), 1);

  // Silence: fail-safe after the timeout.
  ASSERT_TRUE(eventually(4s, [&] { return d.ctl("WMaxLimPctEna") == 0; })) << "the watchdog never went off";
  EXPECT_GE(SteadyClock::now() - last_beat, 2000ms);
  EXPECT_EQ(d.ctl("WSetEna"), 0);
  EXPECT_EQ(c.u32(kFaultHeartbeatLosses), 1);
  EXPECT_EQ(c.u32(d.m701 + off(701, "Alrm")), 1 << 16);  // MANUFACTURER_ALRM
  const auto info = c.read(d.m701 + off(701, "MnAlrmInfo"), 2);
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[0], ('c' << 8) | 'o');  // "controller heartbeat lost"
  EXPECT_TRUE(eventually(2s, [&] { return d.watts() > 0.30 * kRatedW + 100; }));
  // AlarmReset clears the latched alarm; the count stays.
  ASSERT_EQ(c.write(d.m715 + off(715, "AlarmReset"), {1}), 0);
  EXPECT_EQ(c.u32(d.m701 + off(701, "Alrm")), 0);
  EXPECT_EQ(c.u32(kFaultHeartbeatLosses), 1);
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimDer, BatteryControllerHeartbeatWatchdogRevertsStorageControls) {
  // No PV: in self-consumption the battery discharges to cover the house.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "2=battery", "--heartbeat-timeout", "2", "--setpoint-delay-ms",
              "100"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  Client c(*port);
  ASSERT_TRUE(c.connected());
  c.unit(2);
  const auto chain = walk_chain(c);
  const int m124 = chain.at(124);
  const int m802 = chain.at(802);
  ASSERT_GT(m802, 0);
  auto battery_w = [&] { return scaled(c, m802 + off(802, "W"), m802 + off(802, "W_SF"), true); };
  const int hb = m802 + off(802, "CtrlHb");
  const int hb0 = c.reg(m802 + off(802, "Hb"));
  EXPECT_TRUE(eventually(3s, [&] { return c.reg(m802 + off(802, "Hb")) != hb0; })) << "802 Hb does not count";

  // Forced charge at 50 % of WChaMax, no reversion timer.
  ASSERT_EQ(c.write(m124 + off(124, "OutWRte"), {u16(-5000), 10000, 0, 0}), 0);
  ASSERT_EQ(c.write(m124 + off(124, "StorCtl_Mod"), {2}), 0);
  ASSERT_TRUE(eventually(3s, [&] { return battery_w() <= -2499; })) << "forced charge never started";

  // A live controller keeps the forced charge.
  for (std::uint16_t beat = 1; beat <= 4; ++beat) {
    ASSERT_EQ(c.write(hb, {beat}), 0);
    std::this_thread::sleep_for(500ms);
  }
  const auto last_beat = SteadyClock::now() - 500ms;
  EXPECT_EQ(c.reg(m124 + off(124, "StorCtl_Mod")), 2);
  EXPECT_LE(battery_w(), -2499);

  ASSERT_TRUE(eventually(4s, [&] { return c.reg(m124 + off(124, "StorCtl_Mod")) == 0; }))
      << "the watchdog never went off";
  EXPECT_GE(SteadyClock::now() - last_beat, 2000ms);
  EXPECT_TRUE(eventually(2s, [&] { return battery_w() > 100; })) << "self-consumption did not resume";
  EXPECT_EQ(c.u32(kFaultHeartbeatLosses), 1);
  EXPECT_EQ(c.u32(m802 + off(802, "Evt1")) & 1, 1);  // COMMUNICATION_ERROR
  ASSERT_EQ(c.write(m802 + off(802, "AlmRst"), {1}), 0);
  EXPECT_EQ(c.u32(m802 + off(802, "Evt1")), 0);
  EXPECT_EQ(sim.stop(), 0);
}

}  // namespace
