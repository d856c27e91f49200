// Commissioning scan: which unit ids on one Modbus bus answer, and which of them are SunSpec
// devices (base address, model chain, identity from model 1). Used by `gatewayd scan`.
//
// For each unit id: one probe read of a single holding register (default at 40000) with a short
// timeout. Any reply counts as "answers", a Modbus exception included, except the gateway
// exceptions 10 and 11 (a TCP gateway saying there is nobody behind that unit id). A timeout means
// absent. Answering units then get a full SunSpec discovery (bases 40000, 0, 50000).
//
// Everything here is synchronous and runs on the caller's thread, over a Bus built without a
// worker (Bus(settings, false)). Scanning 247 absent units costs 247 x probe_timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/unit_register_reader.hpp"
#include "adapters/modbus/sunspec_discovery.hpp"

namespace gridlet::adapters::modbus {

// Unit ids a scan may address: 0 is broadcast (nobody replies), 248..255 are reserved.
inline constexpr int kMinScanUnit = 1;
inline constexpr int kMaxScanUnit = 247;

// Result of parsing a unit list such as "1-247" or "1,3,10-12".
struct UnitList {
  std::vector<std::uint8_t> units;  // ascending, no duplicates
  std::string error;                // empty when the text was valid (then units is not empty)
  bool ok() const { return error.empty(); }
};

// Comma-separated items, each a unit id N or an inclusive range A-B (A <= B), all in 1..247;
// spaces around items and dashes are allowed. Anything else is an error naming the bad item.
UnitList parse_unit_list(std::string_view text);

// Parses "HOST", "HOST:PORT", "[IPv6]" or "[IPv6]:PORT" (port 1..65535, default 502) into
// settings.host / settings.port and clears settings.rtu. Returns an error message, or "" when valid.
std::string parse_tcp_target(std::string_view text, BusSettings& settings);


struct ScanResult {
  std::uint8_t unit = 0;
  bool answers = false;     // replied to the probe (a Modbus exception counts, 10/11 do not)
  std::string probe_reply;  // "registers", "exception 2", "timeout", "gateway exception 11", ...
  std::optional<std::uint16_t> base;  // SunSpec base address; nullopt: not SunSpec (or not probed)
  std::vector<std::uint16_t> models;  // model ids in chain order (end marker not listed)
  // Identity strings from model 1; nullopt when there is no model 1 or the device leaves the
  // string empty ("not implemented"). Raw device bytes: not necessarily valid UTF-8.
  std::optional<std::string> manufacturer;  // Mn
  std::optional<std::string> model;         // Md
  std::optional<std::string> serial;        // SN
  std::optional<std::string> version;       // Vr
  // Why the result is incomplete ("" = it is not): a failed SunSpec chain walk, a malformed probe
  // reply, an I/O error, or "not probed" after the bus failed.
  std::string error;
  // The bus itself failed (connection refused, serial port error) at or before this unit: what
  // is behind this unit id is unknown.
  bool bus_failed = false;
};

struct ScanOptions {
  std::vector<std::uint8_t> units;  // in scan order, e.g. parse_unit_list("1-247").units
  // Response timeout of the probe. It is the bus's starting timeout (BusSettings::timeout): scan()
  // over settings applies it, scan() over a Bus you built uses the bus's own (see
  // scan_bus_settings). Answering units then get timeouts adapted to their measured latency.
  std::chrono::milliseconds probe_timeout{300};
  std::uint16_t probe_address = 40000;  // one holding register read here; SunSpec's usual base
  // Called after each unit, on the scanning thread: the unit's result, units done, units total.
  std::function<void(const ScanResult&, std::size_t, std::size_t)> progress;
};

// `settings` adjusted for scanning: probe timeout as the starting timeout (and the floor no
// higher than it). Backoff is left alone: it is per unit id, and each unit is probed once.
BusSettings scan_bus_settings(BusSettings settings, const ScanOptions& options);

// Scans options.units in order and returns one result per unit id, answering or not. When the bus
// itself fails (connection refused, serial port error) twice in a row, 600 ms apart, the scan
// stops: that unit and the remaining ones get `error` set and answers = false.
std::vector<ScanResult> scan(Bus& bus, const ScanOptions& options);
// Builds a worker-less Bus from scan_bus_settings(settings, options) and scans it.
std::vector<ScanResult> scan(const BusSettings& settings, const ScanOptions& options);

// True when the scan stopped because the bus failed; `why` gets the reason.
bool scan_bus_failed(const std::vector<ScanResult>& results, std::string* why = nullptr);

// One JSON array of the answering units, in scan order, each
// {"unit": int, "base": int|null, "models": [int...], "manufacturer": str|null,
//  "model": str|null, "serial": str|null}, one element per line ("[]" when none answered).
// Invalid UTF-8 in device strings becomes U+FFFD.
std::string to_json(const std::vector<ScanResult>& results);

// Device kind (the config's vocabulary: "inverter", "battery", "meter", "other") from a model
// chain: inverter measurement models (101-103, 111-113) make an inverter, even with storage models
// (a hybrid inverter); else storage models (124, 713, 802-805) make a battery; else any other 1xx
// or 701 an inverter; else 201-204/211-214 a meter; else other.
std::string_view device_kind_for_models(std::span<const std::uint16_t> models);

// A ready `[[buses]]` table for `settings` (id `bus_id`) and one `[[devices]]` table per SunSpec
// unit (profile "sunspec"); answering non-SunSpec units are listed as comments to complete by
// hand. Device ids are "<bus_id>-<kind>-<unit>".
std::string to_config_snippet(const std::vector<ScanResult>& results, std::string_view bus_id,
                              const BusSettings& settings);

// A table of the answering units for people, with a summary line (and the bus failure, if any).
std::string to_table(const std::vector<ScanResult>& results);

// Everything `gatewayd scan` does, for the command-line front end.
struct ScanCommand {
  BusSettings bus;  // tcp: host/port (parse_tcp_target); rtu: device, baud, parity, ...
  std::string units = "1-247";
  std::chrono::milliseconds probe_timeout{300};
  enum class Output : std::uint8_t { kTable, kJson, kConfigSnippet };
  Output output = Output::kTable;
  std::string bus_id = "bus1";  // id of the [[buses]] table in the config snippet
  bool progress = true;         // progress lines on `err`
};

// Runs the scan and prints the chosen output on `out`, progress and problems on `err`.
// Returns 0 when the scan ran (whether or not anything answered), 1 when the bus failed, 2 for a
// bad unit list.
int run_scan_command(const ScanCommand& command, std::ostream& out, std::ostream& err);

}  // namespace gridlet::adapters::modbus
