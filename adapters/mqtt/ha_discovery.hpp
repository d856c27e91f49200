// Home Assistant MQTT discovery for the gateway's devices. From a description of one device (its
// points and controls) and of the gateway, builds the retained discovery messages that make Home
// Assistant show it, and the empty retained messages that remove it again.
//
// Pure: no clock, no I/O, no MQTT client, no exceptions out. The MQTT adapter publishes what these
// functions return (every message retained, QoS 1) and uses the *_topic functions below for its own
// state messages, so the topics Home Assistant listens to and the ones the gateway writes to are
// built in one place.
//
// What the gateway publishes (the contract the discovery documents describe):
//   gridlet/<site>/status                     "online" / "offline" (the gateway's last will)
//   gridlet/<site>/<device>/availability      "online" / "offline"
//   gridlet/<site>/<device>/<point>           {"value": 230.1, "unit": "V", "quality": "good", "ts": ...}
//                                             (quality: good | stale | missing | error; value may be null)
//   gridlet/<site>/<device>/<control>/set     written by Home Assistant, only with controls enabled:
//                                             a decimal number for a number, "ON" / "OFF" for a switch
// A value is shown while its quality is good or stale; missing or error shows as unknown.
//
// Guarantees (tested in tests/unit/ha_discovery_test.cpp against the rule checker in
// tests/unit/ha_rules.hpp):
// - every document passes Home Assistant's documented discovery rules: topic shape, unique_id,
//   device and origin blocks, availability (both the gateway and the device must be online:
//   availability_mode "all"), sensor device_class / unit / state_class combinations, number range;
// - the same input gives the same bytes (keys sorted, entities in input order, no clock);
// - object ids are [A-Za-z0-9_-] and distinct among one device's points (and among its controls):
//   ".", "[" and "]" and any other character are mapped, collisions are detected and the mapped
//   names get a suffix from a hash of the original name (reported as an issue). An id only changes
//   when a colliding point is added later;
// - unique ids ("gridlet:<site>:<device>:<object>") and device identifiers ("gridlet:<site>:<device>")
//   are joined with ':', which no part can contain, so two devices or two sites never collide
//   ("pv" + "total_w" and "pv_total" + "w" stay apart). The discovery topic's node id
//   ("gridlet_<site>_DEV_<device>") is unambiguous for the same reason: ids have no upper case.
// - a device with invalid ids, a point whose name cannot be a topic level, or a control with an
//   impossible range is left out and reported as an issue; nothing is thrown.
//
// Energy the device does not count. Home Assistant's Energy dashboard needs counters (device_class
// energy, state_class total_increasing). A battery whose profile has no charge / discharge energy
// counter gets no fake sensor: DeviceDiscovery::integrate_from_power names the missing counters and
// the power points they can be integrated from. Integrating is the gateway's job (not done here);
// when it publishes such a counter, it adds the point with integrated_from_power = true and the
// suggested name, and the next discovery shows it like a device counter.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/device.hpp"

namespace gridlet::adapters::mqtt {

// --- Input ----------------------------------------------------------------------------------------

enum class PointKind : std::uint8_t {
  kMeasured,  // an instantaneous value: power, voltage, state of charge
  kCounter,   // a total that only grows (until the device resets it): energy
  kStatus,    // an operating state or code
  kSetpoint,  // the read-back of a writable value
};

// What a point means, when the profile says so. Units decide the device class; the role names the
// entity and puts it in the curated set. The curated set starts enabled in Home Assistant: points
// with a role (that fits their unit), and every power and energy counter; all others start
// disabled (enabled_by_default false), and status codes and setpoint read-backs are diagnostic.
enum class PointRole : std::uint8_t {
  kNone,
  kGridImportEnergy,
  kGridExportEnergy,
  kPvProductionEnergy,
  kBatteryChargeEnergy,
  kBatteryDischargeEnergy,
  kPower,
  kStateOfCharge,
  kSwitchState,  // on/off state of a relay (nonzero = on)
  kAlarm,        // nonzero = a problem
};
std::string_view to_string(PointRole r);
bool is_energy_role(PointRole r);

struct PointSpec {
  std::string name;   // profile name, may hold '.', '[', ']': "inverter_three_phase.W", "battery.SoC"
  std::string unit;   // "W", "kW", "Wh", "kWh", "V", "A", "%", "Hz", "VA", "var", "°C", or ""
  PointKind kind = PointKind::kMeasured;
  PointRole role = PointRole::kNone;
  std::string label;  // entity name in Home Assistant; empty: from the role, else the point name
  bool integrated_from_power = false;  // a counter the gateway integrates (see the preamble)
};

enum class ControlKind : std::uint8_t { kNumber, kSwitch };
enum class NumberMode : std::uint8_t { kAuto, kBox, kSlider };

struct ControlSpec {
  std::string name;   // the control's name: the topic level before "/set"
  std::string label;  // entity name; empty: the control name
  ControlKind kind = ControlKind::kNumber;
  std::optional<double> min;   // a number needs both; min <= max
  std::optional<double> max;
  std::optional<double> step;  // Home Assistant's smallest step is 0.001; unset: its default (1)
  std::string unit;
  NumberMode mode = NumberMode::kBox;
  std::string state_point;  // the point that reads the value back; empty: no state (optimistic)
};

struct DeviceSpec {
  std::string id;  // valid_id
  std::string name;
  std::string manufacturer;
  std::string model;
  std::string sw_version;
  DeviceKind kind = DeviceKind::kOther;
  std::vector<PointSpec> points;
  std::vector<ControlSpec> controls;
};

struct GatewaySpec {
  std::string site;  // valid_id
  std::string topic_prefix = "gridlet";  // state topics are <topic_prefix>/<site>/...
  std::string discovery_prefix = "homeassistant";
  std::string sw_version;   // the gateway's version: origin and gateway device
  std::string support_url;  // origin support_url; empty: left out
  bool controls_enabled = false;  // control over MQTT (config); off: no number/switch entities
};

// --- Topics the gateway publishes (one definition for discovery and publisher) --------------------

std::string state_root(const GatewaySpec& gw);                      // <topic_prefix>/<site>
std::string gateway_status_topic(const GatewaySpec& gw);            // gridlet/<site>/status
std::string device_availability_topic(const GatewaySpec& gw, std::string_view device);
std::string point_state_topic(const GatewaySpec& gw, std::string_view device, std::string_view point);
std::string control_command_topic(const GatewaySpec& gw, std::string_view device,
                                  std::string_view control);
// True when `name` can be one MQTT topic level: not empty, no '/', '+', '#' or NUL.
bool valid_topic_level(std::string_view name);

// --- Output ---------------------------------------------------------------------------------------

struct DiscoveryMessage {
  std::string topic;    // <prefix>/<component>/<node_id>/<object_id>/config
  std::string payload;  // JSON document; empty removes the entity. Always published retained.
  friend bool operator==(const DiscoveryMessage&, const DiscoveryMessage&) = default;
};

struct DiscoveredEntity {
  std::string source;     // the point or control it shows
  bool control = false;   // true for a control (number, switch)
  std::string component;  // "sensor", "binary_sensor", "number", "switch"
  std::string object_id;
  std::string unique_id;
  DiscoveryMessage message;
};

// A counter the Energy dashboard needs that the device does not have.
struct EnergyIntegrationHint {
  PointRole role = PointRole::kNone;          // kBatteryChargeEnergy or kBatteryDischargeEnergy
  std::vector<std::string> from_power_points; // the device's power points, in input order
  std::string suggested_point;                // name to publish the integrated counter under (Wh)
};

struct DiscoveryIssue {
  std::string item;  // point or control name; empty for the device itself
  std::string what;
};

struct DeviceDiscovery {
  std::vector<DiscoveredEntity> entities;  // points first, then controls, each in input order
  std::vector<EnergyIntegrationHint> integrate_from_power;
  std::vector<DiscoveryIssue> issues;
  std::vector<DiscoveryMessage> messages() const;
};

// The object id a point or control name maps to before collisions are resolved.
std::string object_id_for(std::string_view name);

// The gateway's own device (a connectivity sensor on gridlet/<site>/status). Publish it first:
// every device names it as via_device.
std::vector<DiscoveryMessage> gateway_discovery(const GatewaySpec& gw);
DeviceDiscovery discover_device(const GatewaySpec& gw, const DeviceSpec& device);

// Messages that remove what was published: the same topics with empty payloads.
std::vector<DiscoveryMessage> removal_messages(std::span<const DiscoveryMessage> published);
// Removal of a device, from the description it was published with.
std::vector<DiscoveryMessage> device_removal_messages(const GatewaySpec& gw, const DeviceSpec& device);
// After a change of a device's description: removals for the topics `previous` had and `current`
// does not (publish them, then `current`).
std::vector<DiscoveryMessage> removed_since(std::span<const DiscoveryMessage> previous,
                                            std::span<const DiscoveryMessage> current);

}  // namespace gridlet::adapters::mqtt
