// The Modbus bus and device pollers against the real device simulator over TCP and over an RTU
// pseudo-terminal line: SunSpec discovery and polling, a register-map profile, a dead unit that
// must not stall its neighbours, writes ahead of reads, and every kind of bad reply.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "adapters/modbus/profile.hpp"
#include "tests/integration/devsim_support.hpp"
#include "tests/integration/modbus_support.hpp"
#include "tests/integration/test_support.hpp"

#ifdef DEVSIM_PATH

namespace gridlet::adapters::modbus {
namespace {

using gridlet::testing::Devsim;
using gridlet::testing::eventually;
using gridlet::testing::PtyPair;
using gridlet::testing::TempDir;
using namespace std::chrono_literals;
using namespace gridlet::testing::modbus;

// Counts the healthy device's good fast-class readings over a measurement window and checks
// they reach `share` of the ideal poll rate (one per `period`).
void expect_poll_rate(const CollectingSink& sink, const std::string& device, const std::string& point,
                      std::chrono::seconds window, double share, std::chrono::milliseconds period = 200ms) {
  const int before = sink.count(device, point, Quality::kGood);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);  // a measurement window, not a wait for a condition
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int polls = sink.count(device, point, Quality::kGood) - before;
  const double ideal = seconds / std::chrono::duration<double>(period).count();
  EXPECT_GE(polls, static_cast<int>(ideal * share)) << "got " << polls << " of an ideal " << ideal;
}

TEST(ModbusPoll, SunSpecAndProfileDevicesShareOneTcpConnection) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "2=battery", "--device",
              "3=meter", "--device", "4=sdm630", "--start-hour", "12"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  CollectingSink sink;
  Bus bus(tcp_bus(*port));
  DevicePoller pv(bus, "pv", 1, nullptr, sink, quick());
  DevicePoller battery(bus, "battery", 2, nullptr, sink, quick());
  DevicePoller grid(bus, "grid", 3, nullptr, sink, quick());
  DevicePoller meter(bus, "sdm", 4, sdm630(), sink, quick());
  for (auto* p : {&pv, &battery, &grid, &meter}) p->start();

  ASSERT_TRUE(eventually(10s, [&] {
    return sink.good("pv", "inverter_three_phase.W") && sink.good("grid", "ac_meter_abcn.W") &&
           sink.good("sdm", "power_total_w") && sink.good("battery", "storage_basic.ChaState");
  })) << "pv: " << pv.status().last_error << " " << sink.good("pv", "inverter_three_phase.W")
     << "; grid: " << grid.status().last_error << " " << sink.good("grid", "ac_meter_abcn.W")
     << "; sdm: " << meter.status().last_error << " " << sink.good("sdm", "power_total_w")
     << "; battery: " << battery.status().last_error << " " << sink.good("battery", "storage_basic.ChaState")
     << "; bus ok " << bus.health().ok << " requests " << bus.health().requests << "\n" << sim.log();
  EXPECT_EQ(pv.status().models, (std::vector<std::uint16_t>{1, 103, 120, 123, 160}));
  EXPECT_EQ(grid.status().models, (std::vector<std::uint16_t>{1, 203}));
  // Midday: the inverter produces, the meter's phases add up.
  EXPECT_GT(sink.latest("pv", "inverter_three_phase.W")->value, 0);
  const double l1 = sink.latest("sdm", "power_l1_w")->value, l2 = sink.latest("sdm", "power_l2_w")->value,
               l3 = sink.latest("sdm", "power_l3_w")->value;
  EXPECT_NEAR(sink.latest("sdm", "power_total_w")->value, l1 + l2 + l3, 50);
  // Values are scaled: the nameplate and units come from the SunSpec tables.
  EXPECT_EQ(sink.latest("pv", "inverter_three_phase.W")->unit, "W");
  const auto h = bus.health();
  EXPECT_TRUE(h.connected);
  EXPECT_GT(h.ok, 10u);
  EXPECT_EQ(h.errors.size(), 0u) << "no errors against a healthy simulator";
  for (std::uint8_t u : {1, 2, 3, 4}) EXPECT_TRUE(h.units.at(u).online) << int(u);
}

TEST(ModbusPoll, DeadUnitBacksOffAndNeverStallsItsNeighbours) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "4=sdm630", "--fault",
              "4=timeout"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  CollectingSink sink;
  Bus bus(tcp_bus(*port));
  DevicePoller pv(bus, "pv", 1, nullptr, sink, quick());
  DevicePoller meter(bus, "sdm", 4, sdm630(), sink, quick());
  // Unit 9 does not exist: devsim answers for it as a TCP gateway would, with exception 11.
  DevicePoller ghost(bus, "ghost", 9, nullptr, sink, quick());
  pv.start();
  meter.start();
  ghost.start();
  // The silent unit and the absent one are marked offline and back off.
  ASSERT_TRUE(eventually(10s, [&] {
    const auto h = bus.health();
    return h.units.contains(4) && !h.units.at(4).online && h.units.at(4).backoff_until_ms > 0 &&
           h.units.contains(9) && !h.units.at(9).online && h.units.at(9).backoff_until_ms > 0;
  }));
  EXPECT_GT(sink.count("sdm", "power_total_w", Quality::kError), 0);
  // Meanwhile the inverter keeps its poll rate: fast-class reads of model 103 over 4 s.
  expect_poll_rate(sink, "pv", "inverter_three_phase.W", 4s, 0.75);
  // The simulator says that the dead unit was hardly asked: backoff, not a timeout per poll.
  const auto h = bus.health();
  EXPECT_LE(h.units.at(4).requests, 8u);
}

TEST(ModbusPoll, ALateReplyIsNeverTakenForTheNextUnitsAnswer) {
  // Unit 1 answers every request 450 ms late, after the bus gave up on it (300 ms): its replies
  // arrive while the bus talks to unit 4. Unit 4 must never be blamed for them.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=sdm630", "--device", "4=sdm630", "--fault",
              "1=delay:450"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  CollectingSink sink;
  Bus bus(tcp_bus(*port));
  DevicePoller late(bus, "late", 1, sdm630(), sink, quick());
  DevicePoller healthy(bus, "healthy", 4, sdm630(), sink, quick());
  late.start();
  healthy.start();
  ASSERT_TRUE(eventually(10s, [&] {
    const auto h = bus.health();
    return h.units.contains(1) && !h.units.at(1).online && h.units.contains(4) && h.units.at(4).online;
  }));
  expect_poll_rate(sink, "healthy", "power_total_w", 4s, 0.75);
  const auto h = bus.health();
  EXPECT_TRUE(h.units.at(4).online);
  EXPECT_EQ(h.units.at(4).failures, 0u) << "a late reply of unit 1 was charged to unit 4";
  EXPECT_EQ(sink.count("healthy", "power_total_w", Quality::kError), 0);
}

TEST(ModbusPoll, ASilentNeighbourCostsAHealthyUnitLittleEvenWithALongBusTimeout) {
  // buses.timeout = 5 s: a silent unit that never answered is only ever probed with the short
  // probe timeout, so the healthy unit keeps its poll rate from the first second.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=sdm630", "--device", "4=sdm630", "--fault",
              "1=timeout"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  BusSettings s = tcp_bus(*port);
  s.timeout = 5s;
  s.timeout_ceiling = 5s;
  CollectingSink sink;
  Bus bus(s);
  // The default poll periods (fast 1 s) and probe timeout (500 ms): a probe delays a fast poll,
  // it does not cost one.
  const PollPeriods defaults{};
  DevicePoller silent(bus, "silent", 1, sdm630(), sink, defaults);
  DevicePoller healthy(bus, "healthy", 4, sdm630(), sink, defaults);
  silent.start();
  healthy.start();
  expect_poll_rate(sink, "healthy", "power_total_w", 12s, 0.75, defaults.fast);
  const auto h = bus.health();
  EXPECT_FALSE(h.units.at(1).online);
  EXPECT_LE(h.timeout, 5s);
}

TEST(ModbusBus, WritesJumpAheadOfQueuedReads) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  auto settings = tcp_bus(*port);
  // The slow reads below must not time out: keep the adaptive timeout above the injected delay.
  settings.timeout = settings.timeout_floor = settings.timeout_ceiling = 2000ms;
  Bus bus(settings);
  std::mutex mu;
  std::vector<std::string> order;
  std::condition_variable cv;
  // Hold the bus busy with a slow read first, so that everything else queues behind it.
  ASSERT_EQ(write_now(bus, 1, 64002, 200).outcome, Outcome::kOk);  // 200 ms response delay
  for (int i = 0; i < 10; ++i) {
    Request r;
    r.unit = 1;
    r.address = 40000;
    r.count = 2;
    bus.submit(r, [&, i](const Response&) {
      std::lock_guard lock(mu);
      order.push_back("read" + std::to_string(i));
      cv.notify_all();
    });
  }
  Request w;
  w.op = Request::Op::kWriteRegisters;
  w.unit = 1;
  w.address = 64002;
  w.values = {0};
  bus.submit(w, [&](const Response& resp) {
    std::lock_guard lock(mu);
    order.push_back(resp.outcome == Outcome::kOk ? "write" : "write-failed");
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return order.size() == 11; }));
  std::string seq;
  for (const auto& o : order) seq += o + " ";
  const auto pos = std::find(order.begin(), order.end(), "write") - order.begin();
  EXPECT_LE(pos, 1) << "the write waits at most for the read in progress: " << seq;
}

TEST(ModbusBus, BadRepliesAreClassifiedAndTheStreamRecovers) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  auto s = tcp_bus(*port);
  s.backoff_initial = 1ms;  // this test wants every request to reach the unit
  s.quiet_factor = 0;
  Bus bus(s);
  ASSERT_EQ(read_now(bus, 1, 40000, 2).outcome, Outcome::kOk);
  ASSERT_EQ(write_now(bus, 1, kFaultMode, 3).outcome, Outcome::kOk);  // malformed replies
  EXPECT_EQ(read_now(bus, 1, 40000, 2).outcome, Outcome::kMalformed);
  ASSERT_EQ(write_now(bus, 1, kFaultMode, 4).outcome, Outcome::kOk);  // wrong transaction id
  EXPECT_EQ(read_now(bus, 1, 40000, 2).outcome, Outcome::kMalformed);
  ASSERT_EQ(write_now(bus, 1, kFaultArg, 6).outcome, Outcome::kOk);
  ASSERT_EQ(write_now(bus, 1, kFaultMode, 2).outcome, Outcome::kOk);  // exception 6 (busy)
  const auto ex = read_now(bus, 1, 40000, 2);
  EXPECT_EQ(ex.outcome, Outcome::kException);
  EXPECT_EQ(ex.exception_code, 6);
  ASSERT_EQ(write_now(bus, 1, kFaultMode, 1).outcome, Outcome::kOk);  // no reply at all
  EXPECT_EQ(read_now(bus, 1, 40000, 2).outcome, Outcome::kTimeout);
  ASSERT_EQ(write_now(bus, 1, kFaultMode, 0).outcome, Outcome::kOk);
  // After all that, answers are in step with their questions again.
  for (int i = 0; i < 5; ++i) {
    const auto r = read_now(bus, 1, 40000, 2);
    ASSERT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(r.registers, (std::vector<std::uint16_t>{0x5375, 0x6E53}));  // "SunS"
  }
  const auto h = bus.health();
  EXPECT_EQ(h.errors.at("malformed"), 2u);
  EXPECT_EQ(h.errors.at("exception"), 1u);
  EXPECT_EQ(h.errors.at("timeout"), 1u);
}

TEST(ModbusPoll, ScaleFactorChangeIsPickedUpOnTheNextRead) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--start-hour", "12"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  CollectingSink sink;
  Bus bus(tcp_bus(*port));
  DevicePoller pv(bus, "pv", 1, nullptr, sink, quick());
  pv.start();
  ASSERT_TRUE(eventually(10s, [&] { return sink.good("pv", "inverter_three_phase.W"); }));
  const double before = sink.latest("pv", "inverter_three_phase.W")->value;
  ASSERT_EQ(write_now(bus, 1, kFaultScaleFactor, 1).outcome, Outcome::kOk);
  const auto t = sink.latest("pv", "inverter_three_phase.W")->timestamp_ms;
  ASSERT_TRUE(eventually(5s, [&] { return sink.latest("pv", "inverter_three_phase.W")->timestamp_ms > t + 500; }));
  const double after = sink.latest("pv", "inverter_three_phase.W")->value;
  // The register now holds a tenth of the number (W_SF 0 -> 1); the published power must not jump.
  EXPECT_NEAR(after, before, std::max(100.0, before * 0.05));
}

TEST(ModbusPoll, RtuLineWithSeveralUnits) {
  TempDir dir;
  PtyPair pty(dir.path());
  ASSERT_TRUE(pty.ready());
  Devsim sim({"--rtu", pty.device_end(), "--baud", "19200", "--device", "3=meter", "--device", "4=sdm630"});
  ASSERT_TRUE(sim.rtu_ready()) << sim.log();
  BusSettings s;
  s.id = "rs485";
  s.rtu = true;
  s.device = pty.client_end();
  s.baud = 19200;
  s.timeout = 500ms;
  s.frame_gap = 10ms;
  CollectingSink sink;
  Bus bus(s);
  DevicePoller grid(bus, "grid", 3, nullptr, sink, quick());
  DevicePoller meter(bus, "sdm", 4, sdm630(), sink, quick());
  grid.start();
  meter.start();
  ASSERT_TRUE(eventually(15s, [&] {
    return sink.good("grid", "ac_meter_abcn.W") && sink.good("sdm", "power_total_w") &&
           sink.good("sdm", "frequency_hz");
  })) << grid.status().last_error << " / " << meter.status().last_error;
  EXPECT_NEAR(sink.latest("sdm", "frequency_hz")->value, 50.0, 1.0);
  EXPECT_EQ(bus.health().errors.count("malformed"), 0u);
}

TEST(ModbusPoll, UnitThatDisappearsIsOfflineThenRecovers) {
  // The inverter goes silent for 3 s from the start, then answers again by itself.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--fault", "1=disappear:3"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  CollectingSink sink;
  Bus bus(tcp_bus(*port));
  DevicePoller pv(bus, "pv", 1, nullptr, sink, quick());
  pv.start();
  ASSERT_TRUE(eventually(10s, [&] {
    const auto h = bus.health();
    return h.units.contains(1) && !h.units.at(1).online && h.units.at(1).backoff_until_ms > 0;
  }));
  EXPECT_FALSE(sink.good("pv", "inverter_three_phase.W"));
  // After it returns, the next probe finds it: discovery, then good readings, online again.
  ASSERT_TRUE(eventually(20s, [&] { return sink.good("pv", "inverter_three_phase.W"); }))
      << pv.status().last_error;
  EXPECT_TRUE(bus.health().units.at(1).online);
  EXPECT_TRUE(pv.status().discovered);
}

TEST(CounterTracker, ResetAndWrapNeverJump) {
  CounterTracker wrap(65536.0);
  EXPECT_EQ(wrap.update(65000).value, 65000);
  const auto w = wrap.update(100);  // past 65535
  EXPECT_TRUE(w.discontinuity);
  EXPECT_EQ(w.value, 65536 + 100);
  CounterTracker reset(65536.0);
  reset.update(5000);
  const auto r = reset.update(10);  // meter replaced: continues from 5000
  EXPECT_TRUE(r.discontinuity);
  EXPECT_EQ(r.value, 5010);
  EXPECT_EQ(reset.update(20).value, 5020);
  CounterTracker glitch(0);
  glitch.update(1000.0);
  const auto g = glitch.update(999.5);  // a step back: held, not doubled
  EXPECT_TRUE(g.discontinuity);
  EXPECT_EQ(g.value, 1000.0);
  EXPECT_EQ(glitch.update(1001.0).value, 1001.0);
}

}  // namespace
}  // namespace gridlet::adapters::modbus

#endif  // DEVSIM_PATH
