// Loading and validating the TOML configuration. Every check records an error and goes on, so
// one run of `gatewayd check-config` reports every problem in the file.
#include "gateway/config/config.hpp"

#include <toml++/toml.h>

#include "adapters/modbus/control.hpp"
#include "adapters/modbus/profile.hpp"

#include <algorithm>
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

using namespace std::chrono_literals;

// Collects errors while walking the document; all positions come from toml++ source regions.
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  void error(const toml::node* node, std::string key_path, std::string message) {
    error_at(node != nullptr ? node->source() : toml::source_region{}, std::move(key_path),
             std::move(message));
  }

  void error_at(const toml::source_region& where, std::string key_path, std::string message) {
    ConfigError e;
    e.file = file_;
    e.line = static_cast<int>(where.begin.line);
    e.column = static_cast<int>(where.begin.column);
    e.key_path = std::move(key_path);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  // Reports every key of `table` not in `allowed`.
  void known_keys(const toml::table& table, const std::string& path,
                  std::initializer_list<std::string_view> allowed) {
    for (const auto& entry : table) {
      const toml::key& key = entry.first;
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        error_at(key.source(), join(path, key.str()), "unknown key");
      }
    }
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  const toml::table* table(const toml::table& parent, std::string_view key, const std::string& path) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      error(node, join(path, key), "must be a table");
      return nullptr;
    }
    return node->as_table();
  }

  void string(const toml::table& t, std::string_view key, const std::string& path, std::string& out,
              bool required = false) {
    const toml::node* node = t.get(key);
    if (node == nullptr) {
      if (required) error(&t, join(path, key), "required key is missing");
      return;
    }
    if (auto v = node->value<std::string>(); v && node->is_string()) {
      out = *v;
    } else {
      error(node, join(path, key), "must be a string");
    }
  }

  void boolean(const toml::table& t, std::string_view key, const std::string& path, bool& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return;
    if (!node->is_boolean()) {
      error(node, join(path, key), "must be true or false");
      return;
    }
    out = *node->value<bool>();
  }

  template <typename Int>
  void integer(const toml::table& t, std::string_view key, const std::string& path, Int& out,
               std::int64_t min, std::int64_t max, bool required = false) {
    const toml::node* node = t.get(key);
    if (node == nullptr) {
      if (required) error(&t, join(path, key), "required key is missing");
      return;
    }
    if (!node->is_integer()) {
      error(node, join(path, key), "must be an integer");
      return;
    }
    const std::int64_t v = *node->value<std::int64_t>();
    if (v < min || v > max) {
      error(node, join(path, key), fmt::format("{} is out of range [{}, {}]", v, min, max));
      return;
    }
    out = static_cast<Int>(v);
  }

  // Durations are strings with a unit ("250ms", "1s", "5m", "2h", "7d") or "forever" when allowed.
  void duration(const toml::table& t, std::string_view key, const std::string& path,
                std::chrono::milliseconds& out, std::chrono::milliseconds min,
                std::chrono::milliseconds max, bool allow_forever = false) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return;
    const auto text = node->value<std::string>();
    if (!node->is_string() || !text) {
      error(node, join(path, key), "must be a duration string such as \"500ms\", \"1s\", \"7d\"");
      return;
    }
    if (allow_forever && *text == "forever") {
      out = 0ms;
      return;
    }
    auto parsed = parse_duration(*text);
    if (!parsed) {
      error(node, join(path, key),
            fmt::format("\"{}\" is not a duration (use a number and ms, s, m, h or d{})", *text,
                        allow_forever ? ", or \"forever\"" : ""));
      return;
    }
    if (*parsed < min || *parsed > max) {
      error(node, join(path, key),
            fmt::format("{} is out of range [{}ms, {}ms]", *text, min.count(), max.count()));
      return;
    }
    out = *parsed;
  }

  // Sizes are integers (bytes) or strings with a unit ("512MiB", "2GiB", "100MB").
  void size(const toml::table& t, std::string_view key, const std::string& path, std::uint64_t& out,
            std::uint64_t min) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return;
    std::optional<std::uint64_t> parsed;
    if (node->is_integer() && *node->value<std::int64_t>() >= 0) {
      parsed = static_cast<std::uint64_t>(*node->value<std::int64_t>());
    } else if (node->is_string()) {
      parsed = parse_size(*node->value<std::string>());
    }
    if (!parsed) {
      error(node, join(path, key), "must be a size such as \"512MiB\" or \"2GiB\"");
      return;
    }
    if (*parsed < min) {
      error(node, join(path, key), fmt::format("must be at least {} bytes", min));
      return;
    }
    out = *parsed;
  }

  // Parses "<digits><unit>"; nullopt when malformed or when the result does not fit in 63 bits.
  static std::optional<std::uint64_t> parse_scaled(std::string_view s,
                                                   const std::map<std::string_view, std::uint64_t>& units) {
    std::size_t i = 0;
    std::uint64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (__builtin_mul_overflow(n, 10u, &n) ||
          __builtin_add_overflow(n, static_cast<std::uint64_t>(s[i] - '0'), &n)) {
        return std::nullopt;
      }
      ++i;
    }
    if (i == 0) return std::nullopt;
    auto it = units.find(s.substr(i));
    if (it == units.end()) return std::nullopt;
    std::uint64_t out = 0;
    if (__builtin_mul_overflow(n, it->second, &out) || out > static_cast<std::uint64_t>(INT64_MAX)) {
      return std::nullopt;
    }
    return out;
  }

  static std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
    static const std::map<std::string_view, std::uint64_t> kUnitsMs{
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    const auto ms = parse_scaled(s, kUnitsMs);
    if (!ms) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
  }

  static std::optional<std::uint64_t> parse_size(std::string_view s) {
    static const std::map<std::string_view, std::uint64_t> kUnits{
        {"", 1},          {"B", 1},          {"KB", 1000},      {"MB", 1000'000},
        {"GB", 1000'000'000}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}};
    return parse_scaled(s, kUnits);
  }

  std::vector<ConfigError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

void check_id(Checker& c, const toml::table& t, const std::string& path, std::string& out) {
  c.string(t, "id", path, out, /*required=*/true);
  if (!out.empty() && !valid_id(out)) {
    c.error(t.get("id"), path + ".id",
            fmt::format("\"{}\" is not a valid id (1-64 of a-z, 0-9, '_', '-')", out));
  }
}

void load_site(Checker& c, const toml::table& root, SiteConfig& site) {
  const toml::table* t = c.table(root, "site", "");
  if (t == nullptr) {
    if (root.get("site") == nullptr) c.error(&root, "site", "required table [site] is missing");
    return;
  }
  c.known_keys(*t, "site", {"id", "name"});
  check_id(c, *t, "site", site.id);
  c.string(*t, "name", "site", site.name);
}

void load_log(Checker& c, const toml::table& root, LogConfig& log) {
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

void load_storage(Checker& c, const toml::table& root, StorageConfig& s) {
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
  c.integer(*t, "max_batch_samples", p, s.max_batch_samples, 100, 1'000'000);
  c.integer(*t, "queue_limit_samples", p, s.queue_limit_samples, 1000, 100'000'000);
  constexpr auto kYears100 = std::chrono::milliseconds(std::chrono::hours(24 * 365 * 100));
  c.duration(*t, "raw_retention", p, s.raw_retention, std::chrono::hours(1), kYears100, true);
  c.duration(*t, "rollup_1m_retention", p, s.rollup_1m_retention, std::chrono::hours(1), kYears100,
             true);
  c.duration(*t, "rollup_15m_retention", p, s.rollup_15m_retention, std::chrono::hours(1),
             kYears100, true);
  c.size(*t, "disk_budget", p, s.disk_budget_bytes, 16ULL << 20);
}

void load_api(Checker& c, const toml::table& root, ApiConfig& api) {
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
  c.integer(*t, "max_connections", "api", api.max_connections, 1, 4096);
  c.integer(*t, "max_connections_per_address", "api", api.max_connections_per_address, 1, 4096);
  c.integer(*t, "max_header_connections", "api", api.max_header_connections, 1, 4096);
  c.duration(*t, "header_timeout", "api", api.header_timeout, std::chrono::milliseconds(100),
             std::chrono::seconds(60));
}

void load_buses(Checker& c, const toml::table& root, std::vector<BusConfig>& buses) {
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
                  "frame_gap", "timeout", "probe_timeout", "backoff_initial", "backoff_max"});
    check_id(c, t, p, b.id);
    std::string type;
    c.string(t, "type", p, type, true);
    if (type == "tcp") {
      b.type = BusType::kTcp;
      c.string(t, "host", p, b.host, true);
      c.integer(t, "port", p, b.port, 1, 65535);
      for (auto key : {"device", "baud", "parity", "data_bits", "stop_bits", "frame_gap"}) {
        if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for type = \"rtu\"");
      }
    } else if (type == "rtu") {
      b.type = BusType::kRtu;
      c.string(t, "device", p, b.device, true);
      c.integer(t, "baud", p, b.baud, 1200, 921600);
      std::string parity = "N";
      c.string(t, "parity", p, parity);
      if (parity != "N" && parity != "E" && parity != "O") {
        c.error(t.get("parity"), p + ".parity", "must be \"N\", \"E\" or \"O\"");
      } else {
        b.parity = parity[0];
      }
      c.integer(t, "data_bits", p, b.data_bits, 7, 8);
      c.integer(t, "stop_bits", p, b.stop_bits, 1, 2);
      c.duration(t, "frame_gap", p, b.frame_gap, 0ms, 1000ms);
      for (auto key : {"host", "port"}) {
        if (t.get(key)) c.error(t.get(key), p + "." + key, "only valid for type = \"tcp\"");
      }
    } else if (!type.empty()) {
      c.error(t.get("type"), p + ".type", fmt::format("\"{}\" is not \"tcp\" or \"rtu\"", type));
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

void load_devices(Checker& c, const toml::table& root, const std::vector<BusConfig>& buses,
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
                        "heartbeat", "failsafe"});
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
    c.integer(t, "unit_id", p, d.unit_id, 1, 247);
    c.string(t, "profile", p, d.profile, true);
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
    c.boolean(t, "enabled", p, d.enabled);
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
    if (!d.bus.empty()) {
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

void load_mqtt(Checker& c, const toml::table& root, MqttConfig& m) {
  const toml::table* t = c.table(root, "mqtt", "");
  if (t == nullptr) return;
  c.known_keys(*t, "mqtt", {"enabled", "broker", "client_id", "topic_prefix"});
  c.boolean(*t, "enabled", "mqtt", m.enabled);
  c.string(*t, "broker", "mqtt", m.broker);
  c.string(*t, "client_id", "mqtt", m.client_id);
  c.string(*t, "topic_prefix", "mqtt", m.topic_prefix);
  if (!(m.broker.starts_with("tcp://") || m.broker.starts_with("ssl://") ||
        m.broker.starts_with("mqtt://") || m.broker.starts_with("mqtts://"))) {
    c.error(t->get("broker"), "mqtt.broker", "must start with tcp://, ssl://, mqtt:// or mqtts://");
  }
}

void load_dr(Checker& c, const toml::table& root, DrConfig& dr) {
  const toml::table* t = c.table(root, "dr", "");
  if (t == nullptr) return;
  c.known_keys(*t, "dr", {"enabled"});
  c.boolean(*t, "enabled", "dr", dr.enabled);
}

void load_ledger(Checker& c, const toml::table& root, LedgerConfig& l) {
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

std::string ConfigError::format() const {
  std::string out = fmt::format("{}:{}:{}: error: ", file, line, column);
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::vector<std::filesystem::path> profile_search_path(const std::filesystem::path& config_path) {
  const auto dir = config_path.has_parent_path() ? config_path.parent_path() : std::filesystem::path(".");
  return {dir / "profiles", dir / ".." / "profiles", "/etc/gridlet/profiles",
          "/usr/share/gridlet/profiles"};
}

LoadResult load_config_string(std::string_view toml_text, std::string_view source_name,
                              const std::vector<std::filesystem::path>& profile_dirs) {
  LoadResult result;
  Checker c{std::string(source_name)};
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
  load_mqtt(c, root, cfg.mqtt);
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
    if (d.profile_path.empty() || !checked.insert(d.profile_path).second) continue;
    auto loaded = adapters::modbus::load_profile_file(d.profile_path);
    for (const auto& e : loaded.errors) {
      result.errors.push_back(ConfigError{e.file, e.line, e.column, e.key_path, e.message});
    }
    if (loaded.profile) {
      profiles.emplace(d.profile_path, std::make_shared<const adapters::modbus::Profile>(std::move(*loaded.profile)));
    }
  }
  // Fail-safe values of profile devices: a writable point of the profile, within its range.
  for (std::size_t i = 0; i < result.config->devices.size(); ++i) {
    const auto& d = result.config->devices[i];
    if (d.profile_path.empty() || d.failsafe.empty()) continue;
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
