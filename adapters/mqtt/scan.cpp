#include "adapters/mqtt/scan.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>
#include <tuple>
#include <utility>

#include "adapters/device.hpp"
#include "adapters/mqtt/mapping.hpp"
#include "adapters/mqtt/presets.hpp"

namespace gridlet::adapters::mqtt::scan {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

namespace {

constexpr std::size_t kMaxBadExamples = 5;
constexpr std::string_view kTasmotaDiscovery = "tasmota/discovery/";
constexpr std::string_view kDefaultFullTopic = "%prefix%/%topic%/";

// ---- Text ----------------------------------------------------------------------------------------

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// For one line of text: control characters become '?', invalid UTF-8 bytes too.
std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < max) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(c >= 0x20 && c != 0x7F ? static_cast<char>(c) : '?');
      ++i;
      continue;
    }
    std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size() || !valid_utf8(s.substr(i, n))) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  if (i < s.size()) out += "...";
  return out;
}

// A TOML basic string; `s` must be valid UTF-8 (else invalid bytes become '?').
std::string toml_quote(std::string_view s) {
  const std::string text = valid_utf8(s) ? std::string(s) : printable(s, s.size());
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

// A configuration id ([a-z0-9_-], 1..64) made of `s`; "" when nothing of it is usable.
std::string config_id(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-';
    if (ok) {
      out.push_back(l);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
    if (out.size() >= 56) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix, std::string_view* before) {
  if (s.size() <= suffix.size() || !s.ends_with(suffix)) return false;
  *before = s.substr(0, s.size() - suffix.size());
  return true;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// An OpenDTU inverter serial: hexadecimal digits (Hoymiles serials are 12 of them).
bool inverter_serial(std::string_view s) { return s.size() >= 8 && s.size() <= 16 && is_hex(s); }

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// ---- JSON ----------------------------------------------------------------------------------------

// Bracket nesting outside strings deeper than `limit` (checked before parsing, so a deeply nested
// payload costs neither stack nor memory).
bool nested_deeper_than(std::string_view raw, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (const char ch : raw) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > limit) return true;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::optional<Json> parse_json(std::string_view payload, std::string& problem) {
  if (payload.size() > kMaxScanPayloadBytes) {
    problem = fmt::format("payload of {} bytes is over the {} byte limit", payload.size(), kMaxScanPayloadBytes);
    return std::nullopt;
  }
  if (nested_deeper_than(payload, kMaxScanJsonDepth)) {
    problem = fmt::format("JSON nested deeper than {} levels", kMaxScanJsonDepth);
    return std::nullopt;
  }
  Json j = Json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    problem = "not JSON";
    return std::nullopt;
  }
  return j;
}

const Json* member(const Json& o, std::string_view key) {
  if (!o.is_object()) return nullptr;
  const auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

std::string text(const Json& o, std::string_view key) {
  const Json* m = member(o, key);
  return m != nullptr && m->is_string() ? m->get<std::string>() : std::string();
}

std::optional<bool> boolean(const Json& o, std::string_view key) {
  const Json* m = member(o, key);
  if (m == nullptr || !m->is_boolean()) return std::nullopt;
  return m->get<bool>();
}

// A Shelly component key: "switch:0", "em:0", "em1:2" (type ':' id).
bool component_key(std::string_view key) {
  const auto colon = key.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= key.size()) return false;
  return std::all_of(key.begin(), key.begin() + static_cast<std::ptrdiff_t>(colon),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }) &&
         std::all_of(key.begin() + static_cast<std::ptrdiff_t>(colon) + 1, key.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Components of a Shelly status object (NotifyStatus/NotifyFullStatus params, Shelly.GetStatus
// result): which there are, whether one meters (apower on a switch/pm1, an em/em1) or switches.
// `full`: everything is there, so what is missing is absent.
void shelly_components(const Json& status, bool full, Finding& f) {
  bool meters = false, switches = false;
  for (const auto& [key, value] : status.items()) {
    if (!value.is_object() || !component_key(key)) continue;
    f.components.push_back(key);
    const std::string_view type = std::string_view(key).substr(0, key.find(':'));
    if (type == "em" || type == "em1" || type == "emdata" || type == "em1data") meters = true;
    if ((type == "switch" || type == "pm1") && (value.contains("apower") || value.contains("aenergy"))) meters = true;
    if (type == "switch" && value.contains("output")) switches = true;
  }
  if (meters || full) f.metering = meters;
  if (switches || full) f.switchable = switches;
}

// ---- Vendors -------------------------------------------------------------------------------------

void shelly_online(std::string_view prefix, std::string_view payload, Classification& c) {
  if (payload != "true" && payload != "false") return;  // `<x>/online` is not only Shelly's
  c.known = true;
  Finding f;
  f.vendor = Vendor::kShelly;
  f.topic_id = prefix;
  f.seen = "online";
  f.online = payload == "true";
  c.findings.push_back(std::move(f));
}

void shelly_event(std::string_view prefix, std::string_view payload, Classification& c) {
  c.known = true;
  std::string problem;
  const auto j = parse_json(payload, problem);
  if (!j) {
    c.problem = problem;
    return;
  }
  const std::string src = text(*j, "src");
  const std::string method = text(*j, "method");
  if (src.empty() || method.empty()) {
    c.problem = "not a JSON-RPC notification (no src or method)";
    return;
  }
  Finding f;
  f.vendor = Vendor::kShelly;
  f.topic_id = prefix;
  f.device_id = src;
  f.seen = "events/rpc";
  f.online = true;
  if (method == "NotifyStatus" || method == "NotifyFullStatus") {
    const Json* params = member(*j, "params");
    if (params == nullptr || !params->is_object()) {
      c.problem = method + " without params";
      return;
    }
    shelly_components(*params, method == "NotifyFullStatus", f);
  }
  c.findings.push_back(std::move(f));
}

void shelly_answer(std::string_view payload, Classification& c) {
  c.known = true;
  std::string problem;
  const auto j = parse_json(payload, problem);
  if (!j) {
    c.problem = problem;
    return;
  }
  const Json* id = member(*j, "id");
  const std::string src = text(*j, "src");
  if (id == nullptr || !id->is_number_integer() || src.empty()) {
    c.problem = "not a JSON-RPC response (no integer id or no src)";
    return;
  }
  Finding f;
  f.vendor = Vendor::kShelly;
  f.device_id = src;
  f.rpc_id = id->get<long long>();
  f.online = true;
  if (const Json* error = member(*j, "error"); error != nullptr) {
    f.seen = "rpc error";
    const Json* code = member(*error, "code");
    f.note = fmt::format("an RPC request was refused ({}{})",
                         code != nullptr && code->is_number_integer() ? std::to_string(code->get<long long>()) : "?",
                         text(*error, "message").empty() ? "" : ": " + printable(text(*error, "message"), 80));
    c.findings.push_back(std::move(f));
    return;
  }
  const Json* result = member(*j, "result");
  if (result == nullptr || !result->is_object()) {
    c.problem = "JSON-RPC response without result or error";
    return;
  }
  if (result->contains("model") || result->contains("gen") || result->contains("app")) {  // GetDeviceInfo
    f.seen = "GetDeviceInfo";
    f.name = text(*result, "name");
    f.model = text(*result, "model");
    f.app = text(*result, "app");
    f.mac = text(*result, "mac");
    f.firmware = text(*result, "ver");
    if (f.firmware.empty()) f.firmware = text(*result, "fw_id");
    f.shelly_profile = text(*result, "profile");
    f.manufacturer = "Shelly";
    if (const Json* gen = member(*result, "gen"); gen != nullptr && gen->is_number_integer()) {
      const auto g = gen->get<long long>();
      if (g >= 0 && g < 100) f.generation = static_cast<int>(g);
    }
    if (const std::string devid = text(*result, "id"); !devid.empty()) f.device_id = devid;
  } else {  // GetStatus
    f.seen = "GetStatus";
    shelly_components(*result, /*full=*/true, f);
  }
  c.findings.push_back(std::move(f));
}

void tasmota_discovery(std::string_view rest, std::string_view payload, Classification& c) {
  std::string_view mac;
  const bool config = ends_with(rest, "/config", &mac);
  if (!config && !ends_with(rest, "/sensors", &mac)) return;
  if (mac.empty() || mac.find('/') != std::string_view::npos) return;
  c.known = true;
  std::string problem;
  const auto j = parse_json(payload, problem);
  if (!j) {
    c.problem = problem;
    return;
  }
  if (!j->is_object()) {
    c.problem = "not a JSON object";
    return;
  }
  Finding f;
  f.vendor = Vendor::kTasmota;
  f.device_id = upper(mac);
  if (!config) {
    const Json* sn = member(*j, "sn");
    if (sn == nullptr || !sn->is_object()) {
      c.problem = "no \"sn\" object";
      return;
    }
    f.seen = "discovery sensors";
    const Json* energy = member(*sn, "ENERGY");
    f.metering = energy != nullptr && energy->is_object();
    c.findings.push_back(std::move(f));
    return;
  }
  f.topic_id = text(*j, "t");
  if (f.topic_id.empty() || !valid_topic_variable(f.topic_id) || f.topic_id.find('/') != std::string::npos) {
    c.problem = "no usable topic (\"t\")";
    return;
  }
  f.seen = "discovery";
  if (const Json* fn = member(*j, "fn"); fn != nullptr && fn->is_array() && !fn->empty() && fn->front().is_string()) {
    f.name = fn->front().get<std::string>();
  }
  if (f.name.empty()) f.name = text(*j, "dn");
  f.model = text(*j, "md");
  f.firmware = text(*j, "sw");
  f.ip = text(*j, "ip");
  f.mac = text(*j, "mac");
  f.manufacturer = "Tasmota";
  if (const Json* ft = member(*j, "ft"); ft != nullptr && ft->is_string()) f.full_topic = ft->get<std::string>();
  if (const Json* tp = member(*j, "tp"); tp != nullptr && tp->is_array()) {
    std::vector<std::string> prefixes;
    for (const auto& p : *tp) prefixes.push_back(p.is_string() ? p.get<std::string>() : std::string());
    f.prefixes = std::move(prefixes);
  }
  if (const Json* rl = member(*j, "rl"); rl != nullptr && rl->is_array()) {
    // Relay types per output: 1 is a relay (0 none, 2 a light, 3 a shutter).
    f.switchable = std::any_of(rl->begin(), rl->end(), [](const Json& r) { return r.is_number_integer() && r.get<long long>() == 1; });
  }
  c.findings.push_back(std::move(f));
}

void tasmota_lwt(std::string_view topic_id, std::string_view payload, Classification& c) {
  if (topic_id.empty() || topic_id.find('/') != std::string_view::npos || !valid_topic_variable(topic_id)) return;
  c.known = true;
  Finding f;
  f.vendor = Vendor::kTasmota;
  f.topic_id = topic_id;
  f.seen = "LWT";
  if (payload == "Online") f.online = true;
  if (payload == "Offline") f.online = false;
  c.findings.push_back(std::move(f));
}

// Zigbee2MQTT exposes: "numeric" power/energy meter, a "switch" with a "state" feature.
void walk_exposes(const Json& e, bool in_switch, Finding& f) {
  if (e.is_array()) {
    for (const auto& item : e) walk_exposes(item, in_switch, f);
    return;
  }
  if (!e.is_object()) return;
  const std::string type = text(e, "type");
  std::string property = text(e, "property");
  if (property.empty()) property = text(e, "name");
  if (type == "numeric" && (property == "power" || property == "energy")) f.metering = true;
  if (in_switch && property == "state") f.switchable = true;
  if (const Json* features = member(e, "features"); features != nullptr) walk_exposes(*features, in_switch || type == "switch", f);
}

void z2m_devices(std::string_view base, std::string_view payload, Classification& c) {
  c.known = true;
  std::string problem;
  const auto j = parse_json(payload, problem);
  if (!j) {
    c.problem = problem;
    return;
  }
  if (!j->is_array()) {
    c.problem = "not a JSON array of devices";
    return;
  }
  std::size_t unusable = 0;
  for (const Json& d : *j) {
    if (text(d, "type") == "Coordinator") continue;  // the Zigbee adapter itself
    Finding f;
    f.vendor = Vendor::kZigbee2mqtt;
    f.base = base;
    f.topic_id = text(d, "friendly_name");
    if (f.topic_id.empty()) f.topic_id = text(d, "ieee_address");
    if (f.topic_id.empty() || !valid_topic_variable(f.topic_id)) {
      ++unusable;
      continue;
    }
    f.seen = "bridge/devices";
    f.name = f.topic_id;
    f.device_id = text(d, "ieee_address");
    f.firmware = text(d, "software_build_id");
    const Json* def = member(d, "definition");
    if (def != nullptr && def->is_object()) {
      f.model = text(*def, "model");
      f.manufacturer = text(*def, "vendor");
      if (const std::string desc = text(*def, "description"); !desc.empty()) f.app = desc;
      f.metering = false;
      f.switchable = false;
      if (const Json* exposes = member(*def, "exposes"); exposes != nullptr) walk_exposes(*exposes, false, f);
    } else if (boolean(d, "interview_completed") == false || boolean(d, "interviewing") == true) {
      f.note = "interview not completed";
    } else {
      f.note = "not supported by Zigbee2MQTT (no definition)";
    }
    if (boolean(d, "disabled") == true) f.note += std::string(f.note.empty() ? "" : "; ") + "disabled in Zigbee2MQTT";
    c.findings.push_back(std::move(f));
  }
  if (c.findings.empty() && unusable > 0) c.problem = "no device with a usable friendly_name";
}

void opendtu_dtu(std::string_view base, std::string_view what, std::string_view payload, Classification& c) {
  c.known = true;
  Finding f;
  f.vendor = Vendor::kOpenDtu;
  f.base = base;
  f.is_dtu = true;
  f.manufacturer = "OpenDTU";
  if (what == "hostname") {
    if (payload.empty() || payload.size() > 256 || !valid_utf8(payload)) {
      c.problem = "not a host name";
      return;
    }
    f.seen = "dtu/hostname";
    f.name = payload;
  } else {
    if (payload != "online" && payload != "offline") {
      c.problem = "neither online nor offline";
      return;
    }
    f.seen = "dtu/status";
    f.online = payload == "online";
  }
  c.findings.push_back(std::move(f));
}

bool opendtu_inverter(std::string_view topic, std::string_view payload, Classification& c) {
  std::string_view rest;
  const bool name = ends_with(topic, "/name", &rest);
  if (!name && !ends_with(topic, "/0/power", &rest)) return false;
  const auto slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const std::string_view serial = rest.substr(slash + 1);
  if (!inverter_serial(serial)) return false;
  c.known = true;
  Finding f;
  f.vendor = Vendor::kOpenDtu;
  f.base = rest.substr(0, slash);
  f.topic_id = serial;
  f.manufacturer = "Hoymiles";
  if (name) {
    if (payload.size() > 256 || !valid_utf8(payload)) {
      c.problem = "not a name";
      return true;
    }
    f.seen = "name";
    f.name = payload;
  } else {
    double value = 0;
    const std::string s(payload);
    std::size_t used = 0;
    try {
      value = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size() || !std::isfinite(value)) {
      c.problem = "not a number";
      return true;
    }
    f.seen = "0/power";
    f.metering = true;
  }
  c.findings.push_back(std::move(f));
  return true;
}

// ---- Presets -------------------------------------------------------------------------------------

struct PresetInfo {
  std::string kind;
  std::map<std::string, std::string, std::less<>> variables;  // declared variables and defaults
};

// The built-in presets' kinds and variables, loaded once.
const std::map<std::string, PresetInfo, std::less<>>& presets() {
  static const auto all = [] {
    std::map<std::string, PresetInfo, std::less<>> out;
    for (const auto name : builtin_preset_names()) {
      auto loaded = load_builtin_preset(name);
      if (!loaded.profile) continue;
      out.emplace(std::string(name), PresetInfo{std::string(to_string(loaded.profile->kind)), loaded.profile->variables});
    }
    return out;
  }();
  return all;
}

void choose(Device& d, std::string preset, std::string why = {}) {
  d.why = std::move(why);
  const auto& all = presets();
  const auto it = all.find(preset);
  if (it == all.end()) {
    d.preset.clear();
    d.kind = "other";
    return;
  }
  d.preset = std::move(preset);
  d.kind = it->second.kind;
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

void choose_shelly(Device& d) {
  const bool confirmed = d.seen.contains("events/rpc") || d.seen.contains("GetDeviceInfo") || d.seen.contains("GetStatus") ||
                         d.seen.contains("rpc error");
  if (!confirmed) {
    return choose(d, "",
                  fmt::format("only {}/online was seen and Shelly.GetDeviceInfo got no answer: not a Shelly Gen2+, "
                              "or its RPC over MQTT is off",
                              printable(d.topic_id, 80)));
  }
  if (d.generation && *d.generation < 2) return choose(d, "", "a Gen1 device: no preset");
  if (d.components.contains("em:0")) return choose(d, "shelly-pro3em");
  if (d.components.contains("em1:0")) {
    return choose(d, "", "Pro 3EM in the monophase profile (em1:0..2): copy shelly-pro3em.toml and map em1:N");
  }
  if (d.components.contains("switch:0")) {
    return choose(d, "shelly-gen2-switch",
                  d.metering == false ? "switch:0 has no metering: only the output is read" : std::string());
  }
  if (d.components.empty()) {
    if (d.app == "Pro3EM") return choose(d, "shelly-pro3em", "components unknown: chosen by its model");
    if (d.app.find("PM") != std::string::npos || d.app.find("Plug") != std::string::npos) {
      return choose(d, "shelly-gen2-switch", "components unknown: chosen by its model");
    }
    return choose(d, "", "components unknown (no NotifyFullStatus, no answer to Shelly.GetStatus)");
  }
  return choose(d, "", fmt::format("no switch:0 or em:0 (components: {})", join(d.components)));
}

void choose_tasmota(Device& d) {
  if (d.full_topic && *d.full_topic != kDefaultFullTopic) {
    return choose(d, "", fmt::format("FullTopic is \"{}\": copy tasmota-plug.toml into profiles/mqtt/ and change its topics",
                                     printable(*d.full_topic, 80)));
  }
  if (d.prefixes && *d.prefixes != std::vector<std::string>{"cmnd", "stat", "tele"}) {
    return choose(d, "", "prefixes are not cmnd/stat/tele: copy tasmota-plug.toml into profiles/mqtt/ and change its topics");
  }
  if (d.switchable == false && d.metering != true) return choose(d, "", "no relay and no energy monitor");
  if (!d.seen.contains("discovery")) {
    return choose(d, "tasmota-plug", "seen by its LWT only (discovery off?): check the default FullTopic and an energy monitor");
  }
  if (d.metering == false) return choose(d, "tasmota-plug", "no ENERGY sensor: only the relay is read");
  if (!d.metering) return choose(d, "tasmota-plug", "energy monitor not confirmed (no sensors message)");
  return choose(d, "tasmota-plug");
}

void choose_z2m(Device& d) {
  if (d.metering == true || d.switchable == true) {
    return choose(d, "zigbee2mqtt-plug", d.metering == true ? std::string() : "no power or energy in its exposes: only the state is read");
  }
  choose(d, "", d.note.empty() ? "no power, energy or switch state in its exposes" : d.note);
}

template <typename T>
void set_if(T& to, const T& from) {
  if (!from.empty()) to = from;
}

}  // namespace

std::string_view to_string(Vendor v) {
  switch (v) {
    case Vendor::kShelly: return "shelly";
    case Vendor::kTasmota: return "tasmota";
    case Vendor::kZigbee2mqtt: return "zigbee2mqtt";
    case Vendor::kOpenDtu: return "opendtu";
  }
  return "?";
}

Classification classify(std::string_view topic, std::string_view payload, std::string_view reply_src) {
  Classification c;
  std::string_view before;
  if (!reply_src.empty() && topic.size() == reply_src.size() + 4 && topic.starts_with(reply_src) && topic.ends_with("/rpc")) {
    shelly_answer(payload, c);
  } else if (ends_with(topic, "/events/rpc", &before)) {
    shelly_event(before, payload, c);
  } else if (topic.starts_with(kTasmotaDiscovery)) {
    tasmota_discovery(topic.substr(kTasmotaDiscovery.size()), payload, c);
  } else if (topic.starts_with("tele/") && ends_with(topic, "/LWT", &before)) {
    tasmota_lwt(before.substr(5), payload, c);
  } else if (ends_with(topic, "/bridge/devices", &before)) {
    z2m_devices(before, payload, c);
  } else if (ends_with(topic, "/dtu/hostname", &before)) {
    opendtu_dtu(before, "hostname", payload, c);
  } else if (ends_with(topic, "/dtu/status", &before)) {
    opendtu_dtu(before, "status", payload, c);
  } else if (opendtu_inverter(topic, payload, c)) {
  } else if (ends_with(topic, "/online", &before)) {
    shelly_online(before, payload, c);
  }
  if (!c.problem.empty()) c.findings.clear();
  return c;
}

std::vector<std::string> scan_filters(std::string_view reply_src) {
  std::vector<std::string> out = {
      "+/online",          "+/events/rpc", "tasmota/discovery/+/config", "tasmota/discovery/+/sensors",
      "tele/+/LWT",        "+/bridge/devices", "+/dtu/hostname",        "+/dtu/status",
      "+/+/name",          "+/+/0/power",
  };
  if (!reply_src.empty()) out.push_back(std::string(reply_src) + "/rpc");
  return out;
}

// ---- Inventory -----------------------------------------------------------------------------------

Inventory::Inventory(std::string reply_src) : reply_src_(std::move(reply_src)) {}

Classification Inventory::add(std::string_view topic, std::string_view payload) {
  ++stats_.messages;
  Classification c = classify(topic, payload, reply_src_);
  if (!c.problem.empty()) {
    ++stats_.bad;
    if (stats_.bad_examples.size() < kMaxBadExamples) {
      stats_.bad_examples.push_back(fmt::format("{}: {}", printable(topic, 120), c.problem));
    }
  } else if (!c.findings.empty()) {
    ++stats_.used;
  }
  for (const Finding& f : c.findings) merge(f);
  return c;
}

Device& Inventory::device(const Key& key) {
  auto [it, inserted] = devices_.try_emplace(key);
  if (inserted) {
    Device& d = it->second;
    d.vendor = std::get<0>(key);
    d.base = std::get<1>(key);
    d.topic_id = std::get<2>(key);
    d.is_dtu = std::get<3>(key);
    new_.push_back(fmt::format("{} {}{}{}", to_string(d.vendor), printable(d.base, 80), d.base.empty() || d.topic_id.empty() ? "" : "/",
                               printable(d.topic_id, 80)));
  }
  return it->second;
}

void Inventory::merge(const Finding& in) {
  Finding f = in;
  if (f.rpc_id) {
    const auto it = pending_.find(*f.rpc_id);
    if (it == pending_.end()) return;  // not ours, or from an earlier scan with the same src
    if (answered_.insert(*f.rpc_id).second) ++stats_.answers;
    f.topic_id = it->second;
  }
  if (f.vendor == Vendor::kTasmota && f.topic_id.empty()) {  // sensors: by MAC
    for (auto& [key, d] : devices_) {
      if (d.vendor == Vendor::kTasmota && d.device_id == f.device_id) {
        if (f.metering) d.metering = f.metering;
        d.seen.insert(f.seen);
        return;
      }
    }
    tasmota_sensors_[f.device_id] = f;
    return;
  }
  if (f.topic_id.empty() && !f.is_dtu) return;
  Device& d = device(Key{f.vendor, f.base, f.topic_id, f.is_dtu});
  if (!f.seen.empty()) d.seen.insert(f.seen);
  if (f.online) d.online = f.online;
  set_if(d.device_id, f.device_id);
  set_if(d.name, f.name);
  set_if(d.model, f.model);
  set_if(d.manufacturer, f.manufacturer);
  set_if(d.firmware, f.firmware);
  set_if(d.mac, f.mac);
  set_if(d.ip, f.ip);
  set_if(d.app, f.app);
  set_if(d.shelly_profile, f.shelly_profile);
  if (f.generation) d.generation = f.generation;
  d.components.insert(f.components.begin(), f.components.end());
  // Metering and switching once seen stay seen (a NotifyStatus carries only what changed).
  if (f.metering && d.metering != true) d.metering = f.metering;
  if (f.switchable && d.switchable != true) d.switchable = f.switchable;
  if (f.full_topic) d.full_topic = f.full_topic;
  if (f.prefixes) d.prefixes = f.prefixes;
  if (!f.note.empty() && d.note.find(f.note) == std::string::npos) d.note += (d.note.empty() ? "" : "; ") + f.note;
  if (f.vendor == Vendor::kTasmota && !d.device_id.empty()) {
    const auto it = tasmota_sensors_.find(d.device_id);
    if (it != tasmota_sensors_.end()) {
      if (it->second.metering) d.metering = it->second.metering;
      d.seen.insert(it->second.seen);
      tasmota_sensors_.erase(it);
    }
  }
}

std::vector<Message> Inventory::take_requests() {
  std::vector<Message> out;
  if (reply_src_.empty()) return out;
  for (const auto& [key, d] : devices_) {
    if (d.vendor != Vendor::kShelly || !asked_.insert(d.topic_id).second) continue;
    for (const char* method : {"Shelly.GetDeviceInfo", "Shelly.GetStatus"}) {
      const long long id = next_id_++;
      pending_[id] = d.topic_id;
      Json request = {{"id", id}, {"src", reply_src_}, {"method", method}};
      out.push_back(Message{d.topic_id + "/rpc", request.dump(), 1, false});
      ++stats_.requests;
    }
  }
  return out;
}

std::size_t Inventory::unanswered_requests() const { return pending_.size() - answered_.size(); }

std::vector<std::string> Inventory::take_new() {
  std::vector<std::string> out;
  out.swap(new_);
  return out;
}

std::vector<Device> Inventory::devices() const {
  std::vector<Device> out;
  std::map<std::string, std::size_t> inverters;  // OpenDTU base -> inverters
  for (const auto& [key, d] : devices_) {
    if (d.vendor == Vendor::kOpenDtu && !d.is_dtu) ++inverters[d.base];
  }
  for (const auto& [key, dev] : devices_) {
    Device d = dev;
    switch (d.vendor) {
      case Vendor::kShelly: choose_shelly(d); break;
      case Vendor::kTasmota: choose_tasmota(d); break;
      case Vendor::kZigbee2mqtt: choose_z2m(d); break;
      case Vendor::kOpenDtu:
        if (d.is_dtu) {
          d.inverters = inverters[d.base];
          choose(d, "", fmt::format("the DTU itself ({} inverter{} listed)", d.inverters, d.inverters == 1 ? "" : "s"));
        } else {
          choose(d, "opendtu", d.seen.contains("name") ? std::string() : "no name topic seen");
        }
        break;
    }
    out.push_back(std::move(d));
  }
  return out;
}

// ---- Output --------------------------------------------------------------------------------------

namespace {

OrderedJson optional_text(const std::string& s) { return s.empty() ? OrderedJson(nullptr) : OrderedJson(s); }

template <typename T>
OrderedJson optional_value(const std::optional<T>& v) {
  return v ? OrderedJson(*v) : OrderedJson(nullptr);
}

std::string model_text(const Device& d) {
  std::string m = d.model;
  if (!d.app.empty() && d.app != d.model) m += m.empty() ? d.app : " (" + d.app + ")";
  return m;
}

// The device's topic as a person would look for it on the broker.
std::string where(const Device& d) {
  if (d.is_dtu) return d.base + "/dtu";
  if (d.base.empty()) return d.topic_id;
  return d.base + "/" + d.topic_id;
}

std::string summary(const std::vector<Device>& devices, const Stats& stats, const BrokerInfo& broker) {
  std::size_t with_preset = 0, listed = 0;
  for (const auto& d : devices) {
    ++listed;
    if (!d.preset.empty()) ++with_preset;
  }
  std::string out;
  if (listed == 0) {
    out = fmt::format("no devices found on {} in {} s ({} message{} seen)\n", printable(broker.url), broker.listened.count(),
                      stats.messages, stats.messages == 1 ? "" : "s");
  } else {
    out = fmt::format("{} device{} found on {} in {} s, {} with a preset ({} message{} seen)\n", listed, listed == 1 ? "" : "s",
                      printable(broker.url), broker.listened.count(), with_preset, stats.messages,
                      stats.messages == 1 ? "" : "s");
  }
  if (stats.requests > 0) {
    out += fmt::format("{} of {} Shelly RPC requests answered\n", stats.answers, stats.requests);
  }
  if (stats.bad > 0) {
    out += fmt::format("{} message{} could not be used:\n", stats.bad, stats.bad == 1 ? "" : "s");
    for (const auto& e : stats.bad_examples) out += "  " + e + "\n";
    if (stats.bad > stats.bad_examples.size()) out += fmt::format("  ({} more)\n", stats.bad - stats.bad_examples.size());
  }
  return out;
}

}  // namespace

std::string to_json(const std::vector<Device>& devices) {
  std::string out = "[";
  for (const auto& d : devices) {
    OrderedJson e;
    e["vendor"] = to_string(d.vendor);
    e["topic_id"] = d.is_dtu ? OrderedJson(nullptr) : OrderedJson(d.topic_id);
    e["base"] = optional_text(d.base);
    e["device_id"] = optional_text(d.device_id);
    e["name"] = optional_text(d.name);
    e["model"] = optional_text(model_text(d));
    e["manufacturer"] = optional_text(d.manufacturer);
    e["firmware"] = optional_text(d.firmware);
    e["mac"] = optional_text(d.mac);
    e["ip"] = optional_text(d.ip);
    e["online"] = optional_value(d.online);
    e["components"] = d.components;
    e["metering"] = optional_value(d.metering);
    e["preset"] = optional_text(d.preset);
    e["kind"] = d.kind;
    e["note"] = optional_text(d.why);
    e["seen"] = d.seen;
    out += out.size() == 1 ? "\n  " : ",\n  ";
    out += e.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  }
  out += out.size() == 1 ? "]" : "\n]";
  return out;
}

std::string to_table(const std::vector<Device>& devices, const Stats& stats, const BrokerInfo& broker) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"vendor", "topic", "name", "model", "firmware", "online", "preset", "note"});
  for (const auto& d : devices) {
    rows.push_back({std::string(to_string(d.vendor)), printable(where(d), 60), printable(d.name, 40),
                    printable(model_text(d), 40), printable(d.firmware, 30),
                    d.online ? (*d.online ? "yes" : "no") : "?", d.preset.empty() ? "-" : d.preset,
                    printable(d.why, 160)});
  }
  // Column widths in characters (UTF-8 continuation bytes do not count).
  auto width_of = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], width_of(row[i]));
  }
  std::string out;
  if (!devices.empty()) {
    for (const auto& row : rows) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - width_of(row[i]) + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + '\n';
    }
  }
  return out + summary(devices, stats, broker);
}

std::string to_config_snippet(const std::vector<Device>& devices, const Stats& stats, const BrokerInfo& broker,
                              std::string_view bus_id) {
  const std::string bus = config_id(bus_id).empty() ? "mqtt1" : config_id(bus_id);
  std::string out = fmt::format(
      "# Found by `gatewayd scan mqtt` on {} in {} s. Check ids, names and kinds, then paste into gridlet.toml.\n",
      printable(broker.url), broker.listened.count());
  for (std::string line; const char ch : summary(devices, stats, broker)) {
    if (ch != '\n') {
      line.push_back(ch);
      continue;
    }
    out += "# " + line + "\n";
    line.clear();
  }
  out += fmt::format("[[buses]]\nid = {}\ntype = \"mqtt\"\nurl = {}\n", toml_quote(bus), toml_quote(broker.url));
  if (broker.version == 5) out += "protocol = \"5\"\n";
  if (!broker.username.empty()) out += fmt::format("username = {}\n", toml_quote(broker.username));
  if (!broker.password_file.empty()) out += fmt::format("password_file = {}\n", toml_quote(broker.password_file.string()));
  for (const auto& [key, path] : {std::pair{"ca_file", &broker.ca_file}, std::pair{"cert_file", &broker.cert_file},
                                  std::pair{"key_file", &broker.key_file}}) {
    if (!path->empty()) out += fmt::format("{} = {}\n", key, toml_quote(path->string()));
  }

  std::set<std::string> ids;
  std::string left_out;
  for (const auto& d : devices) {
    const std::string label = fmt::format("{} {}{}", to_string(d.vendor), printable(where(d), 80),
                                          model_text(d).empty() ? "" : " (" + printable(model_text(d), 60) + ")");
    if (d.preset.empty()) {
      left_out += fmt::format("# not configured: {}: {}\n", label, printable(d.why, 200));
      continue;
    }
    if (!valid_utf8(d.topic_id) || !valid_topic_variable(d.topic_id) || (!d.base.empty() && (!valid_utf8(d.base) || !valid_topic_variable(d.base)))) {
      left_out += fmt::format("# not configured: {}: its topic cannot be written in gridlet.toml\n", label);
      continue;
    }
    std::string id = config_id(d.vendor == Vendor::kOpenDtu || d.vendor == Vendor::kZigbee2mqtt ? d.name : d.topic_id);
    if (id.empty()) id = config_id(d.topic_id);
    if (id.empty()) id = std::string(to_string(d.vendor));
    if (d.vendor == Vendor::kOpenDtu && id != config_id(d.topic_id)) id = config_id(id + "-" + d.topic_id);
    std::string unique = id;
    for (int n = 2; ids.contains(unique); ++n) unique = fmt::format("{}-{}", id, n);
    ids.insert(unique);
    out += fmt::format("\n[[devices]]\nid = {}\n", toml_quote(unique));
    if (!d.name.empty() && valid_utf8(d.name)) out += fmt::format("name = {}\n", toml_quote(d.name));
    out += fmt::format("kind = \"{}\"\nbus = {}\nprofile = \"{}\"\ntopic_id = {}\n", d.kind, toml_quote(bus), d.preset,
                       toml_quote(d.topic_id));
    const auto& preset = presets().at(d.preset);
    if (const auto base = preset.variables.find("base"); base != preset.variables.end() && !d.base.empty() && d.base != base->second) {
      out += fmt::format("variables = {{ base = {} }}\n", toml_quote(d.base));
    }
    std::string about = label;
    if (!d.firmware.empty()) about += ", firmware " + printable(d.firmware, 40);
    if (!d.mac.empty()) about += ", MAC " + printable(d.mac, 40);
    out += "# " + about + "\n";
    if (!d.why.empty()) out += "# check: " + printable(d.why, 200) + "\n";
  }
  if (!left_out.empty()) out += "\n" + left_out;
  return out;
}

// ---- The command ---------------------------------------------------------------------------------

namespace {

// Runs the client's handlers and timers in order on one thread of its own.
class ScanExecutor final : public Executor {
 public:
  ScanExecutor() : thread_([this] { run(); }) {}
  ~ScanExecutor() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  ScanExecutor(const ScanExecutor&) = delete;
  ScanExecutor& operator=(const ScanExecutor&) = delete;

  void post(std::function<void()> work) override { post_after(std::chrono::milliseconds(0), std::move(work)); }
  void post_after(std::chrono::milliseconds delay, std::function<void()> work) override {
    {
      std::lock_guard lock(mu_);
      queue_.emplace(std::make_pair(std::chrono::steady_clock::now() + delay, seq_++), std::move(work));
    }
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto due = queue_.begin()->first.first;
      if (std::chrono::steady_clock::now() < due) {
        cv_.wait_until(lock, due);
        continue;
      }
      auto work = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      lock.unlock();
      work();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>, std::function<void()>> queue_;
  std::uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

// Waits until everything posted so far has run: after a client's stop(), no handler of it runs
// any more (it posts nothing new, and what it posted before checks that it stopped).
void drain(Executor& executor) {
  std::promise<void> idle;
  executor.post([&idle] { idle.set_value(); });
  idle.get_future().wait();
}

std::filesystem::path absolute_path(const std::filesystem::path& p) {
  if (p.empty()) return p;
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal();
}

}  // namespace

int run_command(const Command& command, std::ostream& out, std::ostream& err) {
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  const auto url = paho_url(command.url);
  const auto scheme_end = command.url.find("://");
  if (!url || scheme_end == std::string::npos || scheme_end + 3 >= command.url.size()) {
    err << "scan mqtt: \"" << printable(command.url) << "\" is not a broker URL (mqtt://HOST:PORT, mqtts://, tcp://, ssl://)\n";
    return 2;
  }
  if (command.listen < 1s || command.listen > 1h) {
    err << "scan mqtt: --seconds must be 1..3600\n";
    return 2;
  }
  if (!valid_id(command.bus_id)) {
    err << "scan mqtt: --bus-id \"" << printable(command.bus_id) << "\" is not a valid id (1-64 of a-z, 0-9, '_', '-')\n";
    return 2;
  }
  const bool tls = url->starts_with("ssl://");
  if (!tls && (!command.ca_file.empty() || !command.cert_file.empty() || !command.key_file.empty())) {
    err << "scan mqtt: --ca-file, --cert-file and --key-file need an mqtts:// or ssl:// URL\n";
    return 2;
  }
  if (command.cert_file.empty() != command.key_file.empty()) {
    err << "scan mqtt: --cert-file and --key-file go together\n";
    return 2;
  }
  ClientSettings settings;
  settings.name = "scan";
  settings.url = command.url;
  settings.version = command.version == 5 ? 5 : 4;
  settings.username = command.username;
  if (!command.password_file.empty()) {
    if (command.username.empty()) {
      err << "scan mqtt: --password-file needs --username\n";
      return 2;
    }
    std::ifstream in(command.password_file);
    if (!in || !std::getline(in, settings.password)) {
      err << "scan mqtt: cannot read the password from " << command.password_file.string() << '\n';
      return 2;
    }
    while (!settings.password.empty() && (settings.password.back() == '\r' || settings.password.back() == '\n')) {
      settings.password.pop_back();
    }
  }
  settings.ca_file = command.ca_file;
  settings.cert_file = command.cert_file;
  settings.key_file = command.key_file;
  settings.connect_timeout = command.connect_timeout;
  settings.reconnect_min = 2s;
  settings.reconnect_max = 60s;
  {
    std::random_device rd;
    settings.client_id = fmt::format("gridlet-scan-{:08x}", rd());
  }

  BrokerInfo broker;
  broker.url = command.url;
  broker.username = command.username;
  broker.password_file = absolute_path(command.password_file);
  broker.ca_file = absolute_path(command.ca_file);
  broker.cert_file = absolute_path(command.cert_file);
  broker.key_file = absolute_path(command.key_file);
  broker.version = settings.version;

  // Shared with the executor's thread.
  std::mutex mu;
  std::condition_variable cv;
  Inventory inventory(settings.client_id);  // our RPC src: answers come to <client id>/rpc
  bool connected = false;
  std::string failure, lost;
  Clock::time_point last_request{};

  ScanExecutor executor;
  Client* client_ptr = nullptr;
  Client::Handlers handlers;
  handlers.connected = [&](bool) {
    std::lock_guard lock(mu);
    connected = true;
    cv.notify_all();
  };
  handlers.disconnected = [&](const std::string& why) {
    std::lock_guard lock(mu);
    if (!connected) {
      if (failure.empty()) failure = why;
    } else if (lost.empty()) {
      lost = why;
    }
    cv.notify_all();
  };
  handlers.message = [&](Message m) {
    std::vector<Message> requests;
    std::vector<std::string> found;
    {
      std::lock_guard lock(mu);  // also over `err`, which the main thread writes too
      inventory.add(m.topic, m.payload);
      requests = inventory.take_requests();
      found = inventory.take_new();
      if (!requests.empty()) last_request = Clock::now();
      if (command.progress && !found.empty()) {
        for (const auto& f : found) err << "scan mqtt: found " << f << '\n';
        err.flush();
      }
    }
    for (auto& r : requests) {
      if (client_ptr != nullptr) client_ptr->publish(std::move(r));
    }
  };
  Client client(settings, executor, handlers);
  client_ptr = &client;
  for (const auto& filter : scan_filters(inventory.reply_src())) client.subscribe(filter, 1);
  if (!client.start()) {
    err << "scan mqtt: " << client.stats().last_error << '\n';
    return 3;
  }
  {
    std::unique_lock lock(mu);
    const bool settled = cv.wait_for(lock, command.connect_timeout + 5s, [&] { return connected || !failure.empty(); });
    if (!connected) {
      const std::string why = settled ? failure : "no answer from the broker";
      lock.unlock();
      client.stop(1s);
      drain(executor);
      err << "scan mqtt: cannot reach " << printable(command.url) << ": " << why << '\n';
      return 3;
    }
  }
  if (command.progress) {
    std::lock_guard lock(mu);
    err << "scan mqtt: connected to " << printable(command.url) << ", listening for " << command.listen.count() << " s\n";
    err.flush();
  }
  const auto start = Clock::now();
  std::this_thread::sleep_until(start + command.listen);
  // Shelly devices found at the end get up to 2 s more to answer.
  {
    std::unique_lock lock(mu);
    const auto grace_end = last_request + 2s;
    cv.wait_until(lock, std::min(grace_end, Clock::now() + 2s), [&] { return inventory.unanswered_requests() == 0; });
  }
  client.stop(1s);
  drain(executor);
  broker.listened = command.listen;

  std::vector<Device> devices;
  Stats stats;
  std::string lost_why;
  {
    std::lock_guard lock(mu);
    devices = inventory.devices();
    stats = inventory.stats();
    lost_why = lost;
  }
  switch (command.output) {
    case Command::Output::kJson: out << to_json(devices) << '\n'; break;
    case Command::Output::kConfigSnippet: out << to_config_snippet(devices, stats, broker, command.bus_id); break;
    case Command::Output::kTable: out << to_table(devices, stats, broker); break;
  }
  out.flush();
  if (command.output == Command::Output::kJson && stats.bad > 0) {
    err << "scan mqtt: " << stats.bad << " message" << (stats.bad == 1 ? "" : "s") << " could not be used";
    if (!stats.bad_examples.empty()) err << ", e.g. " << stats.bad_examples.front();
    err << '\n';
  }
  if (!lost_why.empty()) err << "scan mqtt: the connection was lost during the scan (" << lost_why << "): the list may be incomplete\n";
  return 0;
}

}  // namespace gridlet::adapters::mqtt::scan
