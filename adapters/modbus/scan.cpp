#include "adapters/modbus/scan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <thread>

namespace gridlet::adapters::modbus {
namespace {

using std::chrono::milliseconds;

// Modbus exceptions with which a TCP gateway says nobody answered behind a unit id.
constexpr int kExceptionGatewayPath = 10;
constexpr int kExceptionGatewayTarget = 11;
// Wait before retrying a probe after the bus failed: longer than the bus's first reconnect delay
// (500 ms), so the retry really tries to connect again.
constexpr milliseconds kBusRetryDelay{600};
// A progress line every this many units (answering units always get one).
constexpr std::size_t kProgressEvery = 25;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::optional<int> parse_int(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::optional<std::string> non_empty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// Printable ASCII only: device strings go into TOML, tables and terminals.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  return out;
}

// A TOML basic string.
std::string toml_quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : printable(s)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string toml_duration(milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("\"{}s\"", d.count() / 1000);
  return fmt::format("\"{}ms\"", d.count());
}

// Lower-case [a-z0-9_-] (the config's id alphabet), other characters become '-'.
std::string config_id(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 40)) {
    const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-';
    out.push_back(ok ? l : '-');
  }
  return out.empty() ? "bus" : out;
}

std::string join_models(const std::vector<std::uint16_t>& models) {
  std::string out;
  for (const auto id : models) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

bool contains_any(std::span<const std::uint16_t> models, std::initializer_list<std::uint16_t> ids) {
  return std::any_of(models.begin(), models.end(), [&](std::uint16_t m) {
    return std::find(ids.begin(), ids.end(), m) != ids.end();
  });
}

// The probe: one holding register. Fills answers/probe_reply; returns the bus outcome.
Outcome probe(Bus& bus, std::uint8_t unit, std::uint16_t address, ScanResult& r) {
  Request req;
  req.op = Request::Op::kRead;
  req.unit = unit;
  req.table = Table::kHolding;
  req.address = address;
  req.count = 1;
  const Response resp = bus.execute_now(req);
  switch (resp.outcome) {
    case Outcome::kOk:
      r.answers = true;
      r.probe_reply = "registers";
      break;
    case Outcome::kException:
      if (resp.exception_code == kExceptionGatewayPath ||
          resp.exception_code == kExceptionGatewayTarget) {
        r.probe_reply = fmt::format("gateway exception {}", resp.exception_code);
      } else {
        r.answers = true;
        r.probe_reply = fmt::format("exception {}", resp.exception_code);
      }
      break;
    case Outcome::kMalformed:
      // Something replied, but not usably (bad CRC, wrong unit or transaction id).
      r.answers = true;
      r.probe_reply = "malformed reply";
      r.error = "the probe got a malformed reply";
      break;
    default:
      r.probe_reply = std::string(to_string(resp.outcome));
      break;
  }
  return resp.outcome;
}

bool bus_failure(Outcome o) { return o == Outcome::kIoError || o == Outcome::kRefused; }

void run_discovery(Bus& bus, ScanResult& r) {
  UnitRegisterReader reader(bus, r.unit);
  const sunspec::DiscoveryResult d = sunspec::discover(reader);
  r.base = d.base;
  for (const auto& m : d.models) r.models.push_back(m.id);
  if (d.common) {
    r.manufacturer = non_empty(d.common->manufacturer);
    r.model = non_empty(d.common->model);
    r.serial = non_empty(d.common->serial);
    r.version = non_empty(d.common->version);
  }
  if (d.base && !d.complete()) {
    std::string what = fmt::format("SunSpec chain: {}", sunspec::to_string(d.error));
    if (d.error == sunspec::DiscoveryError::kReadFailed) {
      what += fmt::format(" ({})", sunspec::to_string(d.read_status));
    }
    r.error = r.error.empty() ? what : r.error + "; " + what;
  }
}

}  // namespace

UnitList parse_unit_list(std::string_view text) {
  UnitList list;
  std::set<std::uint8_t> units;
  if (trim(text).empty()) {
    list.error = "empty unit list (expected e.g. \"1-247\" or \"1,3,10-12\")";
    return list;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      list.error = "empty item in unit list";
      return list;
    }
    const std::size_t dash = item.find('-');
    const auto lo = parse_int(item.substr(0, dash));
    const auto hi = dash == std::string_view::npos ? lo : parse_int(item.substr(dash + 1));
    if (!lo || !hi) {
      list.error = fmt::format("\"{}\" is not a unit id or a range A-B", printable(item));
      return list;
    }
    if (*lo < kMinScanUnit || *hi > kMaxScanUnit || *lo > kMaxScanUnit || *hi < kMinScanUnit) {
      list.error = fmt::format("\"{}\": unit ids are {}..{}", printable(item), kMinScanUnit,
                               kMaxScanUnit);
      return list;
    }
    if (*lo > *hi) {
      list.error = fmt::format("\"{}\": range runs backwards", printable(item));
      return list;
    }
    for (int u = *lo; u <= *hi; ++u) units.insert(static_cast<std::uint8_t>(u));
  }
  list.units.assign(units.begin(), units.end());
  return list;
}

std::string parse_tcp_target(std::string_view text, BusSettings& settings) {
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "unclosed '[' in the address";
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fmt::format("unexpected \"{}\" after ']'", printable(rest));
      port = rest.substr(1);
      if (port.empty()) return "empty port after ':'";
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return "empty port after ':'";
  }  // two or more ':' without brackets: a bare IPv6 address, default port
  if (host.empty()) return "empty host";
  std::uint16_t port_number = 502;
  if (!port.empty()) {
    const auto p = parse_int(port);
    if (!p || *p < 1 || *p > 65535 || port.find(' ') != std::string_view::npos) {
      return fmt::format("\"{}\" is not a port (1..65535)", printable(port));
    }
    port_number = static_cast<std::uint16_t>(*p);
  }
  settings.rtu = false;
  settings.host = std::string(host);
  settings.port = port_number;
  return "";
}


BusSettings scan_bus_settings(BusSettings settings, const ScanOptions& options) {
  settings.timeout = options.probe_timeout;
  settings.timeout_floor = std::min(settings.timeout_floor, options.probe_timeout);
  settings.timeout_ceiling = std::max(settings.timeout_ceiling, options.probe_timeout);
  settings.probe_timeout = options.probe_timeout;  // every unit of a scan is asked as a probe
  return settings;
}

std::vector<ScanResult> scan(Bus& bus, const ScanOptions& options) {
  std::vector<ScanResult> results;
  results.reserve(options.units.size());
  std::string failed;  // set once the bus failed: the remaining units are not probed
  for (const std::uint8_t unit : options.units) {
    ScanResult r;
    r.unit = unit;
    if (!failed.empty()) {
      r.probe_reply = "not probed";
      r.error = failed;
      r.bus_failed = true;
    } else {
      Outcome o = probe(bus, unit, options.probe_address, r);
      if (bus_failure(o)) {
        // One retry: a TCP peer may have dropped an idle connection, which the retry reopens.
        std::this_thread::sleep_for(kBusRetryDelay);
        r = ScanResult{};
        r.unit = unit;
        o = probe(bus, unit, options.probe_address, r);
      }
      if (bus_failure(o)) {
        r.error = fmt::format("bus failed ({}) probing unit {}", to_string(o), unit);
        r.bus_failed = true;
        failed = fmt::format("not probed: {}", r.error);
      } else if (r.answers) {
        run_discovery(bus, r);
      }
    }
    results.push_back(std::move(r));
    if (options.progress) options.progress(results.back(), results.size(), options.units.size());
  }
  return results;
}

std::vector<ScanResult> scan(const BusSettings& settings, const ScanOptions& options) {
  Bus bus(scan_bus_settings(settings, options), /*start_worker=*/false);
  return scan(bus, options);
}

bool scan_bus_failed(const std::vector<ScanResult>& results, std::string* why) {
  for (const auto& r : results) {
    if (r.bus_failed) {
      if (why != nullptr) *why = r.error;
      return true;
    }
  }
  return false;
}

std::string to_json(const std::vector<ScanResult>& results) {
  auto optional_string = [](const std::optional<std::string>& s) {
    return s ? nlohmann::ordered_json(*s) : nlohmann::ordered_json(nullptr);
  };
  // One element per line: readable in a terminal, still one JSON array.
  std::string out = "[";
  for (const auto& r : results) {
    if (!r.answers) continue;
    nlohmann::ordered_json e;
    e["unit"] = r.unit;
    e["base"] = r.base ? nlohmann::ordered_json(*r.base) : nlohmann::ordered_json(nullptr);
    e["models"] = r.models;
    e["manufacturer"] = optional_string(r.manufacturer);
    e["model"] = optional_string(r.model);
    e["serial"] = optional_string(r.serial);
    out += out.size() == 1 ? "\n  " : ",\n  ";
    out += e.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  out += out.size() == 1 ? "]" : "\n]";
  return out;
}

std::string_view device_kind_for_models(std::span<const std::uint16_t> models) {
  if (contains_any(models, {101, 102, 103, 111, 112, 113})) return "inverter";
  if (contains_any(models, {124, 713, 802, 803, 804, 805})) return "battery";
  const bool other_inverter_model = std::any_of(models.begin(), models.end(), [](std::uint16_t m) {
    return (m >= 100 && m <= 199) || m == 701;
  });
  if (other_inverter_model) return "inverter";
  if (contains_any(models, {201, 202, 203, 204, 211, 212, 213, 214})) return "meter";
  return "other";
}

std::string to_config_snippet(const std::vector<ScanResult>& results, std::string_view bus_id,
                              const BusSettings& settings) {
  const std::string bus = config_id(bus_id);
  std::string out = "# Found by `gatewayd scan`. Check names and kinds, then paste into gridlet.toml.\n";
  out += fmt::format("[[buses]]\nid = {}\n", toml_quote(bus));
  if (settings.rtu) {
    out += fmt::format(
        "type = \"rtu\"\ndevice = {}\nbaud = {}\nparity = \"{}\"\ndata_bits = {}\nstop_bits = {}\n"
        "frame_gap = {}\n",
        toml_quote(settings.device), settings.baud, settings.parity == 'E' || settings.parity == 'O'
                                                         ? settings.parity
                                                         : 'N',
        settings.data_bits, settings.stop_bits, toml_duration(settings.frame_gap));
  } else {
    out += fmt::format("type = \"tcp\"\nhost = {}\nport = {}\n", toml_quote(settings.host),
                       settings.port);
  }
  const auto timeout = std::clamp(settings.timeout, milliseconds(50), milliseconds(30000));
  out += fmt::format("timeout = {}\n", toml_duration(timeout));

  for (const auto& r : results) {
    if (!r.answers) continue;
    if (!r.base) {
      out += fmt::format(
          "\n# unit {} answers ({}) but is not SunSpec: add a [[devices]] table with its profile\n"
          "# (e.g. profile = \"sdm630\"), bus = {}, unit_id = {}.\n",
          r.unit, r.probe_reply, toml_quote(bus), r.unit);
      continue;
    }
    const std::string_view kind = device_kind_for_models(r.models);
    std::string name;
    if (r.manufacturer) name = *r.manufacturer;
    if (r.model) name += (name.empty() ? "" : " ") + *r.model;
    if (name.empty()) name = fmt::format("unit {}", r.unit);
    out += fmt::format("\n[[devices]]\nid = {}\nname = {}\nkind = \"{}\"\nbus = {}\nunit_id = {}\n"
                       "profile = \"sunspec\"\n",
                       toml_quote(fmt::format("{}-{}-{}", bus, kind, r.unit)), toml_quote(name), kind,
                       toml_quote(bus), r.unit);
    out += fmt::format("# SunSpec base {}, models {}{}\n", *r.base, join_models(r.models),
                       r.serial ? ", serial " + printable(*r.serial) : "");
    if (!r.error.empty()) out += fmt::format("# warning: {}\n", printable(r.error));
  }
  return out;
}

std::string to_table(const std::vector<ScanResult>& results) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"unit", "base", "models", "manufacturer", "model", "serial", "note"});
  std::size_t answering = 0;
  std::size_t sunspec_units = 0;
  for (const auto& r : results) {
    if (!r.answers) continue;
    ++answering;
    if (r.base) ++sunspec_units;
    auto text = [](const std::optional<std::string>& s) { return s ? printable(*s) : "-"; };
    std::string note = r.base ? "" : fmt::format("not SunSpec (probe: {})", r.probe_reply);
    if (!r.error.empty()) note += (note.empty() ? "" : "; ") + printable(r.error);
    rows.push_back({std::to_string(r.unit), r.base ? std::to_string(*r.base) : "-",
                    r.models.empty() ? "-" : join_models(r.models), text(r.manufacturer),
                    text(r.model), text(r.serial), note});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  if (answering > 0) {
    for (const auto& row : rows) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + '\n';
    }
  }
  out += fmt::format("{} unit ids probed: {} answer, {} SunSpec\n", results.size(), answering,
                     sunspec_units);
  if (std::string why; scan_bus_failed(results, &why)) {
    out += fmt::format("scan stopped: {}\n", why);
  }
  return out;
}

int run_scan_command(const ScanCommand& command, std::ostream& out, std::ostream& err) {
  const UnitList units = parse_unit_list(command.units);
  if (!units.ok()) {
    err << "--units: " << units.error << '\n';
    return 2;
  }
  ScanOptions options;
  options.units = units.units;
  options.probe_timeout = command.probe_timeout;
  if (command.progress) {
    options.progress = [&err](const ScanResult& r, std::size_t done, std::size_t total) {
      if (r.answers) {
        err << fmt::format("scan: unit {} answers{}\n", r.unit,
                           r.base ? fmt::format(", SunSpec at {} (models {})", *r.base,
                                                join_models(r.models))
                                  : fmt::format(" ({}), not SunSpec", r.probe_reply));
      }
      if (done % kProgressEvery == 0 || done == total) {
        err << fmt::format("scan: {}/{} unit ids done\n", done, total);
      }
      err.flush();
    };
  }
  const auto results = scan(command.bus, options);
  switch (command.output) {
    case ScanCommand::Output::kJson:
      out << to_json(results) << '\n';
      break;
    case ScanCommand::Output::kConfigSnippet:
      out << to_config_snippet(results, command.bus_id, command.bus);
      break;
    case ScanCommand::Output::kTable:
      out << to_table(results);
      break;
  }
  out.flush();
  if (std::string why; scan_bus_failed(results, &why)) {
    err << "scan: " << why << '\n';
    return 1;
  }
  return 0;
}

}  // namespace gridlet::adapters::modbus
