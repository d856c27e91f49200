// Commissioning scan of an MQTT broker: which devices publish there, found by each vendor's own
// documented announcements, and which built-in preset (presets.hpp) and topic id each needs in
// gridlet.toml. Used by `gatewayd scan mqtt`.
//
// What is listened to (the filters in scan_filters()):
// - Shelly Gen2/Gen3 (Shelly Gen2+ API documentation: MQTT, Notifications, RPC Protocol, RPC
//   Channels, Shelly.GetDeviceInfo, Shelly.GetStatus): `<prefix>/online` ("true"/"false", the
//   device's last will), `<prefix>/events/rpc` (JSON-RPC notifications whose `src` is the device
//   id; NotifyStatus/NotifyFullStatus carry component statuses "switch:0", "em:0", ...). Each
//   prefix found is asked Shelly.GetDeviceInfo and Shelly.GetStatus by a request frame on
//   `<prefix>/rpc` whose `src` is ours; the answer comes on `<src>/rpc`. (`shellies/announce` is a
//   Gen1 topic; Gen2 documents it only as a user script, so it is not used.)
// - Tasmota (Tasmota documentation: MQTT, and its native discovery): the retained
//   `tasmota/discovery/<MAC>/config` (t: topic, ft: FullTopic, tp: prefixes, dn/fn: names, md:
//   module, sw: version, rl: relays) and `tasmota/discovery/<MAC>/sensors` (sn: the sensors,
//   "ENERGY" for an energy monitor), and `tele/<topic>/LWT` ("Online"/"Offline").
// - Zigbee2MQTT (its documentation: MQTT Topics and Messages, bridge/devices): the retained
//   `<base>/bridge/devices` array (friendly_name, ieee_address, type, definition {model, vendor,
//   description, exposes}); any one-level base topic, not only "zigbee2mqtt".
// - OpenDTU (docs/MQTT_Topics.md): `<base>/dtu/hostname`, `<base>/dtu/status`, and per inverter
//   `<base>/<serial>/name` and `<base>/<serial>/0/power`.
//
// Everything but run_command() is pure: classify() turns one message into findings, Inventory
// merges them, chooses presets and says which RPC requests to send, and the to_* functions print.
// Any bytes are safe input (tests/fuzz/mqtt_scan_fuzz.cpp): a payload that cannot be used is
// counted and reported, never thrown.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "adapters/mqtt/client.hpp"

namespace gridlet::adapters::mqtt::scan {

enum class Vendor : std::uint8_t { kShelly, kTasmota, kZigbee2mqtt, kOpenDtu };
std::string_view to_string(Vendor v);  // "shelly", "tasmota", "zigbee2mqtt", "opendtu"

// Payloads over this size are not parsed (a Zigbee2MQTT bridge/devices list of a few hundred
// devices stays well below it).
inline constexpr std::size_t kMaxScanPayloadBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxScanJsonDepth = 64;

// What one message says about one device. Fields the message does not carry stay empty.
struct Finding {
  Vendor vendor = Vendor::kShelly;
  // The device's key: Shelly topic prefix, Tasmota topic, Zigbee2MQTT friendly name, OpenDTU
  // inverter serial. Empty for an OpenDTU DTU itself, for a Shelly RPC answer (matched by
  // rpc_id) and a Tasmota sensors message (matched by device_id, the MAC).
  std::string topic_id;
  std::string base;       // Zigbee2MQTT and OpenDTU base topic
  std::string seen;       // what said it: "online", "events/rpc", "GetDeviceInfo", "discovery", ...
  std::optional<bool> online;
  std::string device_id;  // Shelly device id, Tasmota MAC, Zigbee2MQTT IEEE address
  std::string name, model, manufacturer, firmware, mac, ip;
  std::string app;            // Shelly: "Plus1PM", "Pro3EM", ...
  std::string shelly_profile; // Shelly: "triphase", "monophase", ...
  std::optional<int> generation;  // Shelly gen
  std::vector<std::string> components;  // Shelly: "switch:0", "em:0", ...
  std::optional<bool> metering;    // power/energy values are there
  std::optional<bool> switchable;  // a relay or switch state is there
  std::optional<std::string> full_topic;         // Tasmota ft
  std::optional<std::vector<std::string>> prefixes;  // Tasmota tp
  std::string note;        // what stops a preset: "interview not completed", "not supported", ...
  std::optional<long long> rpc_id;  // a Shelly RPC answer: the request id
  bool is_dtu = false;     // OpenDTU: the DTU, not an inverter
};

struct Classification {
  bool known = false;              // the topic is one the scan listens to
  std::vector<Finding> findings;   // what it says (a bridge/devices list gives many)
  std::string problem;             // set when a known topic's payload could not be used
};

// One message. `reply_src` is the src of our RPC requests ("" : no answers expected).
Classification classify(std::string_view topic, std::string_view payload, std::string_view reply_src);

// The subscriptions of a scan whose RPC answers come to `<reply_src>/rpc`.
std::vector<std::string> scan_filters(std::string_view reply_src);

// A device as the scan sees it once every finding is merged.
struct Device {
  Vendor vendor = Vendor::kShelly;
  std::string topic_id, base;
  std::set<std::string> seen;
  std::optional<bool> online;
  std::string device_id, name, model, manufacturer, firmware, mac, ip, app, shelly_profile;
  std::optional<int> generation;
  std::set<std::string> components;
  std::optional<bool> metering, switchable;
  std::optional<std::string> full_topic;
  std::optional<std::vector<std::string>> prefixes;
  std::string note;
  bool is_dtu = false;
  std::size_t inverters = 0;  // a DTU: its inverters seen

  // Chosen by Inventory::devices():
  std::string preset;  // "" : none
  std::string kind;    // the preset's kind ("inverter", "meter", "other"); "other" without one
  std::string why;     // why there is no preset, or what to check about the one chosen
};

struct Stats {
  std::uint64_t messages = 0;  // every message classified
  std::uint64_t used = 0;      // a finding came of it
  std::uint64_t bad = 0;       // a known topic with a payload that could not be used
  std::vector<std::string> bad_examples;  // "topic: problem", the first few
  std::uint64_t requests = 0;  // RPC requests handed out
  std::uint64_t answers = 0;   // RPC answers received
};

class Inventory {
 public:
  explicit Inventory(std::string reply_src = "gridlet-scan");
  const std::string& reply_src() const { return reply_src_; }

  // classify() and merge; returns the classification (for tests and progress lines).
  Classification add(std::string_view topic, std::string_view payload);
  void merge(const Finding& finding);
  // The RPC requests not handed out yet: Shelly.GetDeviceInfo and Shelly.GetStatus for each
  // Shelly prefix found, once. Publish each as it is.
  std::vector<Message> take_requests();
  std::size_t unanswered_requests() const;
  // Devices first seen since the last call, as "vendor base/topic_id" (progress lines).
  std::vector<std::string> take_new();
  // Every device, presets chosen, in a stable order (vendor, base, topic id).
  std::vector<Device> devices() const;
  const Stats& stats() const { return stats_; }

 private:
  using Key = std::tuple<Vendor, std::string, std::string, bool>;  // vendor, base, topic id, dtu
  Device& device(const Key& key);
  std::string reply_src_;
  std::map<Key, Device> devices_;
  std::map<std::string, Finding> tasmota_sensors_;  // by MAC, until its config arrives
  std::set<std::string> asked_;                     // Shelly prefixes asked
  std::map<long long, std::string> pending_;        // request id -> Shelly prefix
  std::set<long long> answered_;
  long long next_id_ = 1;
  std::vector<std::string> new_;
  Stats stats_;
};

// What the scan ran against, for the outputs.
struct BrokerInfo {
  std::string url;
  std::string username;
  std::filesystem::path password_file, ca_file, cert_file, key_file;
  int version = 4;
  std::chrono::seconds listened{0};
};

// One JSON array, one device per line ("[]" when none): vendor, topic_id, base, device_id, name,
// model, manufacturer, firmware, mac, ip, online, components, metering, preset, kind, note, seen.
std::string to_json(const std::vector<Device>& devices);
// A table for people and a summary line (and the unusable messages, if any).
std::string to_table(const std::vector<Device>& devices, const Stats& stats, const BrokerInfo& broker);
// `[[buses]]` for the broker (id `bus_id`) and one `[[devices]]` per device with a preset
// (profile, topic_id, variables.base when not the preset's default); the others as comments.
std::string to_config_snippet(const std::vector<Device>& devices, const Stats& stats,
                              const BrokerInfo& broker, std::string_view bus_id);

// Everything `gatewayd scan mqtt` does.
struct Command {
  std::string url;                    // tcp://, ssl://, mqtt://, mqtts://
  std::chrono::seconds listen{10};
  enum class Output : std::uint8_t { kTable, kJson, kConfigSnippet };
  Output output = Output::kTable;
  std::string bus_id = "mqtt1";
  std::string username;
  std::filesystem::path password_file;  // the password alone in a file
  std::filesystem::path ca_file, cert_file, key_file;
  int version = 4;                      // 4: MQTT 3.1.1, 5: MQTT 5
  std::chrono::milliseconds connect_timeout{10000};
  bool progress = true;                 // progress lines on `err`
};

// Connects, listens, asks the Shelly devices, prints the chosen output on `out` and progress and
// problems on `err`. Returns 0 when the scan ran (found something or nothing), 2 for bad
// arguments, 3 when the broker could not be reached or refused us (the reason on `err`).
int run_command(const Command& command, std::ostream& out, std::ostream& err);

}  // namespace gridlet::adapters::mqtt::scan
