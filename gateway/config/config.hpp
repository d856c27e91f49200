// Gridlet's configuration: typed sections loaded from one TOML file and validated as a whole.
// Loading never throws: it returns either a Config or every problem found, each naming the file,
// line, column and key path, so an installer can fix them all in one pass.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/toml_diagnostics.hpp"
#include "gateway/api/limits.hpp"

namespace gridlet::adapters::modbus {
struct Profile;
}
namespace gridlet::adapters::mqtt {
struct Profile;
}

namespace gridlet::config {

struct SiteConfig {
  std::string id;    // short identifier, [a-z0-9_-], used in MQTT topics and ledger ids
  std::string name;  // human-readable

  bool operator==(const SiteConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off

  bool operator==(const LogConfig&) const = default;
};

struct StorageConfig {
  std::filesystem::path data_dir = "/var/lib/gridlet";
  std::chrono::milliseconds commit_interval{1000};  // 10 ms .. 60 s
  std::size_t max_batch_samples = 20000;            // samples per transaction
  std::size_t queue_limit_samples = 1000000;        // bounded ingest queue
  std::chrono::milliseconds raw_retention{std::chrono::hours(24 * 7)};         // 0 = forever
  std::chrono::milliseconds rollup_1m_retention{std::chrono::hours(24 * 90)};  // 0 = forever
  std::chrono::milliseconds rollup_15m_retention{0};                          // 0 = forever
  std::uint64_t disk_budget_bytes = 2ULL << 30;     // oldest raw, then 1-min data is dropped first

  bool operator==(const StorageConfig&) const = default;
};

struct ApiConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::filesystem::path tokens_file;  // default: <data_dir>/tokens
  std::size_t max_connections = api::kDefaultMaxConnections;
  std::size_t max_connections_per_address = api::kDefaultMaxConnectionsPerAddress;
  std::size_t max_header_connections = api::kDefaultMaxHeaderConnections;
  std::chrono::milliseconds header_timeout = api::kDefaultHeaderTimeout;

  bool operator==(const ApiConfig&) const = default;
};

enum class BusType : std::uint8_t { kTcp, kRtu, kMqtt };

struct BusConfig {
  std::string id;
  BusType type = BusType::kTcp;
  // TCP
  std::string host;
  std::uint16_t port = 502;
  // RTU
  std::string device;  // e.g. /dev/ttyUSB0
  int baud = 9600;
  char parity = 'N';  // N, E or O
  int data_bits = 8;
  int stop_bits = 1;
  std::chrono::milliseconds frame_gap{25};
  // both
  std::chrono::milliseconds timeout{1000};
  // The most a request to a unit that is not online (never answered, or backing off) waits:
  // a silent unit costs the line at most this per attempt. At most `timeout`.
  std::chrono::milliseconds probe_timeout{500};
  // A unit that stopped answering is asked again after backoff_initial, doubling to backoff_max.
  std::chrono::milliseconds backoff_initial{2000};
  std::chrono::milliseconds backoff_max{300000};
  // MQTT: a broker connection
  std::string url;        // tcp://, ssl://, mqtt:// or mqtts://
  std::string client_id;  // default "gridlet-<site>-<bus>"
  int mqtt_version = 4;   // protocol = "3.1.1" (4) or "5"
  std::string username;
  std::filesystem::path password_file;  // the password alone, in a file only its owner reads
  std::filesystem::path ca_file, cert_file, key_file;
  bool verify_hostname = true;
  bool clean_session = true;  // false: a persistent session (subscriptions and QoS 1 kept)
  std::chrono::milliseconds keep_alive{30000};

  bool modbus() const { return type != BusType::kMqtt; }
  bool operator==(const BusConfig&) const = default;
};

struct DeviceConfig {
  std::string id;
  std::string name;
  adapters::DeviceKind kind = adapters::DeviceKind::kOther;
  std::string bus;  // id of a [[buses]] entry
  int unit_id = 1;  // 1..247
  std::string profile;  // "sunspec" (discovered), or the name of a profile file (see below)
  bool enabled = true;
  // The profile file, resolved by load_config_file: the first of <config dir>/profiles/NAME.toml,
  // <config dir>/../profiles/NAME.toml, /etc/gridlet/profiles/NAME.toml,
  // /usr/share/gridlet/profiles/NAME.toml. Empty for "sunspec".
  std::filesystem::path profile_path;
  // Setpoints: the revert timer asked of SunSpec devices (kept alive at a third of it), the
  // controller heartbeat period (715 ControllerHb, 802 CtrlHb; 0 = off), and fail-safe values
  // written on release and at shutdown, by point (override the profile's `failsafe`).
  std::chrono::milliseconds setpoint_revert{60000};
  std::chrono::milliseconds heartbeat{10000};
  std::map<std::string, double> failsafe;
  std::map<std::string, int> failsafe_lines;  // where each failsafe key is, for later checks
  // MQTT devices (on a bus of type "mqtt"): `profile` is a built-in preset's name (profile_path
  // empty) or a profile file NAME.toml found as above or in a `mqtt/` folder there.
  bool mqtt = false;
  std::string topic_id;                          // the profile's {id}; default: the device id
  std::map<std::string, std::string> variables;  // the profile's other template variables
  int line = 0;                                  // where the device is defined

  // The key of this device's MQTT profile in Config::mqtt_profiles.
  std::string mqtt_profile_key() const {
    return profile_path.empty() ? "preset:" + profile : profile_path.string();
  }
  bool operator==(const DeviceConfig&) const = default;
};

// Publishing, Home Assistant discovery and the demand-response channel, on one MQTT bus.
struct MqttConfig {
  bool enabled = false;
  std::string bus;                       // id of a [[buses]] entry of type "mqtt"
  std::string topic_prefix = "gridlet";  // topics are <prefix>/<site>/...
  bool discovery = true;                 // Home Assistant MQTT discovery
  std::string discovery_prefix = "homeassistant";
  bool control = false;                  // accept setpoints over MQTT (Home Assistant entities)
  bool dr_events = false;                // accept demand-response events on <prefix>/<site>/dr/events
  // QoS of point messages: 0 (latest values, nothing kept while the broker is away) or 1 (every
  // published value goes through the outbox and reaches the broker in order, also after a crash).
  int qos = 0;
  // The outbox's budget: QoS 1 messages waiting for the broker beyond it drop the oldest first.
  std::uint64_t outbox_bytes = 8ULL << 20;
  // Publishing of points: at most one message per point per min_interval, an unchanged value
  // refreshed every max_interval, changes within the deadband (the point's unit) not published.
  std::chrono::milliseconds min_interval{1000};
  std::chrono::milliseconds max_interval{300000};
  double deadband = 0.0;
  struct PointRule {
    std::string device;
    std::string point;
    std::chrono::milliseconds min_interval{1000};
    std::chrono::milliseconds max_interval{300000};
    double deadband = 0.0;
    bool operator==(const PointRule&) const = default;
  };
  std::vector<PointRule> points;  // [[mqtt.points]]: another rule for one point

  bool operator==(const MqttConfig&) const = default;
};

struct DrConfig {
  bool enabled = false;

  bool operator==(const DrConfig&) const = default;
};

struct LedgerConfig {
  bool enabled = false;
  std::filesystem::path genesis;
  std::filesystem::path key_file;

  bool operator==(const LedgerConfig&) const = default;
};

struct Config {
  std::filesystem::path source;  // file it was loaded from
  SiteConfig site;
  LogConfig log;
  StorageConfig storage;
  ApiConfig api;
  std::vector<BusConfig> buses;
  std::vector<DeviceConfig> devices;
  MqttConfig mqtt;
  DrConfig dr;
  LedgerConfig ledger;
  // The register-map profiles the devices use, parsed once when the file was loaded (by
  // load_config_file; empty from load_config_string), by DeviceConfig::profile_path.
  std::map<std::filesystem::path, std::shared_ptr<const adapters::modbus::Profile>> profiles;
  // The MQTT profiles, the same way, by DeviceConfig::mqtt_profile_key().
  std::map<std::string, std::shared_ptr<const adapters::mqtt::Profile>> mqtt_profiles;

  // api.tokens_file, or <data_dir>/tokens when unset.
  std::filesystem::path tokens_path() const;
};

// A problem in the configuration: file, line, column, key path and message; format() gives
// "FILE:LINE:COL: error: KEY: MESSAGE" (adapters/toml_diagnostics.hpp, shared with profiles).
using ConfigError = adapters::TomlError;

struct LoadResult {
  std::optional<Config> config;     // set when errors is empty
  std::vector<ConfigError> errors;  // in file order
};

// Reads the file, validates it, resolves device profiles and reports the profiles' own errors.
LoadResult load_config_file(const std::filesystem::path& path);
// Validates text. Profiles are resolved in profile_dirs (none given: profiles are not checked).
LoadResult load_config_string(std::string_view toml_text, std::string_view source_name,
                              const std::vector<std::filesystem::path>& profile_dirs = {});

// Where profiles are looked for, for a configuration file at config_path.
std::vector<std::filesystem::path> profile_search_path(const std::filesystem::path& config_path);
inline constexpr std::string_view kSunSpecProfile = "sunspec";

// What changed between two valid configurations, split by whether SIGHUP can apply it.
struct ReloadPlan {
  std::vector<std::string> applied;           // key paths applied live
  std::vector<std::string> restart_required;  // key paths that need a restart
};
ReloadPlan plan_reload(const Config& running, const Config& next);

// Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080"); false when malformed.
bool parse_listen(std::string_view text, std::string& host, std::uint16_t& port);

}  // namespace gridlet::config
