// devsim against a plain libmodbus client: the real binary on 127.0.0.1 (port from the OS) and
// on one end of a socat pty pair. Checks the SunSpec chains, the SDM630 floats, the 123 power
// limit with its delay and revert timer, every fault mode, a runtime scale-factor change and
// unknown unit ids. Waits are bounded polls, never sleeps that a slow machine could outrun.
#include <modbus/modbus.h>

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/devsim_support.hpp"
#include "tests/integration/test_support.hpp"

namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::TempDir;
using gridlet::testing::Devsim;
using gridlet::testing::PtyPair;
using gridlet::testing::eventually;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr int kSunSpecBase = 40000;
constexpr int kFaultBase = 64000;


struct Reply {
  bool ok = false;
  int error = 0;  // errno of a failed request
  std::vector<std::uint16_t> regs;
};

// A plain libmodbus client (TCP or RTU) for one unit at a time.
class Client {
 public:
  static std::unique_ptr<Client> tcp(int port) {
    return std::unique_ptr<Client>(new Client(modbus_new_tcp("127.0.0.1", port)));
  }
  static std::unique_ptr<Client> rtu(const std::string& path) {
    return std::unique_ptr<Client>(new Client(modbus_new_rtu(path.c_str(), 9600, 'N', 8, 1)));
  }
  ~Client() {
    modbus_close(ctx_);
    modbus_free(ctx_);
  }
  bool connected() const { return connected_; }
  void unit(int u) { modbus_set_slave(ctx_, u); }
  void timeout(std::chrono::milliseconds t) {
    modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(t.count() / 1000),
                                static_cast<std::uint32_t>((t.count() % 1000) * 1000));
  }
  Reply read(int address, int count) {
    Reply r;
    r.regs.resize(static_cast<std::size_t>(count));
    r.ok = modbus_read_registers(ctx_, address, count, r.regs.data()) == count;
    r.error = r.ok ? 0 : errno;
    return r;
  }
  Reply read_input(int address, int count) {
    Reply r;
    r.regs.resize(static_cast<std::size_t>(count));
    r.ok = modbus_read_input_registers(ctx_, address, count, r.regs.data()) == count;
    r.error = r.ok ? 0 : errno;
    return r;
  }
  Reply write(int address, std::vector<std::uint16_t> values) {
    Reply r;
    r.ok = modbus_write_registers(ctx_, address, static_cast<int>(values.size()), values.data()) ==
           static_cast<int>(values.size());
    r.error = r.ok ? 0 : errno;
    return r;
  }
  Reply write1(int address, std::uint16_t value) {
    Reply r;
    r.ok = modbus_write_register(ctx_, address, value) == 1;
    r.error = r.ok ? 0 : errno;
    return r;
  }
  // After a timeout the late reply may still arrive: drop it before the next request.
  void flush_late_reply(std::chrono::milliseconds wait) {
    const auto until = SteadyClock::now() + wait;
    while (SteadyClock::now() < until) modbus_flush(ctx_);
  }
  modbus_t* raw() { return ctx_; }

 private:
  explicit Client(modbus_t* ctx) : ctx_(ctx) {
    connected_ = ctx_ != nullptr && modbus_connect(ctx_) == 0;
    timeout(1000ms);
  }
  modbus_t* ctx_;
  bool connected_ = false;
};

std::string errtext(int e) { return modbus_strerror(e); }

// The model ids of the SunSpec chain at 40000, in order; empty when "SunS" is missing.
std::vector<int> walk_chain(Client& c, std::vector<int>* addresses = nullptr) {
  const auto marker = c.read(kSunSpecBase, 2);
  if (!marker.ok || marker.regs[0] != 0x5375 || marker.regs[1] != 0x6e53) return {};
  std::vector<int> ids;
  int address = kSunSpecBase + 2;
  for (int guard = 0; guard < 50; ++guard) {
    const auto h = c.read(address, 2);
    if (!h.ok) return {};
    if (h.regs[0] == 0xFFFF) break;
    ids.push_back(h.regs[0]);
    if (addresses) addresses->push_back(address);
    address += 2 + h.regs[1];
  }
  return ids;
}

int model_address(Client& c, int id) {
  std::vector<int> addresses;
  const auto ids = walk_chain(c, &addresses);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == id) return addresses[i];
  }
  return -1;
}

float f32(const std::vector<std::uint16_t>& regs, std::size_t at) {
  return std::bit_cast<float>((std::uint32_t{regs[at]} << 16) | regs[at + 1]);
}

double scaled(std::uint16_t raw, std::uint16_t sf, bool is_signed) {
  const double v = is_signed ? static_cast<double>(static_cast<std::int16_t>(raw)) : static_cast<double>(raw);
  return v * std::pow(10.0, static_cast<std::int16_t>(sf));
}

// Sends bytes on a fresh connection and reads whatever comes back within a second.
std::string send_raw(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[1024];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got;
}


TEST(DevsimTcp, SunSpecChainsSdm630AndUnknownUnits) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "2=battery", "--device", "3=meter",
              "--device", "4=sdm630"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  auto c = Client::tcp(*port);
  ASSERT_TRUE(c->connected());

  c->unit(1);
  EXPECT_EQ(walk_chain(*c), (std::vector<int>{1, 103, 120, 123, 160}));
  const auto common = c->read(kSunSpecBase + 2, 68);
  ASSERT_TRUE(common.ok);
  EXPECT_EQ(common.regs[1], 66);                  // L of model 1
  EXPECT_EQ(common.regs[2], ('G' << 8) | 'r');    // Mn "Gridlet"
  const int m160 = model_address(*c, 160);
  const auto mppt = c->read(m160, 2 + 8 + 2 * 20);
  ASSERT_TRUE(mppt.ok);
  EXPECT_EQ(mppt.regs[1], 8 + 2 * 20);  // two module instances
  EXPECT_EQ(mppt.regs[8], 2);           // N
  EXPECT_EQ(mppt.regs[10], 1);          // module 1 ID
  EXPECT_EQ(mppt.regs[30], 2);          // module 2 ID

  c->unit(2);
  EXPECT_EQ(walk_chain(*c), (std::vector<int>{1, 124, 713, 802}));
  c->unit(3);
  EXPECT_EQ(walk_chain(*c), (std::vector<int>{1, 203}));

  // Inverter at simulated noon produces, the meter sees the building.
  c->unit(1);
  const int m103 = model_address(*c, 103);
  const auto inv = c->read(m103, 52);
  ASSERT_TRUE(inv.ok);
  const double inv_w = scaled(inv.regs[14], inv.regs[15], true);
  EXPECT_GT(inv_w, 3000);
  EXPECT_LE(inv_w, 5000);
  EXPECT_NEAR(scaled(inv.regs[16], inv.regs[17], false), 50.0, 0.1);  // Hz
  EXPECT_EQ(inv.regs[38], 4);  // St = MPPT
  // Beyond the end marker and below the chain: nothing there.
  EXPECT_EQ(c->read(kSunSpecBase - 10, 2).error, EMBXILADD);
  EXPECT_EQ(c->read(0, 2).error, EMBXILADD);

  // SDM630: float32 input registers, consistent with each other and with the SunSpec meter.
  c->unit(4);
  const auto sdm = c->read_input(0, 0x4C);
  ASSERT_TRUE(sdm.ok) << errtext(sdm.error);
  for (std::size_t p = 0; p < 3; ++p) {
    EXPECT_GT(f32(sdm.regs, 2 * p), 220.0f);  // V
    EXPECT_LT(f32(sdm.regs, 2 * p), 240.0f);
    EXPECT_NEAR(f32(sdm.regs, 0x06 + 2 * p), std::abs(f32(sdm.regs, 0x0C + 2 * p)) / f32(sdm.regs, 2 * p), 0.01);
  }
  const float total_w = f32(sdm.regs, 0x34);
  EXPECT_NEAR(total_w, f32(sdm.regs, 0x0C) + f32(sdm.regs, 0x0E) + f32(sdm.regs, 0x10), 0.01);
  EXPECT_NEAR(f32(sdm.regs, 0x46), 50.0f, 0.1f);  // Hz
  EXPECT_GT(f32(sdm.regs, 0x48), 100.0f);          // import kWh of a meter in service
  EXPECT_GT(f32(sdm.regs, 0x4A), 100.0f);          // export kWh
  EXPECT_EQ(c->read_input(0, 100).error, EMBXILVAL);  // the meter answers at most 80 registers
  EXPECT_EQ(c->read_input(0x400, 2).error, EMBXILADD);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBXILADD);  // no SunSpec on an Eastron meter

  c->unit(3);
  const int m203 = model_address(*c, 203);
  const auto meter = c->read(m203, 107);
  ASSERT_TRUE(meter.ok);
  const double meter_w = scaled(meter.regs[18], meter.regs[22], true);
  EXPECT_NEAR(meter_w, total_w, 50.0 + 0.1 * std::abs(total_w));  // same point, read moments apart
  EXPECT_NEAR(scaled(meter.regs[19], meter.regs[22], true) + scaled(meter.regs[20], meter.regs[22], true) +
                  scaled(meter.regs[21], meter.regs[22], true),
              meter_w, 3.0);

  // No device at unit 9: a TCP gateway says so with exception 0x0B.
  c->unit(9);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBXGTAR);
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimTcp, EnergyCountersAreMonotonic) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "3=meter", "--speed", "3600"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  auto c = Client::tcp(*port);
  c->unit(1);
  const int wh_at = model_address(*c, 103) + 24;
  c->unit(3);
  const int tot_at = model_address(*c, 203) + 38;
  std::uint32_t last_wh = 0, last_imp = 0, last_exp = 0;
  for (int i = 0; i < 20; ++i) {  // an hour of sim time per real second: a whole day goes by
    c->unit(1);
    const auto wh = c->read(wh_at, 2);
    c->unit(3);
    const auto tot = c->read(tot_at, 10);
    ASSERT_TRUE(wh.ok && tot.ok);
    const std::uint32_t v = (std::uint32_t{wh.regs[0]} << 16) | wh.regs[1];
    const std::uint32_t exp = (std::uint32_t{tot.regs[0]} << 16) | tot.regs[1];
    const std::uint32_t imp = (std::uint32_t{tot.regs[8]} << 16) | tot.regs[9];
    EXPECT_GE(v, last_wh);
    EXPECT_GE(imp, last_imp);
    EXPECT_GE(exp, last_exp);
    last_wh = v;
    last_imp = imp;
    last_exp = exp;
    std::this_thread::sleep_for(50ms);  // pacing only; nothing waits on this
  }
}

TEST(DevsimTcp, PowerLimitTakesEffectAfterDelayAndReverts) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--setpoint-delay-ms", "1000"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  auto c = Client::tcp(*port);
  c->unit(1);
  const int m103 = model_address(*c, 103);
  const int m123 = model_address(*c, 123);
  ASSERT_GT(m123, 0);
  auto watts = [&] {
    const auto r = c->read(m103 + 14, 2);
    return r.ok ? scaled(r.regs[0], r.regs[1], true) : -1.0;
  };
  ASSERT_GT(watts(), 3000);
  const auto sf = c->read(m123 + 23, 1);  // WMaxLimPct_SF
  ASSERT_TRUE(sf.ok);
  ASSERT_EQ(static_cast<std::int16_t>(sf.regs[0]), -1);

  // Out of range and read-only writes are refused the way a SunSpec device refuses them.
  EXPECT_EQ(c->write1(m123 + 5, 1001).error, EMBXILVAL);  // 100.1 %
  EXPECT_EQ(c->write1(m103 + 14, 0).error, EMBXILADD);    // W is read-only
  EXPECT_EQ(c->write1(m123 + 23, 0).error, EMBXILADD);    // so is the scale factor

  // 30 %, no window, revert after 3 s, no ramp, enabled: one write of WMaxLimPct..WMaxLim_Ena.
  const double cap_w = 0.30 * 5000;
  const auto before_write = SteadyClock::now();
  ASSERT_TRUE(c->write(m123 + 5, {300, 0, 3, 0, 1}).ok);
  const double right_after = watts();
  if (SteadyClock::now() - before_write < 900ms) {
    EXPECT_GT(right_after, cap_w + 100) << "the limit must wait for the setpoint delay";
  }
  ASSERT_TRUE(eventually(5s, [&] { return watts() <= cap_w + 0.5; })) << "the limit never took effect";
  EXPECT_GE(SteadyClock::now() - before_write, 1000ms);
  EXPECT_EQ(c->read(m103 + 38, 1).regs[0], 5);  // St = THROTTLED
  ASSERT_TRUE(eventually(10s, [&] {
    const auto ena = c->read(m123 + 9, 1);
    return ena.ok && ena.regs[0] == 0 && watts() > cap_w + 100;
  })) << "the limit never reverted";
  EXPECT_GE(SteadyClock::now() - before_write, 3000ms);
}

TEST(DevsimTcp, BatteryFollowsStorageControlsAndReverts) {
  // No PV: in self-consumption the battery discharges to cover the house.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "2=battery", "--setpoint-delay-ms", "200"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  auto c = Client::tcp(*port);
  c->unit(2);
  const int m124 = model_address(*c, 124);
  const int m802 = model_address(*c, 802);
  ASSERT_GT(m124, 0);
  ASSERT_GT(m802, 0);
  auto battery_w = [&] {  // 802 W, positive = discharging
    const auto w = c->read(m802 + 47, 1);
    const auto sf = c->read(m802 + 63, 1);
    return w.ok && sf.ok ? scaled(w.regs[0], sf.regs[0], true) : 0.0;
  };
  EXPECT_TRUE(eventually(2s, [&] { return battery_w() > 100; }));
  EXPECT_EQ(c->write1(m124 + 13, static_cast<std::uint16_t>(-10001)).error, EMBXILVAL);  // InWRte < -100 %
  EXPECT_EQ(c->write1(m124 + 8, 0).error, EMBXILADD);  // ChaState is read-only

  // Discharge bit with a negative OutWRte (-50 % of WChaMax) forces charging; revert after 2 s.
  const auto before_write = SteadyClock::now();
  ASSERT_TRUE(c->write(m124 + 12, {static_cast<std::uint16_t>(-5000), 10000, 0, 2}).ok);
  ASSERT_TRUE(c->write1(m124 + 5, 2).ok);
  ASSERT_TRUE(eventually(5s, [&] { return battery_w() <= -2499; })) << "forced charge never started";
  EXPECT_EQ(c->read(m124 + 11, 1).regs[0], 4);  // ChaSt = CHARGING
  ASSERT_TRUE(eventually(8s, [&] {
    const auto mode = c->read(m124 + 5, 1);
    return mode.ok && mode.regs[0] == 0 && battery_w() > 100;
  })) << "the storage control never reverted";
  EXPECT_GE(SteadyClock::now() - before_write, 2000ms);
}

TEST(DevsimTcp, FaultModesProduceTheirClientErrors) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "3=meter", "--device", "4=sdm630",
              "--fault", "4=exception:6"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  auto c = Client::tcp(*port);
  c->timeout(300ms);

  // Start state from the command line.
  c->unit(4);
  EXPECT_EQ(c->read_input(0, 2).error, EMBXSBUSY);
  ASSERT_TRUE(c->write1(kFaultBase, 0).ok);  // the fault block always answers
  EXPECT_TRUE(c->read_input(0, 2).ok);
  EXPECT_EQ(c->write1(kFaultBase + 3, 0xFFFF).error, EMBXILVAL);  // floats have no scale factor

  c->unit(3);
  const auto counter_before = c->read(kFaultBase + 4, 2);
  ASSERT_TRUE(counter_before.ok);

  // 1: no reply.
  ASSERT_TRUE(c->write1(kFaultBase, 1).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, ETIMEDOUT);
  // 2: exception with the code in the argument.
  ASSERT_TRUE(c->write(kFaultBase, {2, 4}).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBXSFAIL);
  EXPECT_EQ(c->write(kFaultBase, {2, 12}).error, EMBXILVAL);  // not an exception code
  // 3: malformed reply (consistent framing, wrong quantity).
  ASSERT_TRUE(c->write1(kFaultBase, 3).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBBADDATA);
  // 4: reply with another transaction id.
  ASSERT_TRUE(c->write1(kFaultBase, 4).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBBADDATA);
  // 6: gone for 2 s, then back by itself.
  ASSERT_TRUE(c->write(kFaultBase, {6, 2}).ok);
  const auto gone_at = SteadyClock::now();
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, ETIMEDOUT);
  ASSERT_TRUE(eventually(6s, [&] { return c->read(kSunSpecBase, 2).ok; }));
  EXPECT_GE(SteadyClock::now() - gone_at, 2000ms);
  EXPECT_EQ(c->read(kFaultBase, 1).regs[0], 0);  // mode back to none
  EXPECT_EQ(c->write1(kFaultBase, 7).error, EMBXILVAL);
  EXPECT_EQ(c->write1(kFaultBase + 4, 0).error, EMBXILADD);  // the counter is read-only
  const auto counter_after = c->read(kFaultBase + 4, 2);
  EXPECT_GT((std::uint32_t{counter_after.regs[0]} << 16) | counter_after.regs[1],
            (std::uint32_t{counter_before.regs[0]} << 16) | counter_before.regs[1]);

  // Response delay: answered late, or a timeout for an impatient client.
  ASSERT_TRUE(c->write1(kFaultBase + 2, 400).ok);
  c->timeout(2000ms);
  const auto asked = SteadyClock::now();
  EXPECT_TRUE(c->read(kSunSpecBase, 2).ok);
  EXPECT_GE(SteadyClock::now() - asked, 400ms);
  c->timeout(100ms);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, ETIMEDOUT);
  c->flush_late_reply(600ms);
  c->timeout(1000ms);
  ASSERT_TRUE(c->write1(kFaultBase + 2, 0).ok);
  EXPECT_TRUE(c->read(kSunSpecBase, 2).ok);

  // 5: a write is acknowledged and not applied; reading back shows the old value.
  c->unit(1);
  const int m123 = model_address(*c, 123);
  ASSERT_TRUE(c->write1(kFaultBase, 5).ok);
  EXPECT_TRUE(c->write1(m123 + 5, 500).ok);
  EXPECT_EQ(c->read(m123 + 5, 1).regs[0], 1000);
  ASSERT_TRUE(c->write1(kFaultBase, 0).ok);
  EXPECT_TRUE(c->write1(m123 + 5, 500).ok);
  EXPECT_EQ(c->read(m123 + 5, 1).regs[0], 500);
  EXPECT_EQ(sim.stop(), 0);
}

TEST(DevsimTcp, ScaleFactorChangeKeepsThePhysicalValue) {
  // 3 kW peak so that W fits int16 at W_SF = -1 as well.
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--pv-peak-w", "3000"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  auto c = Client::tcp(*port);
  c->unit(1);
  const int w_at = model_address(*c, 103) + 14;
  const auto before = c->read(w_at, 2);
  ASSERT_TRUE(before.ok);
  EXPECT_EQ(before.regs[1], 0);
  ASSERT_TRUE(c->write1(kFaultBase + 3, static_cast<std::uint16_t>(-1)).ok);
  const auto after = c->read(w_at, 2);  // value and scale factor in one request
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(static_cast<std::int16_t>(after.regs[1]), -1);
  const double w0 = scaled(before.regs[0], before.regs[1], true);
  const double w1 = scaled(after.regs[0], after.regs[1], true);
  EXPECT_GT(w0, 1500);
  EXPECT_NEAR(w1, w0, 0.02 * w0 + 1);  // haze changes by the minute, within 1.5 %
  EXPECT_GT(after.regs[0], 5 * before.regs[0]);
  ASSERT_TRUE(c->write1(kFaultBase + 3, 0x8000).ok);  // back to the device's own
  EXPECT_EQ(c->read(w_at, 2).regs[1], 0);
}

TEST(DevsimTcp, SurvivesMalformedRequestsAndManyClients) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=meter"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port);
  // Garbage on raw sockets: a header cut short, text, a lying MBAP length, a flood of 0xff.
  for (const std::string& junk : {std::string("\x00\x01\x00\x00\x00\x00\x01\x03", 8), std::string("hello world\r\n"),
                                  std::string("\x00\x01\x00\x00\xff\xff\x01\x03\x9c\x40\x00\x02", 12),
                                  std::string(300, '\xff')}) {
    send_raw(*port, junk);
  }
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(Client::tcp(*port));
    ASSERT_TRUE(clients.back()->connected());
    clients.back()->unit(1);
  }
  for (auto& cl : clients) EXPECT_TRUE(cl->read(kSunSpecBase, 2).ok);
  // A function 16 whose byte count does not match its quantity, and an unsupported function.
  const std::uint8_t bad16[] = {1, 0x10, 0x9c, 0x40, 0x00, 0x02, 0x03, 0, 0, 0};
  ASSERT_GT(modbus_send_raw_request(clients[0]->raw(), bad16, sizeof bad16), 0);
  std::uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
  ASSERT_GT(modbus_receive_confirmation(clients[0]->raw(), rsp), 0);
  EXPECT_EQ(rsp[7], 0x90);
  EXPECT_EQ(rsp[8], MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
  const std::uint8_t coils[] = {1, 0x01, 0x00, 0x00, 0x00, 0x08};
  ASSERT_GT(modbus_send_raw_request(clients[1]->raw(), coils, sizeof coils), 0);
  ASSERT_GT(modbus_receive_confirmation(clients[1]->raw(), rsp), 0);
  EXPECT_EQ(rsp[7], 0x81);  // exception reply to function 01
  EXPECT_EQ(rsp[8], MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
  for (auto& cl : clients) EXPECT_TRUE(cl->read(kSunSpecBase, 2).ok);
  EXPECT_EQ(sim.stop(), 0);
}


TEST(DevsimRtu, ServesUnitsOverASerialLine) {
  if (!std::filesystem::exists("/usr/bin/socat")) GTEST_SKIP() << "socat not installed";
  TempDir dir;
  PtyPair pty(dir.path());
  ASSERT_TRUE(pty.ready());
  Devsim sim({"--rtu", pty.device_end(), "--baud", "9600", "--parity", "N", "--device", "1=inverter", "--device",
              "2=battery", "--device", "4=sdm630"});
  ASSERT_TRUE(sim.rtu_ready()) << sim.log();
  auto c = Client::rtu(pty.client_end());
  ASSERT_TRUE(c->connected());
  c->timeout(500ms);

  c->unit(1);
  EXPECT_EQ(walk_chain(*c), (std::vector<int>{1, 103, 120, 123, 160}));
  c->unit(2);
  EXPECT_EQ(walk_chain(*c), (std::vector<int>{1, 124, 713, 802}));
  c->unit(4);
  const auto sdm = c->read_input(0x0C, 2 * 3);
  ASSERT_TRUE(sdm.ok) << errtext(sdm.error);
  const auto total = c->read_input(0x34, 2);
  ASSERT_TRUE(total.ok);
  EXPECT_NEAR(f32(total.regs, 0), f32(sdm.regs, 0) + f32(sdm.regs, 2) + f32(sdm.regs, 4), 50.0);

  // Nobody at unit 9: on a serial line that is silence.
  c->unit(9);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, ETIMEDOUT);

  c->unit(1);
  ASSERT_TRUE(c->write(kFaultBase, {2, 2}).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBXILADD);
  ASSERT_TRUE(c->write1(kFaultBase, 3).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, EMBBADCRC);
  c->flush_late_reply(50ms);
  ASSERT_TRUE(c->write1(kFaultBase, 4).ok);
  EXPECT_FALSE(c->read(kSunSpecBase, 2).ok);  // answered by the wrong unit
  c->flush_late_reply(50ms);
  ASSERT_TRUE(c->write1(kFaultBase, 1).ok);
  EXPECT_EQ(c->read(kSunSpecBase, 2).error, ETIMEDOUT);
  ASSERT_TRUE(c->write1(kFaultBase, 0).ok);
  EXPECT_TRUE(c->read(kSunSpecBase, 2).ok);

  // A setpoint over RTU, with the default delay.
  const int m123 = model_address(*c, 123);
  ASSERT_TRUE(c->write(m123 + 5, {100, 0, 0, 0, 1}).ok);
  const int m103 = model_address(*c, 103);
  EXPECT_TRUE(eventually(5s, [&] {
    const auto w = c->read(m103 + 14, 2);
    return w.ok && scaled(w.regs[0], w.regs[1], true) <= 500.5;
  }));
  EXPECT_EQ(sim.stop(), 0);
}

}  // namespace
