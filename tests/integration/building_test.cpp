// A building seen through the real gatewayd binary and its HTTP API, end to end:
//   - devsim over Modbus TCP (SunSpec inverter, battery, grid meter) and a second devsim on an RTU
//     line (an Eastron SDM630 behind a socat pseudo-terminal pair), on two buses of one daemon:
//     every device online, good readings, per-bus health, and rows stored in SQLite;
//   - a SunSpec inverter served by modbus-serial (tests/interop/sunspec_inverter_server.js), a
//     Modbus implementation we did not write, at base 50000 with a vendor model in its chain and
//     scale factors other than 0: discovered, polled, and its values scaled right;
//   - a unit that disappears (devsim fault mode 6) and is brought back: offline in the API while
//     its neighbour on the same bus keeps fresh good readings, online again once it answers.
// Everything runs on 127.0.0.1 with ports chosen by the OS; every wait is a bounded poll.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/modbus/bus.hpp"
#include "tests/integration/devsim_support.hpp"
#include "tests/integration/test_support.hpp"

namespace gridlet {
namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::eventually;
using gridlet::testing::http;
using gridlet::testing::TempDir;
using gridlet::testing::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;
using gridlet::testing::find_on_path;

const std::string kGatewayd = GATEWAYD_PATH;
const std::filesystem::path kSourceDir = GRIDLET_SOURCE_DIR;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A running `gatewayd run` on a free loopback port, with a viewer token. Stopped with SIGTERM by
// stop() (which returns the exit status) or killed when the object dies.
class Gateway {
 public:
  Gateway(const std::filesystem::path& dir, const std::string& buses_and_devices) {
    const auto data = dir / "data";
    const auto config = dir / "gridlet.toml";
    std::filesystem::create_directories(data);
    write_file(config, "[site]\nid = \"building\"\nname = \"building test\"\n"
                       "[storage]\ndata_dir = \"" + data.string() +
                           "\"\ncommit_interval = \"100ms\"\n" + buses_and_devices);
    {
      ChildProcess check({kGatewayd, "check-config", config.string()});
      check_rc_ = check.wait();
      check_log_ = check.log();
    }
    ChildProcess token({kGatewayd, "token", "create", "--tokens-file", (data / "tokens").string(),
                        "--role", "viewer", "--name", "building-it"});
    token.wait();
    std::smatch m;
    const std::string out = token.log();
    if (std::regex_search(out, m, std::regex("(glt_[A-Za-z0-9_-]+)"))) token_ = m[1];
    proc_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        kGatewayd, "run", "--config", config.string(), "--api-listen", "127.0.0.1:0"});
    if (auto p = proc_->wait_for_log(std::regex(R"(API listening on 127\.0\.0\.1:(\d+))"))) {
      port_ = static_cast<std::uint16_t>(std::stoi((*p)[1]));
    }
    ready_ = proc_->wait_for_log(std::regex("\\bready\\b")).has_value();
  }

  bool ready() const { return check_rc_ == 0 && !token_.empty() && ready_ && port_ != 0; }
  std::string why() const {
    return "check-config exit " + std::to_string(check_rc_) + ": " + check_log_ + "\n" + log();
  }
  std::string log() const { return proc_->log(); }

  // GET an API path as the viewer; null when the request fails or is not 200.
  json get(const std::string& target) const {
    const auto r = http(port_, "GET", target, token_);
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  }
  // One device of /api/v1/devices (null when absent).
  json device(const std::string& id) const {
    for (const auto& d : get("/api/v1/devices")) {
      if (d.value("id", "") == id) return d;
    }
    return json();
  }
  // One point of /api/v1/points (null when absent).
  json point(const std::string& device, const std::string& name) const {
    for (const auto& p : get("/api/v1/points?device=" + device)) {
      if (p.value("point", "") == name) return p;
    }
    return json();
  }
  bool good(const std::string& device, const std::string& name) const {
    const json p = point(device, name);
    return p.is_object() && p["quality"] == "good" && p["value"].is_number();
  }
  double value(const std::string& device, const std::string& name) const {
    const json p = point(device, name);
    return p.is_object() && p["value"].is_number() ? p["value"].get<double>() : -1e300;
  }
  // One bus of /api/v1/buses (null when absent).
  json bus(const std::string& id) const {
    for (const auto& b : get("/api/v1/buses")) {
      if (b.value("id", "") == id) return b;
    }
    return json();
  }
  // Stored rows of a point (the raw tier over the last minute).
  json history(const std::string& device, const std::string& name) const {
    const std::int64_t now = now_ms();
    return get("/api/v1/points/" + device + "/" + name + "/history?from=" +
               std::to_string(now - 60'000) + "&to=" + std::to_string(now + 1'000));
  }

  int stop() {
    proc_->signal(SIGTERM);
    return proc_->wait();
  }

 private:
  int check_rc_ = -1;
  std::string check_log_;
  std::string token_;
  std::unique_ptr<ChildProcess> proc_;
  std::uint16_t port_ = 0;
  bool ready_ = false;
};

json unit_of(const json& bus, int unit) {
  if (!bus.is_object()) return json();
  for (const auto& u : bus["units"]) {
    if (u["unit"] == unit) return u;
  }
  return json();
}

json device_of(const json& bus, const std::string& id) {
  if (!bus.is_object()) return json();
  for (const auto& d : bus["devices"]) {
    if (d["id"] == id) return d;
  }
  return json();
}

std::int64_t error_count(const json& bus) {
  std::int64_t n = 0;
  for (const auto& [kind, count] : bus["errors"].items()) n += count.get<std::int64_t>();
  return n;
}

std::string tcp_bus(const std::string& id, int port) {
  return "[[buses]]\nid = \"" + id + "\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\ntimeout = \"300ms\"\n";
}

std::string device(const std::string& id, const std::string& kind, const std::string& bus,
                   int unit, const std::string& profile) {
  return "[[devices]]\nid = \"" + id + "\"\nkind = \"" + kind + "\"\nbus = \"" + bus +
         "\"\nunit_id = " + std::to_string(unit) + "\nprofile = \"" + profile + "\"\n";
}

// ---------------------------------------------------------------------------------------------
// Interop: modbus-serial

// A server child process that prints "listening PORT" once bound; stopped when the object dies.
class NodeServer {
 public:
  explicit NodeServer(std::vector<std::string> argv) : proc_(std::move(argv)) {
    if (const auto m = proc_.wait_for_log(std::regex(R"(listening (\d+)\n)"))) {
      port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
    }
  }
  ~NodeServer() {
    proc_.signal(SIGTERM);
    proc_.wait();
  }
  std::optional<std::uint16_t> port() const { return port_; }
  std::string log() const { return proc_.log(); }

 private:
  ChildProcess proc_;
  std::optional<std::uint16_t> port_;
};

TEST(BuildingInterop, PollsASunSpecInverterWeDidNotWrite) {
  const auto node = find_on_path("node");
  ASSERT_TRUE(node) << "node is not on PATH: run scripts/bootstrap";
  const auto interop = kSourceDir / "tests/interop";
  ASSERT_TRUE(std::filesystem::exists(interop / "node_modules/modbus-serial/package.json"))
      << "tests/interop/node_modules is missing: run scripts/bootstrap (it runs npm ci there)";
  // Unit 3, SunSpec at 50000: discovery must try 40000 and 0 first (exception 2 from both).
  NodeServer server({node->string(), (interop / "sunspec_inverter_server.js").string(), "0",
                     "--unit", "3", "--base", "50000"});
  ASSERT_TRUE(server.port()) << server.log();

  TempDir dir;
  Gateway gw(dir.path(), tcp_bus("js", *server.port()) + device("inv", "inverter", "js", 3, "sunspec"));
  ASSERT_TRUE(gw.ready()) << gw.why();

  ASSERT_TRUE(eventually(10s, [&] { return gw.good("inv", "inverter_three_phase.W"); }))
      << gw.get("/api/v1/buses").dump(1) << "\n" << gw.log() << "\n" << server.log();
  EXPECT_TRUE(eventually(3s, [&] { return gw.device("inv").value("online", false); }))
      << gw.device("inv").dump();

  // Discovered at 50000, the vendor model kept in the chain (skipped by its length).
  const json bus = gw.bus("js");
  ASSERT_TRUE(bus.is_object());
  EXPECT_EQ(bus["type"], "tcp");
  EXPECT_TRUE(bus["connected"].get<bool>());
  const json dev = device_of(bus, "inv");
  EXPECT_TRUE(dev["sunspec_discovered"].get<bool>()) << dev.dump();
  EXPECT_EQ(dev["sunspec_models"], json({1, 64900, 103})) << dev.dump();
  EXPECT_TRUE(unit_of(bus, 3)["online"].get<bool>()) << bus.dump(1);

  // Values are the raw registers times 10^SF, with the SunSpec units.
  const json w = gw.point("inv", "inverter_three_phase.W");
  EXPECT_EQ(w["unit"], "W");
  EXPECT_NEAR(w["value"].get<double>(), 543.2, 1e-9);  // 5432, W_SF -1
  auto expect_point = [&](const std::string& name, double expected) {
    const json p = gw.point("inv", "inverter_three_phase." + name);
    ASSERT_TRUE(p.is_object()) << name;
    EXPECT_EQ(p["quality"], "good") << name << ": " << p.dump();
    ASSERT_TRUE(p["value"].is_number()) << name << ": " << p.dump();
    EXPECT_NEAR(p["value"].get<double>(), expected, 1e-9) << name;
  };
  expect_point("A", 2.37);        // 237, A_SF -2
  expect_point("PhVphA", 230.1);  // 2301, V_SF -1
  expect_point("PhVphC", 230.3);
  expect_point("PPVphAB", 398.5);
  expect_point("Hz", 49.98);  // 4998, Hz_SF -2
  expect_point("VA", 545.0);
  expect_point("PF", 99.7);
  expect_point("DCW", 558.0);
  expect_point("TmpCab", 38.5);
  expect_point("St", 4.0);
  EXPECT_EQ(gw.point("inv", "inverter_three_phase.Hz")["unit"], "Hz");
  // Model 1: DA is the unit id the device says it has.
  EXPECT_EQ(gw.value("inv", "common.DA"), 3.0);
  // 0x8000 in an int16 point is "not implemented": missing, never a number.
  const json sink = gw.point("inv", "inverter_three_phase.TmpSnk");
  ASSERT_TRUE(sink.is_object());
  EXPECT_EQ(sink["quality"], "missing") << sink.dump();
  EXPECT_TRUE(sink["value"].is_null()) << sink.dump();

  // The lifetime energy (acc32 x 10^1) moves: the daemon keeps polling, and scales each read.
  const double wh0 = gw.value("inv", "inverter_three_phase.WH");
  EXPECT_GE(wh0, 1'234'560.0);
  EXPECT_EQ(std::fmod(wh0, 10.0), 0.0) << wh0;
  EXPECT_TRUE(eventually(5s, [&] { return gw.value("inv", "inverter_three_phase.WH") >= wh0 + 20; }))
      << gw.point("inv", "inverter_three_phase.WH").dump();

  // Stored: rows of the inverter's power, every one at the scaled value.
  json h;
  ASSERT_TRUE(eventually(5s, [&] {
    h = gw.history("inv", "inverter_three_phase.W");
    return h.is_object() && h["rows"].size() >= 2;
  })) << h.dump();
  EXPECT_EQ(h["unit"], "W");
  for (const auto& row : h["rows"]) EXPECT_NEAR(row["last"].get<double>(), 543.2, 1e-9) << row.dump();

  const json after = gw.bus("js");
  EXPECT_GT(after["requests"].get<std::int64_t>(), 5);
  // The only errors: "illegal address" from 40000 and 0, where discovery looked for "SunS" first.
  EXPECT_EQ(after["errors"], json({{"exception", 2}})) << after.dump(1);
  EXPECT_EQ(gw.stop(), 0) << gw.log();
}

}  // namespace
}  // namespace gridlet

#ifdef DEVSIM_PATH

namespace gridlet {
namespace {

using gridlet::testing::Devsim;
using gridlet::testing::PtyPair;
namespace mb = gridlet::adapters::modbus;

constexpr std::uint16_t kFaultMode = 64000;
constexpr std::uint16_t kFaultRequests = 64004;

// A Modbus TCP client of our own to devsim's fault registers, beside the daemon's connection.
class FaultClient {
 public:
  explicit FaultClient(int port) : bus_(settings(port)) {}

  mb::Response run(mb::Request r) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<mb::Response> out;
    bus_.submit(std::move(r), [&](const mb::Response& resp) {
      std::lock_guard lock(mu);
      out = resp;
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return out.has_value(); });
    return out.value_or(mb::Response{mb::Outcome::kRefused, 0, {}, {}, 0});
  }
  bool write(std::uint8_t unit, std::uint16_t address, std::vector<std::uint16_t> values) {
    mb::Request r;
    r.op = mb::Request::Op::kWriteRegisters;
    r.unit = unit;
    r.address = address;
    r.values = std::move(values);
    return run(std::move(r)).outcome == mb::Outcome::kOk;
  }
  // Requests the unit has received (devsim counts them, fault block excluded); -1 on failure.
  std::int64_t requests(std::uint8_t unit) {
    mb::Request r;
    r.unit = unit;
    r.address = kFaultRequests;
    r.count = 2;
    const auto resp = run(std::move(r));
    if (resp.outcome != mb::Outcome::kOk || resp.registers.size() != 2) return -1;
    return (std::int64_t{resp.registers[0]} << 16) | resp.registers[1];
  }

 private:
  static mb::BusSettings settings(int port) {
    mb::BusSettings s;
    s.id = "faults";
    s.host = "127.0.0.1";
    s.port = static_cast<std::uint16_t>(port);
    s.timeout = 1000ms;
    // The fault block always answers: never hold its reads or writes back.
    s.backoff_initial = 1ms;
    s.quiet_factor = 0;
    return s;
  }
  mb::Bus bus_;
};

TEST(BuildingDevsim, TcpAndRtuBusesOfOneBuildingAreOnlineReadAndStored) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/socat")) << "socat is missing: run scripts/bootstrap";
  TempDir dir;
  // The house: inverter, battery and grid meter on the LAN, all SunSpec, at midday.
  Devsim lan({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "2=battery",
              "--device", "3=meter", "--start-hour", "12", "--seed", "7"});
  const auto port = lan.tcp_port();
  ASSERT_TRUE(port) << lan.log();
  // The sub-meter on an RS-485 line: an SDM630 at unit 7, 38400 baud, even parity.
  PtyPair pty(dir.path());
  ASSERT_TRUE(pty.ready());
  Devsim line({"--rtu", pty.device_end(), "--baud", "38400", "--parity", "E", "--device", "7=sdm630",
               "--start-hour", "12", "--seed", "8"});
  ASSERT_TRUE(line.rtu_ready()) << line.log();

  const std::string rtu_bus = "[[buses]]\nid = \"rs485\"\ntype = \"rtu\"\ndevice = \"" +
                              pty.client_end() +
                              "\"\nbaud = 38400\nparity = \"E\"\nframe_gap = \"10ms\"\ntimeout = \"500ms\"\n";
  Gateway gw(dir.path(),
             tcp_bus("lan", *port) + rtu_bus + device("pv", "inverter", "lan", 1, "sunspec") +
                 device("bat", "battery", "lan", 2, "sunspec") +
                 device("grid", "meter", "lan", 3, "sunspec") +
                 device("sub", "meter", "rs485", 7,
                        (kSourceDir / "configs/profiles/sdm630.toml").string()));
  ASSERT_TRUE(gw.ready()) << gw.why();

  ASSERT_TRUE(eventually(12s, [&] {
    return gw.good("pv", "inverter_three_phase.W") && gw.good("bat", "battery.SoC") &&
           gw.good("bat", "battery.W") && gw.good("bat", "storage_basic.ChaState") &&
           gw.good("grid", "ac_meter_abcn.W") && gw.good("sub", "power_total_w") &&
           gw.good("sub", "frequency_hz");
  })) << gw.get("/api/v1/points").dump(1) << "\n" << gw.get("/api/v1/buses").dump(1) << "\n" << gw.log();

  // All four online: the registry follows the buses (every second).
  json devices;
  EXPECT_TRUE(eventually(3s, [&] {
    devices = gw.get("/api/v1/devices");
    int online = 0;
    for (const auto& d : devices) online += d.value("online", false) ? 1 : 0;
    return devices.size() == 4 && online == 4;
  })) << devices.dump(1);
  for (const auto& d : devices) {
    EXPECT_TRUE(d["last_seen_ms"].is_number()) << d.dump();
    EXPECT_EQ(d["errors"], 0) << d.dump();
  }

  // Physics, loosely. Midday: the inverter produces, the battery charges from the surplus
  // (802: positive W = discharging), and what the house draws (PV + battery + grid import) is a
  // house's load. The SDM630 sends its total as the sum of its phases.
  const double pv_w = gw.value("pv", "inverter_three_phase.W");
  const double bat_w = gw.value("bat", "battery.W");
  const double grid_w = gw.value("grid", "ac_meter_abcn.W");
  EXPECT_GT(pv_w, 1000.0);
  EXPECT_LE(pv_w, 5000.0);
  const double soc = gw.value("bat", "battery.SoC");
  EXPECT_GT(soc, 0.0);
  EXPECT_LE(soc, 100.0);
  const double load_w = pv_w + bat_w + grid_w;
  EXPECT_GT(load_w, 100.0) << "pv " << pv_w << " battery " << bat_w << " grid " << grid_w;
  EXPECT_LT(load_w, 3000.0) << "pv " << pv_w << " battery " << bat_w << " grid " << grid_w;
  // The battery's charge energy, integrated from its power (it has no counter of its own).
  EXPECT_TRUE(eventually(10s, [&] {
    return gw.good("bat", "integrated.charge_energy") && gw.value("bat", "integrated.charge_energy") > 0;
  }));
  EXPECT_EQ(gw.point("bat", "integrated.charge_energy")["unit"], "Wh");
  EXPECT_NEAR(gw.value("sub", "frequency_hz"), 50.0, 1.0);
  EXPECT_NEAR(gw.value("sub", "voltage_l1_v"), 230.0, 23.0);
  const double l1 = gw.value("sub", "power_l1_w"), l2 = gw.value("sub", "power_l2_w"),
               l3 = gw.value("sub", "power_l3_w");
  EXPECT_NE(gw.value("sub", "power_total_w"), 0.0);
  EXPECT_NEAR(gw.value("sub", "power_total_w"), l1 + l2 + l3, 50.0);
  EXPECT_EQ(gw.point("sub", "power_total_w")["unit"], "W");
  EXPECT_EQ(gw.point("pv", "inverter_three_phase.W")["unit"], "W");

  // Both buses, with traffic, no errors, and every unit online.
  const json tcp = gw.bus("lan");
  const json rtu = gw.bus("rs485");
  ASSERT_TRUE(tcp.is_object()) << gw.get("/api/v1/buses").dump(1);
  ASSERT_TRUE(rtu.is_object()) << gw.get("/api/v1/buses").dump(1);
  EXPECT_EQ(tcp["type"], "tcp");
  EXPECT_EQ(tcp["endpoint"], "127.0.0.1:" + std::to_string(*port));
  EXPECT_EQ(rtu["type"], "rtu");
  EXPECT_EQ(rtu["endpoint"], pty.client_end());
  for (const json* b : {&tcp, &rtu}) {
    EXPECT_TRUE((*b)["connected"].get<bool>()) << b->dump(1);
    EXPECT_GT((*b)["requests"].get<std::int64_t>(), 0) << b->dump(1);
    EXPECT_GT((*b)["ok"].get<std::int64_t>(), 0) << b->dump(1);
    EXPECT_EQ(error_count(*b), 0) << b->dump(1);
  }
  for (const int u : {1, 2, 3}) {
    const json unit = unit_of(tcp, u);
    ASSERT_TRUE(unit.is_object()) << u << ": " << tcp.dump(1);
    EXPECT_TRUE(unit["online"].get<bool>()) << unit.dump();
    EXPECT_GT(unit["requests"].get<std::int64_t>(), 0) << unit.dump();
    EXPECT_EQ(unit["backoff_until_ms"], 0) << unit.dump();
  }
  ASSERT_EQ(rtu["units"].size(), 1u) << rtu.dump(1);
  EXPECT_TRUE(unit_of(rtu, 7)["online"].get<bool>()) << rtu.dump(1);
  EXPECT_EQ(device_of(tcp, "pv")["sunspec_models"], json({1, 103, 120, 123, 160}));
  EXPECT_EQ(device_of(tcp, "bat")["sunspec_models"], json({1, 124, 713, 802}));
  EXPECT_EQ(device_of(tcp, "grid")["sunspec_models"], json({1, 203}));
  EXPECT_EQ(device_of(rtu, "sub")["profile"], "eastron-sdm630");
  EXPECT_EQ(device_of(rtu, "sub")["poll_failures"], 0) << rtu.dump(1);
  EXPECT_TRUE(device_of(tcp, "sub").is_null()) << "a device is listed under its own bus only";

  // Stored in SQLite: a point of each bus has several rows (polled every second, committed every
  // 100 ms), with the values the API showed.
  json pv_rows, sub_rows;
  ASSERT_TRUE(eventually(8s, [&] {
    pv_rows = gw.history("pv", "inverter_three_phase.W");
    sub_rows = gw.history("sub", "power_total_w");
    return pv_rows.is_object() && sub_rows.is_object() && pv_rows["rows"].size() >= 3 &&
           sub_rows["rows"].size() >= 3;
  })) << pv_rows.dump() << "\n" << sub_rows.dump();
  EXPECT_EQ(pv_rows["tier"], "raw");
  EXPECT_EQ(sub_rows["unit"], "W");
  for (const auto& row : pv_rows["rows"]) {
    EXPECT_GT(row["last"].get<double>(), 0.0) << row.dump();
  }
  std::int64_t previous = 0;
  for (const auto& row : sub_rows["rows"]) {
    EXPECT_NE(row["last"].get<double>(), 0.0) << row.dump();
    EXPECT_GT(row["t"].get<std::int64_t>(), previous) << "one row per poll, in time order";
    previous = row["t"].get<std::int64_t>();
  }

  EXPECT_EQ(gw.stop(), 0) << gw.log();
}

TEST(BuildingDevsim, UnitThatDisappearsIsOfflineWhileItsNeighbourKeepsGoingThenReturns) {
  Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "3=meter",
              "--start-hour", "12"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  TempDir dir;
  Gateway gw(dir.path(), tcp_bus("lan", *port) + device("pv", "inverter", "lan", 1, "sunspec") +
                             device("grid", "meter", "lan", 3, "sunspec"));
  ASSERT_TRUE(gw.ready()) << gw.why();
  ASSERT_TRUE(eventually(8s, [&] {
    return gw.good("pv", "inverter_three_phase.W") && gw.good("grid", "ac_meter_abcn.W") &&
           gw.device("pv").value("online", false) && gw.device("grid").value("online", false);
  })) << gw.get("/api/v1/devices").dump(1) << "\n" << gw.log();

  // The inverter goes silent (mode 6, "disappear", for up to an hour) until we clear it.
  FaultClient faults(*port);
  ASSERT_TRUE(faults.write(1, kFaultMode, {6, 3600}));
  const std::int64_t gone_at = now_ms();

  // Offline in both views: the bus backs off, the registry says so with the reason.
  ASSERT_TRUE(eventually(6s, [&] {
    const json unit = unit_of(gw.bus("lan"), 1);
    return unit.is_object() && !unit["online"].get<bool>() &&
           unit["backoff_until_ms"].get<std::int64_t>() > 0 &&
           !gw.device("pv").value("online", true);
  })) << gw.get("/api/v1/buses").dump(1) << "\n" << gw.get("/api/v1/devices").dump(1);
  const json pv_dev = gw.device("pv");
  EXPECT_GT(pv_dev["errors"].get<std::int64_t>(), 0) << pv_dev.dump();
  EXPECT_TRUE(pv_dev["last_error"].is_string()) << pv_dev.dump();
  const std::int64_t asked_when_offline = faults.requests(1);
  ASSERT_GE(asked_when_offline, 0);

  // Its readings turn to "error" at the first failed read (never a last good value shown as
  // current), while the meter next to it on the same connection keeps fresh, good readings.
  const std::int64_t grid_t0 = gw.point("grid", "ac_meter_abcn.W")["timestamp_ms"].get<std::int64_t>();
  ASSERT_TRUE(eventually(10s, [&] {
    return gw.point("pv", "inverter_three_phase.W")["quality"] == "error";
  })) << gw.point("pv", "inverter_three_phase.W").dump();
  const json pv_w = gw.point("pv", "inverter_three_phase.W");
  EXPECT_TRUE(pv_w["value"].is_null()) << pv_w.dump();
  EXPECT_GE(pv_w["timestamp_ms"].get<std::int64_t>(), gone_at) << pv_w.dump();
  json grid_w;
  EXPECT_TRUE(eventually(3s, [&] {
    grid_w = gw.point("grid", "ac_meter_abcn.W");
    return grid_w["quality"] == "good" && grid_w["timestamp_ms"].get<std::int64_t>() > grid_t0 &&
           grid_w["timestamp_ms"].get<std::int64_t>() >= now_ms() - 2500;  // polled every second
  })) << grid_w.dump();
  EXPECT_TRUE(gw.device("grid").value("online", false));
  // Backing off, the daemon hardly asks the silent unit: a probe per backoff period (2 s, 4 s).
  const std::int64_t asked_while_gone = faults.requests(1) - asked_when_offline;
  EXPECT_LE(asked_while_gone, 4) << "requests to the silent unit while it was offline";

  // It returns: the next probe finds it, readings are good and fresh, the device is online.
  ASSERT_TRUE(faults.write(1, kFaultMode, {0, 0}));
  const std::int64_t back_at = now_ms();
  ASSERT_TRUE(eventually(12s, [&] {
    const json p = gw.point("pv", "inverter_three_phase.W");
    return p["quality"] == "good" && p["timestamp_ms"].get<std::int64_t>() >= back_at &&
           gw.device("pv").value("online", false);
  })) << gw.point("pv", "inverter_three_phase.W").dump() << "\n" << gw.get("/api/v1/buses").dump(1);
  const json unit = unit_of(gw.bus("lan"), 1);
  EXPECT_TRUE(unit["online"].get<bool>()) << unit.dump();
  EXPECT_EQ(unit["backoff_until_ms"], 0) << unit.dump();
  EXPECT_GT(gw.value("pv", "inverter_three_phase.W"), 0.0);
  EXPECT_TRUE(gw.good("grid", "ac_meter_abcn.W"));
  EXPECT_EQ(gw.stop(), 0) << gw.log();
}

}  // namespace
}  // namespace gridlet

#endif  // DEVSIM_PATH
