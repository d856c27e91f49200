// Loading and validating the TOML configuration. Every check records an error and goes on, so
// one run of `gatewayd check-config` reports every problem in the file.
#include "gateway/config/config.hpp"

#include <toml++/toml.h>

#include "adapters/modbus/control.hpp"
#include "adapters/modbus/profile.hpp"
#include "adapters/mqtt/mapping.hpp"
#include "adapters/mqtt/presets.hpp"
#include "adapters/mqtt/profile.hpp"
#include "adapters/toml_checker.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace gridlet::config {
namespace {

using adapters::TomlChecker;

using namespace std::chrono_literals;

void check_id(TomlChecker& c, const toml::table& t, const std::string& path, std::string& out) {
  c.string(t, "id", path, out, /*required=*/true);
  if (!out.empty() && !adapters::valid_id(out)) {
    c.error(t.get("id"), path + ".id",
            fmt::format("\"{}\" is not a valid id (1-64 of a-z, 0-9, '_', '-')", out));
  }
}

void load_site(TomlChecker& c, const toml::table& root, SiteConfig& site) {
  const toml::table* t = c.table(root, "site", "");
  if (t == nullptr) {
    if (root.get("site") == nullptr) c.error(&root, "site", "required table [site] is missing");
    return;
  }
  c.known_keys(*t, "site", {"id", "name"});
  check_id(c, *t, "site", site.id);
  c.string(*t, "name", "site", site.name);
}

void load_log(TomlChecker& c, const toml::table& root, LogConfig& log) {
  const toml::table* t = c.table(root, "log", "");
  if (t == nullptr) return;
  c.known_keys(*t, "log", {"level"});
  c.string(*t, "level", "log", log.level);
  static const std::set<std::string_view> kLevels{"trace", "debug", "info",    "warn",
                                                  "error", "critical", "off"};
  if (!kLevels.contains(log.level)) {
    c.error(t->get("level"), "log.level",
            fmt::format("\"{}\" is not one of trace, debug, info, warn, error, critical, off",
                        log.level));
  }
}

void load_storage(TomlChecker& c, const toml::table& root, StorageConfig& s) {
  const toml::table* t = c.table(root, "storage", "");
  if (t == nullptr) return;
  const std::string p = "storage";
  c.known_keys(*t, p,
               {"data_dir", "commit_interval", "max_batch_samples", "queue_limit_samples",
                "raw_retention", "rollup_1m_retention", "rollup_15m_retention", "disk_budget"});
  std::string dir = s.data_dir.string();
  c.string(*t, "data_dir", p, dir);
  if (dir.empty()) c.error(t->get("data_dir"), p + ".data_dir", "must not be empty");
  s.data_dir = dir;
  c.duration(*t, "commit_interval", p, s.commit_interval, 10ms, 60s);
  c.integer_into(*t, "max_batch_samples", p, s.max_batch_samples, 100, 1'000'000);
  c.integer_into(*t, "queue_limit_samples", p, s.queue_limit_samples, 1000, 100'000'000);
  constexpr auto kYears100 = std::chrono::milliseconds(std::chrono::hours(24 * 365 * 100));
  c.duration(*t, "raw_retention", p, s.raw_retention, std::chrono::hours(1), kYears100, true);
  c.duration(*t, "rollup_1m_retention", p, s.rollup_1m_retention, std::chrono::hours(1), kYears100,
             true);
  c.duration(*t, "rollup_15m_retention", p, s.rollup_15m_retention, std::chrono::hours(1),
             kYears100, true);
  c.size(*t, "disk_budget", p, s.disk_budget_bytes, 16ULL << 20);
}

void load_api(TomlChecker& c, const toml::table& root, ApiConfig& api) {
  const toml::table* t = c.table(root, "api", "");
  if (t == nullptr) return;
  c.known_keys(*t, "api", {"listen", "tokens_file", "max_connections",
                           "max_connections_per_address", "max_header_connections",
                           "header_timeout"});
  if (const toml::node* n = t->get("listen")) {
    const auto text = n->value<std::string>();
    if (!n->is_string() || !text || !parse_listen(*text, api.listen_host, api.listen_port)) {
      c.error(n, "api.listen", "must be \"HOST:PORT\", e.g. \"127.0.0.1:8080\"");
    }
  }
  std::string tokens = api.tokens_file.string();
  c.string(*t, "tokens_file", "api", tokens);
  api.tokens_file = tokens;
  c.integer_into(*t, "max_connections", "api", api.max_connections, 1, 4096);
  c.integer_into(*t, "max_connections_per_address", "api", api.max_connections_per_address, 1, 4096);
  c.integer_into(*t, "max_header_connections", "api", api.max_header_connections, 1, 4096);
  c.duration(*t, "header_timeout", "api", api.header_timeout, std::chrono::milliseconds(100),
             std::chrono::seconds(60));
}

// A file that holds a secret (an MQTT password, a TLS key): a regular file that only its owner
// can read, as the tokens file.
void check_private_file(TomlChecker& c, const toml::table& t, const std::string& key, const std::string& p,
                        const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::is_regular_file(st)) {
    c.error(t.get(key), p + "." + key, fmt::format("{} is not a readable regular file", path.string()));
    return;
  }
  using std::filesystem::perms;
  if ((st.permissions() & (perms::group_all | perms::others_all)) != perms::none) {
    c.error(t.get(key), p + "." + key,
            fmt::format("{} can be read by others: chmod 600 it", path.string()));
  }
}

void check_readable_file(TomlChecker& c, const toml::table& t, const std::string& key, const std::string& p,
                         const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    c.error(t.get(key), p + "." + key, fmt::format("{} is not a readable regular file", path.string()));
  }
}

void load_mqtt_bus(TomlChecker& c, const toml::table& t, const std::string& p, BusConfig& b) {
  c.string(t, "url", p, b.url, true);
  if (!b.url.empty() && !(b.url.starts_with("tcp://") || b.url.starts_with("ssl://") ||
                          b.url.starts_with("mqtt://") || b.url.starts_with("mqtts://"))) {
    c.error(t.get("url"), p + ".url", "must start with tcp://, ssl://, mqtt:// or mqtts://");
  }
  c.string(t, "client_id", p, b.client_id);  // default set by load_config: gridlet-<site>-<bus>
  std::string protocol = "3.1.1";
  c.string(t, "protocol", p, protocol);
  if (protocol == "3.1.1") {
    b.mqtt_version = 4;
  } else if (protocol == "5") {
    b.mqtt_version = 5;
  } else {
    c.error(t.get("protocol"), p + ".protocol", fmt::format("\"{}\" is not \"3.1.1\" or \"5\"", protocol));
  }
  c.string(t, "username", p, b.username);
  std::string file;
  if (c.string(t, "password_file", p, file)) {
    b.password_file = file;
    check_private_file(c, t, "password_file", p, b.password_file);
    if (b.username.empty()) c.error(t.get("password_file"), p + ".password_file", "needs a username");
  }
  const bool tls = b.url.starts_with("ssl://") || b.url.starts_with("mqtts://");
  for (auto [key, out] : {std::pair{"ca_file", &b.ca_file}, std::pair{"cert_file", &b.cert_file},
                          std::pair{"key_file", &b.key_file}}) {
    if (!c.string(t, key, p, file)) continue;
    *out = file;
    if (!tls) {
      c.error(t.get(key), p + "." + key, "only valid with an ssl:// or mqtts:// url");
    } else if (std::string_view(key) == "key_file") {
      check_private_file(c, t, key, p, *out);
    } else {
      check_readable_file(c, t, key, p, *out);
    }
  }
  if (b.cert_file.empty() != b.key_file.empty()) {
    c.error(t.get("cert_file") ? t.get("cert_file") : t.get("key_file"), p + ".cert_file",
            "cert_file and key_file go together");
  }
  c.boolean(t, "verify_hostname", p, b.verify_hostname);
  c.boolean(t, "clean_session", p, b.clean_session);
  c.duration(t, "keep_alive", p, b.keep_alive, 5s, 1h);
}

void load_buses(TomlChecker& c, const toml::table& root, std::vector<BusConfig>& buses) {
  const toml::node* node = root.get("buses");
  if (node == nullptr) return;
  const toml::array* arr = node->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    c.error(node, "buses", "must be an array of tables ([[buses]])");
    return;
  }
  std::map<std::string, const toml::node*> seen;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table& t = *arr->get(i)->as_table();
    const std::string p = fmt::format("buses[{}]", i);
    BusConfig b;
    c.known_keys(t, p,
                 {"id", "type", "host", "port", "device", "baud", "parity", "data_bits", "stop_bits",
                  "frame_gap", "timeout", "probe_timeout", "backoff_initial", "backoff_max", "url",
                  "client_id", "protocol", "username", "password_file", "ca_file", "cert_file",
                  "key_file", "verify_hostname", "clean_session", "keep_alive"});
    check_id(c, t, p, b.id);
    std::string type;
    c.string(t, "type", p, type, true);
    static constexpr std::array kMqttKeys = {"url", "client_id", "protocol", "username", "password_file",
                                             "ca_file", "cert_file", "key_file", "verify_hostname",
                                             "clean_session", "keep_alive"};
    if (type != "mqtt") {
      for (auto key : kMqttKeys) {
        if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for type = \"mqtt\"");
      }
    }
    if (type == "mqtt") {
      b.type = BusType::kMqtt;
      load_mqtt_bus(c, t, p, b);
      for (auto key : {"host", "port", "device", "baud", "parity", "data_bits", "stop_bits", "frame_gap",
                       "timeout", "probe_timeout", "backoff_initial", "backoff_max"}) {
        if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for Modbus buses (tcp, rtu)");
      }
    } else if (type == "tcp") {
      b.type = BusType::kTcp;
      c.string(t, "host", p, b.host, true);
      c.integer_into(t, "port", p, b.port, 1, 65535);
      for (auto key : {"device", "baud", "parity", "data_bits", "stop_bits", "frame_gap"}) {
        if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for type = \"rtu\"");
      }
    } else if (type == "rtu") {
      b.type = BusType::kRtu;
      c.string(t, "device", p, b.device, true);
      c.integer_into(t, "baud", p, b.baud, 1200, 921600);
      std::string parity = "N";
      c.string(t, "parity", p, parity);
      if (parity != "N" && parity != "E" && parity != "O") {
        c.error(t.get("parity"), p + ".parity", "must be \"N\", \"E\" or \"O\"");
      } else {
        b.parity = parity[0];
      }
      c.integer_into(t, "data_bits", p, b.data_bits, 7, 8);
      c.integer_into(t, "stop_bits", p, b.stop_bits, 1, 2);
      c.duration(t, "frame_gap", p, b.frame_gap, 0ms, 1000ms);
      for (auto key : {"host", "port"}) {
        if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for type = \"tcp\"");
      }
    } else if (!type.empty()) {
      c.error(t.get("type"), p + ".type", fmt::format("\"{}\" is not \"tcp\", \"rtu\" or \"mqtt\"", type));
    }
    c.duration(t, "timeout", p, b.timeout, 50ms, 30s);
    c.duration(t, "probe_timeout", p, b.probe_timeout, 50ms, 30s);
    if (b.probe_timeout > b.timeout) {
      // A probe never waits longer than any other request; only the default is lowered silently.
      if (t.get("probe_timeout")) {
        c.error(t.get("probe_timeout"), p + ".probe_timeout", "must not be longer than timeout");
      } else {
        b.probe_timeout = b.timeout;
      }
    }
    c.duration(t, "backoff_initial", p, b.backoff_initial, 100ms, 1h);
    c.duration(t, "backoff_max", p, b.backoff_max, 100ms, 24h);
    if (b.backoff_max < b.backoff_initial) {
      c.error(t.get("backoff_max") ? t.get("backoff_max") : &t, p + ".backoff_max",
              "must not be shorter than backoff_initial");
    }
    if (!b.id.empty()) {
      auto [it, inserted] = seen.emplace(b.id, t.get("id"));
      if (!inserted) {
        c.error(t.get("id"), p + ".id",
                fmt::format("duplicate bus id \"{}\" (first defined on line {})", b.id,
                            it->second->source().begin.line));
      }
    }
    buses.push_back(std::move(b));
  }
}

// Finds NAME.toml (or the path itself, when NAME contains a '/') in the search path.
std::optional<std::filesystem::path> resolve_profile(const std::string& name,
                                                     const std::vector<std::filesystem::path>& dirs) {
  std::error_code ec;
  if (name.find('/') != std::string::npos) {
    if (std::filesystem::is_regular_file(name, ec)) return std::filesystem::path(name);
    return std::nullopt;
  }
  for (const auto& dir : dirs) {
    auto p = dir / (name + ".toml");
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

// A device on an MQTT bus: a preset or MQTT profile, its topic id and variables; the Modbus keys
// are errors. Duplicate ids are checked by the caller's loop only for Modbus devices, so they are
// checked here too.
void load_mqtt_device(TomlChecker& c, const toml::table& t, const std::string& p,
                      const std::vector<std::filesystem::path>& profile_dirs, DeviceConfig& d) {
  for (auto key : {"unit_id", "setpoint_revert", "heartbeat", "failsafe"}) {
    if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for Modbus devices");
  }
  d.topic_id = d.id;
  c.string(t, "topic_id", p, d.topic_id);
  if (!adapters::mqtt::valid_topic_variable(d.topic_id)) {
    c.error(t.get("topic_id") ? t.get("topic_id") : t.get("id"), p + ".topic_id",
            "must be 1-256 bytes without + or #");
  }
  if (const toml::node* vars = t.get("variables")) {
    if (const toml::table* vt = vars->as_table()) {
      for (const auto& [key, value] : *vt) {
        const auto v = value.value<std::string>();
        if (!v) {
          c.error(&value, p + ".variables." + std::string(key.str()), "must be a string");
          continue;
        }
        d.variables[std::string(key.str())] = *v;
      }
    } else {
      c.error(vars, p + ".variables", "must be a table of name = \"value\"");
    }
  }
  if (d.profile.empty()) return;
  if (d.profile == kSunSpecProfile) {
    c.error(t.get("profile"), p + ".profile", "\"sunspec\" is a Modbus profile; this device is on an MQTT bus");
    return;
  }
  if (adapters::mqtt::builtin_preset(d.profile)) return;  // profile_path stays empty
  if (profile_dirs.empty()) return;
  std::vector<std::filesystem::path> dirs;
  for (const auto& dir : profile_dirs) {
    dirs.push_back(dir / "mqtt");
    dirs.push_back(dir);
  }
  if (auto path = resolve_profile(d.profile, dirs)) {
    d.profile_path = *path;
    return;
  }
  std::string presets;
  for (const auto name : adapters::mqtt::builtin_preset_names()) presets += (presets.empty() ? "" : ", ") + std::string(name);
  c.error(t.get("profile"), p + ".profile",
          fmt::format("no MQTT preset or profile \"{}\" (presets: {}; or NAME.toml in a profiles/mqtt folder)",
                      d.profile, presets));
}

void load_modbus_device(TomlChecker& c, const toml::table& t, const std::string& p,
                        const std::vector<std::filesystem::path>& profile_dirs, DeviceConfig& d);

void load_devices(TomlChecker& c, const toml::table& root, const std::vector<BusConfig>& buses,
                  const std::vector<std::filesystem::path>& profile_dirs,
                  std::vector<DeviceConfig>& devices) {
  const toml::node* node = root.get("devices");
  if (node == nullptr) return;
  const toml::array* arr = node->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    c.error(node, "devices", "must be an array of tables ([[devices]])");
    return;
  }
  std::map<std::string, const toml::node*> seen;
  std::map<std::pair<std::string, int>, std::string> units;  // (bus, unit id) -> device id
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table& t = *arr->get(i)->as_table();
    const std::string p = fmt::format("devices[{}]", i);
    DeviceConfig d;
    c.known_keys(t, p, {"id", "name", "kind", "bus", "unit_id", "profile", "enabled", "setpoint_revert",
                        "heartbeat", "failsafe", "topic_id", "variables"});
    d.line = static_cast<int>(t.source().begin.line);
    check_id(c, t, p, d.id);
    c.string(t, "name", p, d.name);
    std::string kind;
    c.string(t, "kind", p, kind, true);
    if (!kind.empty()) {
      if (auto k = adapters::parse_device_kind(kind)) {
        d.kind = *k;
      } else {
        c.error(t.get("kind"), p + ".kind",
                fmt::format("\"{}\" is not one of inverter, battery, meter, ev_charger, other", kind));
      }
    }
    c.string(t, "bus", p, d.bus, true);
    const auto bus_it = std::find_if(buses.begin(), buses.end(), [&](const BusConfig& b) { return b.id == d.bus; });
    d.mqtt = bus_it != buses.end() && bus_it->type == BusType::kMqtt;
    c.string(t, "profile", p, d.profile, true);
    c.boolean(t, "enabled", p, d.enabled);
    if (d.mqtt) {
      load_mqtt_device(c, t, p, profile_dirs, d);
    } else {
      load_modbus_device(c, t, p, profile_dirs, d);
    }
    if (!d.bus.empty() &&
        std::none_of(buses.begin(), buses.end(), [&](const BusConfig& b) { return b.id == d.bus; })) {
      c.error(t.get("bus"), p + ".bus", fmt::format("no bus with id \"{}\" is defined", d.bus));
    }
    if (!d.id.empty()) {
      auto [it, inserted] = seen.emplace(d.id, t.get("id"));
      if (!inserted) {
        c.error(t.get("id"), p + ".id",
                fmt::format("duplicate device id \"{}\" (first defined on line {})", d.id,
                            it->second->source().begin.line));
      }
    }
    if (!d.bus.empty() && !d.mqtt) {
      auto [it, inserted] = units.emplace(std::pair{d.bus, d.unit_id}, d.id);
      if (!inserted) {
        c.error(t.get("unit_id") ? t.get("unit_id") : &t, p + ".unit_id",
                fmt::format("unit id {} on bus \"{}\" is already used by device \"{}\"", d.unit_id,
                            d.bus, it->second));
      }
    }
    devices.push_back(std::move(d));
  }
}

// A device on a Modbus bus: unit id, "sunspec" or a register-map profile, setpoint settings.
void load_modbus_device(TomlChecker& c, const toml::table& t, const std::string& p,
                        const std::vector<std::filesystem::path>& profile_dirs, DeviceConfig& d) {
  for (auto key : {"topic_id", "variables"}) {
    if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for devices on an MQTT bus");
  }
  c.integer_into(t, "unit_id", p, d.unit_id, 1, 247);
  if (!profile_dirs.empty() && !d.profile.empty() && d.profile != kSunSpecProfile) {
    if (auto path = resolve_profile(d.profile, profile_dirs)) {
      d.profile_path = *path;
    } else {
      std::string where;
      for (const auto& dir : profile_dirs) where += (where.empty() ? "" : ", ") + dir.string();
      c.error(t.get("profile"), p + ".profile",
              fmt::format("no profile \"{}\" (\"sunspec\", or NAME.toml in {})", d.profile, where));
    }
  }
  c.duration(t, "setpoint_revert", p, d.setpoint_revert, 3s, 24h);
  c.duration(t, "heartbeat", p, d.heartbeat, 0ms, 1h);
  if (const toml::node* fs = t.get("failsafe")) {
    if (const toml::table* ft = fs->as_table()) {
      for (const auto& [key, value] : *ft) {
        const auto v = value.value<double>();
        if (!v || !std::isfinite(*v)) {
          c.error(&value, p + ".failsafe." + std::string(key.str()), "must be a number");
          continue;
        }
        const std::string point(key.str());
        const std::string kp = p + ".failsafe." + point;
        if (d.profile == kSunSpecProfile) {
          // SunSpec devices: only the controls Gridlet writes, within their fixed range.
          const auto* control = adapters::modbus::find_sunspec_control(point);
          if (control == nullptr) {
            c.error(&value, kp, "not a SunSpec control Gridlet writes (see README, Setpoints)");
            continue;
          }
          const auto info = adapters::modbus::sunspec_control_info(*control, {});
          if ((info.min && *v < *info.min) || (info.max && *v > *info.max)) {
            c.error(&value, kp, fmt::format("{} is outside the control's range", *v));
            continue;
          }
        }
        d.failsafe[point] = *v;
        d.failsafe_lines[point] = static_cast<int>(value.source().begin.line);
      }
    } else {
      c.error(fs, p + ".failsafe", "must be a table of point = value");
    }
  }
}

void load_mqtt(TomlChecker& c, const toml::table& root, const std::vector<BusConfig>& buses, MqttConfig& m) {
  const toml::table* t = c.table(root, "mqtt", "");
  if (t == nullptr) return;
  c.known_keys(*t, "mqtt", {"enabled", "bus", "topic_prefix", "discovery", "discovery_prefix", "control",
                            "dr_events", "qos", "outbox_size", "min_interval", "max_interval", "deadband", "points"});
  c.boolean(*t, "enabled", "mqtt", m.enabled);
  c.string(*t, "bus", "mqtt", m.bus, m.enabled);
  if (!m.bus.empty()) {
    const auto it = std::find_if(buses.begin(), buses.end(), [&](const BusConfig& b) { return b.id == m.bus; });
    if (it == buses.end()) {
      c.error(t->get("bus"), "mqtt.bus", fmt::format("no bus with id \"{}\" is defined", m.bus));
    } else if (it->type != BusType::kMqtt) {
      c.error(t->get("bus"), "mqtt.bus", fmt::format("bus \"{}\" is not an MQTT bus (type = \"mqtt\")", m.bus));
    }
  }
  c.string(*t, "topic_prefix", "mqtt", m.topic_prefix);
  if (!adapters::valid_id(m.topic_prefix)) {
    c.error(t->get("topic_prefix"), "mqtt.topic_prefix", "must be 1-64 of a-z 0-9 _ -");
  }
  c.boolean(*t, "discovery", "mqtt", m.discovery);
  c.string(*t, "discovery_prefix", "mqtt", m.discovery_prefix);
  if (!adapters::valid_id(m.discovery_prefix)) {
    c.error(t->get("discovery_prefix"), "mqtt.discovery_prefix", "must be 1-64 of a-z 0-9 _ -");
  }
  c.boolean(*t, "control", "mqtt", m.control);
  c.boolean(*t, "dr_events", "mqtt", m.dr_events);
  c.integer_into(*t, "qos", "mqtt", m.qos, 0, 1);
  c.size(*t, "outbox_size", "mqtt", m.outbox_bytes, 64 * 1024);
  // Publishing rules: the defaults, then [[mqtt.points]] for single points (unset keys take the
  // defaults).
  auto rule = [&](const toml::table& rt, const std::string& p, std::chrono::milliseconds& min_interval,
                  std::chrono::milliseconds& max_interval, double& deadband) {
    c.duration(rt, "min_interval", p, min_interval, 0ms, 1h);
    c.duration(rt, "max_interval", p, max_interval, 1s, 24h);
    if (max_interval < min_interval) {
      c.error(rt.get("max_interval") ? rt.get("max_interval") : &rt, p + ".max_interval",
              "must not be shorter than min_interval");
    }
    if (const auto d = c.number(rt, "deadband", p)) {
      if (*d < 0) {
        c.error(rt.get("deadband"), p + ".deadband", "must not be negative");
      } else {
        deadband = *d;
      }
    }
  };
  rule(*t, "mqtt", m.min_interval, m.max_interval, m.deadband);
  if (const toml::node* node = t->get("points")) {
    const toml::array* arr = node->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      c.error(node, "mqtt.points", "must be an array of tables ([[mqtt.points]])");
      return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::table& pt = *arr->get(i)->as_table();
      const std::string p = fmt::format("mqtt.points[{}]", i);
      c.known_keys(pt, p, {"device", "point", "min_interval", "max_interval", "deadband"});
      MqttConfig::PointRule r{"", "", m.min_interval, m.max_interval, m.deadband};
      c.string(pt, "device", p, r.device, true);
      c.string(pt, "point", p, r.point, true);
      rule(pt, p, r.min_interval, r.max_interval, r.deadband);
      m.points.push_back(std::move(r));
    }
  }
}

void load_dr(TomlChecker& c, const toml::table& root, DrConfig& dr) {
  const toml::table* t = c.table(root, "dr", "");
  if (t == nullptr) return;
  c.known_keys(*t, "dr", {"enabled"});
  c.boolean(*t, "enabled", "dr", dr.enabled);
}

void load_ledger(TomlChecker& c, const toml::table& root, LedgerConfig& l) {
  const toml::table* t = c.table(root, "ledger", "");
  if (t == nullptr) return;
  c.known_keys(*t, "ledger", {"enabled", "genesis", "key_file"});
  c.boolean(*t, "enabled", "ledger", l.enabled);
  std::string genesis, key;
  c.string(*t, "genesis", "ledger", genesis, l.enabled);
  c.string(*t, "key_file", "ledger", key, l.enabled);
  l.genesis = genesis;
  l.key_file = key;
}

}  // namespace

bool parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon);
  const std::string_view p = text.substr(colon + 1);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  for (char ch : p) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<unsigned>(ch - '0');
  }
  if (v > 65535) return false;
  host = std::string(h);
  port = static_cast<std::uint16_t>(v);
  return true;
}

std::filesystem::path Config::tokens_path() const {
  return api.tokens_file.empty() ? storage.data_dir / "tokens" : api.tokens_file;
}

std::vector<std::filesystem::path> profile_search_path(const std::filesystem::path& config_path) {
  const auto dir = config_path.has_parent_path() ? config_path.parent_path() : std::filesystem::path(".");
  return {dir / "profiles", dir / ".." / "profiles", "/etc/gridlet/profiles",
          "/usr/share/gridlet/profiles"};
}

LoadResult load_config_string(std::string_view toml_text, std::string_view source_name,
                              const std::vector<std::filesystem::path>& profile_dirs) {
  LoadResult result;
  TomlChecker c{std::string(source_name)};
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    ConfigError err;
    err.file = std::string(source_name);
    err.line = static_cast<int>(e.source().begin.line);
    err.column = static_cast<int>(e.source().begin.column);
    err.message = std::string(e.description());
    result.errors.push_back(std::move(err));
    return result;
  }
  Config cfg;
  cfg.source = std::string(source_name);
  c.known_keys(root, "", {"site", "log", "storage", "api", "buses", "devices", "mqtt", "dr", "ledger"});
  load_site(c, root, cfg.site);
  load_log(c, root, cfg.log);
  load_storage(c, root, cfg.storage);
  load_api(c, root, cfg.api);
  load_buses(c, root, cfg.buses);
  load_devices(c, root, cfg.buses, profile_dirs, cfg.devices);
  load_mqtt(c, root, cfg.buses, cfg.mqtt);
  for (auto& b : cfg.buses) {
    if (b.type == BusType::kMqtt && b.client_id.empty()) b.client_id = "gridlet-" + cfg.site.id + "-" + b.id;
  }
  load_dr(c, root, cfg.dr);
  load_ledger(c, root, cfg.ledger);
  result.errors = c.take_errors();
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

LoadResult load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(ConfigError{path.string(), 0, 0, "", "cannot read the file"});
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  constexpr std::size_t kMaxConfigBytes = 4 << 20;
  if (text.str().size() > kMaxConfigBytes) {
    LoadResult r;
    r.errors.push_back(ConfigError{path.string(), 0, 0, "", "file is larger than 4 MiB"});
    return r;
  }
  LoadResult result = load_config_string(text.str(), path.string(), profile_search_path(path));
  if (!result.config) return result;
  // Each profile is parsed once; its own mistakes are configuration errors too, with their place.
  auto& profiles = result.config->profiles;
  std::set<std::filesystem::path> checked;
  for (const auto& d : result.config->devices) {
    if (d.mqtt || d.profile_path.empty() || !checked.insert(d.profile_path).second) continue;
    auto loaded = adapters::modbus::load_profile_file(d.profile_path);
    for (const auto& e : loaded.errors) {
      result.errors.push_back(ConfigError{e.file, e.line, e.column, e.key_path, e.message});
    }
    if (loaded.profile) {
      profiles.emplace(d.profile_path, std::make_shared<const adapters::modbus::Profile>(std::move(*loaded.profile)));
    }
  }
  // MQTT profiles (presets and files), each parsed once, and every MQTT device bound to its
  // topics: a variable the profile does not declare, or a topic id that makes a bad topic, is
  // an error at the device.
  auto& mqtt_profiles = result.config->mqtt_profiles;
  for (std::size_t i = 0; i < result.config->devices.size(); ++i) {
    const auto& d = result.config->devices[i];
    if (!d.mqtt || d.profile.empty()) continue;
    const std::string key = d.mqtt_profile_key();
    if (!mqtt_profiles.contains(key)) {
      auto loaded = d.profile_path.empty() ? adapters::mqtt::load_builtin_preset(d.profile)
                                           : adapters::mqtt::load_profile_file(d.profile_path);
      for (const auto& e : loaded.errors) {
        result.errors.push_back(ConfigError{e.file, e.line, e.column, e.key_path, e.message});
      }
      if (!loaded.profile) continue;
      mqtt_profiles.emplace(key, std::make_shared<const adapters::mqtt::Profile>(std::move(*loaded.profile)));
    }
    adapters::mqtt::Variables vars(d.variables.begin(), d.variables.end());
    const auto bound = adapters::mqtt::bind_device(mqtt_profiles.at(key), d.topic_id, vars);
    for (const auto& e : bound.errors) {
      result.errors.push_back(ConfigError{path.string(), d.line, 1, fmt::format("devices[{}]", i), e});
    }
  }
  // Fail-safe values of profile devices: a writable point of the profile, within its range.
  for (std::size_t i = 0; i < result.config->devices.size(); ++i) {
    const auto& d = result.config->devices[i];
    if (d.mqtt || d.profile_path.empty() || d.failsafe.empty()) continue;
    const auto it = profiles.find(d.profile_path);
    if (it == profiles.end()) continue;  // its errors are reported above
    const adapters::modbus::Profile& profile = *it->second;
    for (const auto& [point, value] : d.failsafe) {
      const auto* pt = profile.find(point);
      std::string why;
      if (pt == nullptr || !pt->writable()) {
        why = fmt::format("the profile {} has no writable point \"{}\"", profile.name, point);
      } else if ((pt->min && value < *pt->min) || (pt->max && value > *pt->max)) {
        why = fmt::format("{} is outside the point's min/max", value);
      }
      if (!why.empty()) {
        result.errors.push_back(ConfigError{path.string(), d.failsafe_lines.at(point), 1,
                                            fmt::format("devices[{}].failsafe.{}", i, point), why});
      }
    }
  }
  if (!result.errors.empty()) result.config.reset();
  return result;
}

ReloadPlan plan_reload(const Config& running, const Config& next) {
  ReloadPlan plan;
  auto note = [&](bool changed, bool live, std::string key) {
    if (!changed) return;
    (live ? plan.applied : plan.restart_required).push_back(std::move(key));
  };
  note(running.log.level != next.log.level, true, "log.level");
  note(running.site.name != next.site.name, true, "site.name");
  note(running.api.tokens_file != next.api.tokens_file, true, "api.tokens_file");
  note(running.site.id != next.site.id, false, "site.id");
  note(running.storage != next.storage, false, "storage");
  note(running.api.listen_host != next.api.listen_host || running.api.listen_port != next.api.listen_port,
       false, "api.listen");
  note(running.api.max_connections != next.api.max_connections, false, "api.max_connections");
  note(running.api.max_connections_per_address != next.api.max_connections_per_address, false,
       "api.max_connections_per_address");
  note(running.api.max_header_connections != next.api.max_header_connections, false,
       "api.max_header_connections");
  note(running.api.header_timeout != next.api.header_timeout, false, "api.header_timeout");
  // Buses and pollers are built at start; a changed device set needs a restart.
  note(running.devices != next.devices, false, "devices");
  note(running.buses != next.buses, false, "buses");
  note(running.mqtt != next.mqtt, false, "mqtt");
  note(running.dr != next.dr, false, "dr");
  note(running.ledger != next.ledger, false, "ledger");
  return plan;
}

}  // namespace gridlet::config
