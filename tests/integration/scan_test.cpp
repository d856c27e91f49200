// `gatewayd scan` (adapters/modbus/scan.hpp): unit-list and target parsing, JSON and config output,
// and real scans on 127.0.0.1 against
//   - modbus-serial's TCP server (tests/interop/sunspec_server.js): a Modbus implementation we did
//     not write, answering unit 1 only (silence for the others);
//   - devsim (when built): inverter, battery, meter and an SDM630 over TCP (TCP-gateway exception 11
//     for absent unit ids) and over a socat pty pair (RTU: silence for absent unit ids);
//   - a port where nothing listens (the scan stops and says the bus failed).
// Servers print their port once bound; the tests wait for that line, never for a fixed time.
//
// Choice: scan() returns one result per probed unit id (answers = false for silent ones);
// to_json() and the config snippet list only the answering ones.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/modbus/scan.hpp"
#include "adapters/modbus/sunspec_discovery.hpp"
#include "adapters/modbus/sunspec_models.hpp"
#include "gateway/config/config.hpp"
#include "tests/integration/test_support.hpp"
#ifdef DEVSIM_PATH
#include "tests/integration/devsim_support.hpp"
#endif

namespace {

namespace mb = gridlet::adapters::modbus;
namespace sunspec = gridlet::adapters::sunspec;
using gridlet::testing::ChildProcess;
using namespace std::chrono_literals;
using gridlet::testing::find_on_path;

const std::filesystem::path kInteropDir = std::filesystem::path(GRIDLET_SOURCE_DIR) / "tests/interop";

// A server child process that prints its TCP port once bound; killed when the object dies.
class PortServer {
 public:
  PortServer(std::vector<std::string> argv, std::regex ready) : proc_(std::move(argv)) {
    if (const auto m = proc_.wait_for_log(ready)) port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
  }
  ~PortServer() {
    proc_.signal(SIGTERM);
    proc_.wait();
  }
  std::optional<std::uint16_t> port() const { return port_; }
  std::string log() const { return proc_.log(); }

 private:
  ChildProcess proc_;
  std::optional<std::uint16_t> port_;
};

mb::BusSettings tcp_bus(std::uint16_t port) {
  mb::BusSettings s;
  s.id = "scan-test";
  s.host = "127.0.0.1";
  s.port = port;
  return s;
}

mb::ScanOptions options_for(const std::string& units) {
  mb::ScanOptions o;
  const mb::UnitList list = mb::parse_unit_list(units);
  EXPECT_TRUE(list.ok()) << list.error;
  o.units = list.units;
  return o;
}

const mb::ScanResult* find_unit(const std::vector<mb::ScanResult>& results, int unit) {
  for (const auto& r : results) {
    if (r.unit == unit) return &r;
  }
  return nullptr;
}

// The snippet must be a valid part of a gatewayd configuration.
void expect_snippet_loads(const std::string& snippet, std::size_t devices) {
  const auto loaded =
      gridlet::config::load_config_string("[site]\nid = \"scan-test\"\n" + snippet, "snippet");
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.format() << "\n" << snippet;
  ASSERT_TRUE(loaded.config.has_value());
  EXPECT_EQ(loaded.config->buses.size(), 1U);
  EXPECT_EQ(loaded.config->devices.size(), devices) << snippet;
}

// ---------------------------------------------------------------------------------------------
// Parsing and formatting

TEST(ScanUnitList, ParsesSinglesRangesAndSpaces) {
  EXPECT_EQ(mb::parse_unit_list("1-247").units.size(), 247U);
  const auto l = mb::parse_unit_list(" 10-12, 3 ,1,3");
  ASSERT_TRUE(l.ok()) << l.error;
  EXPECT_EQ(l.units, (std::vector<std::uint8_t>{1, 3, 10, 11, 12}));  // sorted, no duplicates
  EXPECT_EQ(mb::parse_unit_list("5 - 6").units, (std::vector<std::uint8_t>{5, 6}));
  EXPECT_EQ(mb::parse_unit_list("247").units, (std::vector<std::uint8_t>{247}));
}

TEST(ScanUnitList, RejectsBadInputWithAMessage) {
  for (const char* bad : {"", " ", "0", "248", "1-248", "0-5", "12-3", "1,,2", "1,", ",1", "a",
                          "1-", "-1", "1-2-3", "1 2", "3x", "99999999999", "1;2"}) {
    const auto l = mb::parse_unit_list(bad);
    EXPECT_FALSE(l.ok()) << '"' << bad << '"';
    EXPECT_TRUE(l.units.empty()) << '"' << bad << '"';
  }
  EXPECT_NE(mb::parse_unit_list("300").error.find("1..247"), std::string::npos);
  EXPECT_NE(mb::parse_unit_list("1,x").error.find("\"x\""), std::string::npos);
}

TEST(ScanTarget, ParsesHostAndPort) {
  mb::BusSettings s;
  s.rtu = true;
  EXPECT_EQ(mb::parse_tcp_target("192.0.2.10", s), "");
  EXPECT_FALSE(s.rtu);
  EXPECT_EQ(s.host, "192.0.2.10");
  EXPECT_EQ(s.port, 502);
  EXPECT_EQ(mb::parse_tcp_target("inverter.local:1502", s), "");
  EXPECT_EQ(s.host, "inverter.local");
  EXPECT_EQ(s.port, 1502);
  EXPECT_EQ(mb::parse_tcp_target("[::1]:8502", s), "");
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 8502);
  EXPECT_EQ(mb::parse_tcp_target("fe80::1", s), "");
  EXPECT_EQ(s.host, "fe80::1");
  EXPECT_EQ(s.port, 502);
  for (const char* bad : {"", ":502", "host:", "host:0", "host:65536", "host:x", "[::1", "[::1]x",
                          "[]:502"}) {
    EXPECT_NE(mb::parse_tcp_target(bad, s), "") << bad;
  }
}

TEST(ScanJson, ListsAnsweringUnitsWithNulls) {
  std::vector<mb::ScanResult> results(3);
  results[0].unit = 1;
  results[0].answers = true;
  results[0].base = 40000;
  results[0].models = {1, 103, 160};
  results[0].manufacturer = "Acme \"Solar\"";
  results[0].model = "X\xff";  // invalid UTF-8 from a device
  results[0].serial = "S1";
  results[1].unit = 2;  // silent: not listed
  results[2].unit = 4;
  results[2].answers = true;  // answers, not SunSpec
  const std::string text = mb::to_json(results);
  const auto j = nlohmann::json::parse(text);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2U);
  EXPECT_EQ(j[0]["unit"], 1);
  EXPECT_EQ(j[0]["base"], 40000);
  EXPECT_EQ(j[0]["models"], nlohmann::json({1, 103, 160}));
  EXPECT_EQ(j[0]["manufacturer"], "Acme \"Solar\"");
  EXPECT_EQ(j[0]["model"], "X\xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(j[0]["serial"], "S1");
  EXPECT_EQ(j[1], nlohmann::json::parse(R"({"unit": 4, "base": null, "models": [],
      "manufacturer": null, "model": null, "serial": null})"));
  // Exactly the six keys, in the documented order.
  EXPECT_LT(text.find("\"unit\""), text.find("\"base\""));
  EXPECT_LT(text.find("\"base\""), text.find("\"models\""));
  EXPECT_EQ(j[0].size(), 6U);
  EXPECT_EQ(mb::to_json({}), "[]");
}

TEST(ScanKind, FollowsTheModelChain) {
  using V = std::vector<std::uint16_t>;
  EXPECT_EQ(mb::device_kind_for_models(V{1, 103, 120, 123, 160}), "inverter");
  EXPECT_EQ(mb::device_kind_for_models(V{1, 103, 124}), "inverter");  // hybrid
  EXPECT_EQ(mb::device_kind_for_models(V{1, 124, 713, 802}), "battery");
  EXPECT_EQ(mb::device_kind_for_models(V{1, 802}), "battery");
  EXPECT_EQ(mb::device_kind_for_models(V{1, 701, 704}), "inverter");
  EXPECT_EQ(mb::device_kind_for_models(V{1, 203}), "meter");
  EXPECT_EQ(mb::device_kind_for_models(V{1, 64110}), "other");
  EXPECT_EQ(mb::device_kind_for_models(V{}), "other");
}

TEST(ScanConfigSnippet, RtuBusAndEscapedNamesLoad) {
  std::vector<mb::ScanResult> results(2);
  results[0].unit = 7;
  results[0].answers = true;
  results[0].base = 0;
  results[0].models = {1, 203};
  results[0].manufacturer = "Quote\" and \\ back\nslash";
  results[1].unit = 9;
  results[1].answers = true;
  results[1].probe_reply = "exception 2";
  mb::BusSettings rtu;
  rtu.rtu = true;
  rtu.device = "/dev/ttyUSB0";
  rtu.baud = 19200;
  rtu.parity = 'E';
  const std::string snippet = mb::to_config_snippet(results, "RS485 line", rtu);
  EXPECT_NE(snippet.find("id = \"rs485-line-meter-7\""), std::string::npos) << snippet;
  EXPECT_NE(snippet.find("# unit 9 answers (exception 2) but is not SunSpec"), std::string::npos)
      << snippet;
  expect_snippet_loads(snippet, 1);
}

// ---------------------------------------------------------------------------------------------
// Against modbus-serial (an implementation we did not write)

TEST(ScanInterop, FindsTheSunSpecInverterOfModbusSerial) {
  const auto node = find_on_path("node");
  ASSERT_TRUE(node) << "node is not on PATH: run scripts/bootstrap";
  ASSERT_TRUE(std::filesystem::exists(kInteropDir / "node_modules/modbus-serial/package.json"))
      << "tests/interop/node_modules is missing: run scripts/bootstrap (it runs npm ci there)";
  PortServer server({node->string(), (kInteropDir / "sunspec_server.js").string(), "0"},
                    std::regex(R"(listening (\d+)\n)"));
  ASSERT_TRUE(server.port()) << server.log();

  const auto settings = tcp_bus(*server.port());
  auto options = options_for("1-3");
  std::vector<std::size_t> progress;
  options.progress = [&](const mb::ScanResult&, std::size_t done, std::size_t total) {
    EXPECT_EQ(total, 3U);
    progress.push_back(done);
  };
  const auto results = mb::scan(settings, options);
  EXPECT_EQ(progress, (std::vector<std::size_t>{1, 2, 3}));
  ASSERT_EQ(results.size(), 3U);
  EXPECT_FALSE(mb::scan_bus_failed(results));

  const auto& r1 = results[0];
  EXPECT_EQ(r1.unit, 1);
  EXPECT_TRUE(r1.answers);
  EXPECT_EQ(r1.probe_reply, "registers");
  EXPECT_EQ(r1.base, std::optional<std::uint16_t>(40000));
  EXPECT_EQ(r1.models, (std::vector<std::uint16_t>{1, 103}));
  EXPECT_EQ(r1.manufacturer, std::optional<std::string>("InteropCo"));
  EXPECT_EQ(r1.model, std::optional<std::string>("JS-Inverter"));
  EXPECT_EQ(r1.serial, std::optional<std::string>("JS123"));
  EXPECT_EQ(r1.version, std::optional<std::string>("2.1.0"));
  EXPECT_EQ(r1.error, "") << server.log();
  // modbus-serial does not reply at all for other unit ids: absent after the probe timeout.
  for (const int u : {2, 3}) {
    const auto* r = find_unit(results, u);
    ASSERT_NE(r, nullptr);
    EXPECT_FALSE(r->answers) << u;
    EXPECT_EQ(r->probe_reply, "timeout") << u;
    EXPECT_FALSE(r->base) << u;
  }

  const auto j = nlohmann::json::parse(mb::to_json(results));
  EXPECT_EQ(j, nlohmann::json::parse(R"([{"unit": 1, "base": 40000, "models": [1, 103],
      "manufacturer": "InteropCo", "model": "JS-Inverter", "serial": "JS123"}])"));
  expect_snippet_loads(mb::to_config_snippet(results, "interop", settings), 1);

  // Our model 103 table decodes their registers (offsets typed in from the SunSpec definition).
  mb::Bus bus(mb::scan_bus_settings(settings, options), /*start_worker=*/false);
  mb::UnitRegisterReader reader(bus, 1);
  const auto d = sunspec::discover(reader);
  ASSERT_TRUE(d.complete()) << sunspec::to_string(d.error);
  ASSERT_EQ(d.models.size(), 2U);
  EXPECT_EQ(d.models[1].length_check, sunspec::LengthCheck::kOk);
  std::vector<std::uint16_t> block;
  ASSERT_TRUE(sunspec::read_model(reader, d.models[1], block).is_ok());
  const auto* def = sunspec::find_model(103);
  ASSERT_NE(def, nullptr);
  const auto m103 = sunspec::decode_model(*def, block);
  auto value = [&](std::string_view path) -> std::optional<double> {
    const auto* p = m103.find(path);
    return p == nullptr ? std::nullopt : p->value;
  };
  EXPECT_EQ(value("W"), std::optional<double>(4200.0));
  ASSERT_TRUE(value("Hz"));
  EXPECT_NEAR(*value("Hz"), 50.0, 1e-9);
  ASSERT_TRUE(value("PhVphA"));
  EXPECT_NEAR(*value("PhVphA"), 230.0, 1e-9);
  EXPECT_EQ(value("WH"), std::optional<double>(12345678.0));
  EXPECT_EQ(value("St"), std::optional<double>(4.0));
  ASSERT_NE(m103.find("TmpSnk"), nullptr);
  EXPECT_FALSE(m103.find("TmpSnk")->present);  // 0x8000: not implemented
}

TEST(ScanInterop, CommandPrintsJsonAndExitsZero) {
  const auto node = find_on_path("node");
  ASSERT_TRUE(node) << "node is not on PATH: run scripts/bootstrap";
  ASSERT_TRUE(std::filesystem::exists(kInteropDir / "node_modules/modbus-serial/package.json"))
      << "tests/interop/node_modules is missing: run scripts/bootstrap (it runs npm ci there)";
  PortServer server({node->string(), (kInteropDir / "sunspec_server.js").string(), "0"},
                    std::regex(R"(listening (\d+)\n)"));
  ASSERT_TRUE(server.port()) << server.log();

  mb::ScanCommand cmd;
  cmd.bus = tcp_bus(*server.port());
  cmd.units = "1,2";
  cmd.output = mb::ScanCommand::Output::kJson;
  std::ostringstream out, err;
  EXPECT_EQ(mb::run_scan_command(cmd, out, err), 0) << err.str();
  const auto j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.size(), 1U) << out.str();
  EXPECT_EQ(j[0]["unit"], 1);
  EXPECT_NE(err.str().find("scan: unit 1 answers, SunSpec at 40000 (models 1,103)"),
            std::string::npos)
      << err.str();

  cmd.output = mb::ScanCommand::Output::kTable;
  cmd.units = "1";
  std::ostringstream table, err2;
  EXPECT_EQ(mb::run_scan_command(cmd, table, err2), 0) << err2.str();
  EXPECT_NE(table.str().find("InteropCo"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("1 unit ids probed: 1 answer, 1 SunSpec"), std::string::npos)
      << table.str();

  cmd.units = "0-3";
  std::ostringstream out3, err3;
  EXPECT_EQ(mb::run_scan_command(cmd, out3, err3), 2);
  EXPECT_NE(err3.str().find("--units"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// A bus that fails: nothing listens on the port

TEST(ScanBusFailure, RefusedConnectionStopsTheScan) {
  // A bound socket that never listens: connections to its port are refused, and no other
  // process can take the port while the test runs.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  mb::ScanCommand cmd;
  cmd.bus = tcp_bus(ntohs(addr.sin_port));
  cmd.units = "1-3";
  cmd.output = mb::ScanCommand::Output::kJson;
  std::ostringstream out, err;
  EXPECT_EQ(mb::run_scan_command(cmd, out, err), 1);
  EXPECT_EQ(out.str(), "[]\n");
  EXPECT_NE(err.str().find("bus failed (io_error) probing unit 1"), std::string::npos) << err.str();

  const auto results = mb::scan(cmd.bus, options_for("1-3"));
  ASSERT_EQ(results.size(), 3U);
  for (const auto& r : results) {
    EXPECT_FALSE(r.answers);
    EXPECT_TRUE(r.bus_failed);
  }
  EXPECT_EQ(results[1].probe_reply, "not probed");
  ::close(fd);
}

// ---------------------------------------------------------------------------------------------
// Against devsim

#ifdef DEVSIM_PATH
TEST(ScanDevsim, FindsEveryDeviceKindOverTcp) {
  gridlet::testing::Devsim sim({"--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device",
                                "2=battery", "--device", "3=meter", "--device", "4=sdm630"});
  const auto port = sim.tcp_port();
  ASSERT_TRUE(port) << sim.log();
  const auto settings = tcp_bus(static_cast<std::uint16_t>(*port));
  const auto results = mb::scan(settings, options_for("1-5"));
  ASSERT_EQ(results.size(), 5U);
  EXPECT_FALSE(mb::scan_bus_failed(results));

  using Models = std::vector<std::uint16_t>;
  const std::vector<std::pair<int, Models>> expected = {
      {1, {1, 103, 120, 123, 160}}, {2, {1, 124, 713, 802}}, {3, {1, 203}}};
  for (const auto& [unit, models] : expected) {
    const auto* r = find_unit(results, unit);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->answers) << unit;
    EXPECT_EQ(r->base, std::optional<std::uint16_t>(40000)) << unit;
    EXPECT_EQ(r->models, models) << unit;
    EXPECT_EQ(r->manufacturer, std::optional<std::string>("Gridlet")) << unit;
    EXPECT_TRUE(r->model.has_value()) << unit;
    EXPECT_EQ(r->error, "") << unit;
  }
  EXPECT_EQ(results[0].serial, std::optional<std::string>("DS-INV-1"));

  // The SDM630 answers (exception 2 for 40000) but is not SunSpec.
  const auto& sdm = results[3];
  EXPECT_TRUE(sdm.answers);
  EXPECT_EQ(sdm.probe_reply, "exception 2");
  EXPECT_FALSE(sdm.base);
  EXPECT_TRUE(sdm.models.empty());
  EXPECT_FALSE(sdm.manufacturer);
  // Nobody behind unit 5: devsim answers as a TCP gateway does, with exception 11.
  EXPECT_FALSE(results[4].answers);
  EXPECT_EQ(results[4].probe_reply, "gateway exception 11");

  const auto j = nlohmann::json::parse(mb::to_json(results));
  ASSERT_EQ(j.size(), 4U);
  EXPECT_EQ(j[0]["models"], nlohmann::json({1, 103, 120, 123, 160}));
  EXPECT_EQ(j[3], nlohmann::json::parse(R"({"unit": 4, "base": null, "models": [],
      "manufacturer": null, "model": null, "serial": null})"));

  const std::string snippet = mb::to_config_snippet(results, "lan", settings);
  expect_snippet_loads(snippet, 3);
  const auto cfg = gridlet::config::load_config_string("[site]\nid = \"t\"\n" + snippet, "snippet");
  ASSERT_TRUE(cfg.config);
  ASSERT_EQ(cfg.config->devices.size(), 3U);
  EXPECT_EQ(cfg.config->devices[0].kind, gridlet::adapters::DeviceKind::kInverter);
  EXPECT_EQ(cfg.config->devices[1].kind, gridlet::adapters::DeviceKind::kBattery);
  EXPECT_EQ(cfg.config->devices[2].kind, gridlet::adapters::DeviceKind::kMeter);
  EXPECT_EQ(cfg.config->devices[2].unit_id, 3);
  EXPECT_EQ(cfg.config->devices[2].profile, "sunspec");
  EXPECT_NE(snippet.find("# unit 4 answers (exception 2) but is not SunSpec"), std::string::npos)
      << snippet;
}

// The real serial code path: devsim on one end of a socat pty pair, the scan on the other.
// Absent unit ids are silence on a serial line (the probe times out).
TEST(ScanDevsim, FindsDevicesOnAnRtuLine) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/socat")) << "socat is missing: run scripts/bootstrap";
  gridlet::testing::TempDir dir;
  gridlet::testing::PtyPair pty(dir.path());
  ASSERT_TRUE(pty.ready());
  gridlet::testing::Devsim sim({"--rtu", pty.device_end(), "--baud", "19200", "--parity", "E",
                                "--device", "2=battery", "--device", "4=sdm630"});
  ASSERT_TRUE(sim.rtu_ready()) << sim.log();

  // One scan only: socat ends the pair when the client end is closed.
  mb::BusSettings rtu;
  rtu.id = "rs485";
  rtu.rtu = true;
  rtu.device = pty.client_end();
  rtu.baud = 19200;
  rtu.parity = 'E';
  const auto results = mb::scan(rtu, options_for("1-4"));
  ASSERT_EQ(results.size(), 4U);
  EXPECT_FALSE(mb::scan_bus_failed(results));
  EXPECT_EQ(results[0].probe_reply, "timeout");
  const auto j = nlohmann::json::parse(mb::to_json(results));
  EXPECT_EQ(j, nlohmann::json::parse(R"([
      {"unit": 2, "base": 40000, "models": [1, 124, 713, 802], "manufacturer": "Gridlet",
       "model": "devsim battery", "serial": "DS-BAT-2"},
      {"unit": 4, "base": null, "models": [], "manufacturer": null, "model": null, "serial": null}
    ])")) << mb::to_json(results);

  const std::string snippet = mb::to_config_snippet(results, "rs485", rtu);
  EXPECT_NE(snippet.find("parity = \"E\""), std::string::npos) << snippet;
  EXPECT_NE(snippet.find("kind = \"battery\""), std::string::npos) << snippet;
  expect_snippet_loads(snippet, 1);
}
#endif

}  // namespace
