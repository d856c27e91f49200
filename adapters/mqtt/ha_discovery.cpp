#include "adapters/mqtt/ha_discovery.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace gridlet::adapters::mqtt {
namespace {

using json = nlohmann::json;

constexpr std::string_view kOriginName = "Gridlet";
constexpr std::string_view kOnline = "online";
constexpr std::string_view kOffline = "offline";
// Home Assistant's smallest number step (number.mqtt documentation).
constexpr double kMinNumberStep = 0.001;

// A value is shown while it can be trusted (good, or stale: device.hpp); otherwise the template
// renders "None", which Home Assistant's MQTT entities take as "state unknown".
constexpr std::string_view kValueTemplate =
    "{{ value_json.value if value_json.quality in ('good', 'stale') else None }}";
constexpr std::string_view kOnOffTemplate =
    "{% if value_json.quality not in ('good', 'stale') or value_json.value is none %}None"
    "{% elif value_json.value | float(0) != 0 %}ON{% else %}OFF{% endif %}";
// Quality and read time as entity attributes (value and unit are the state already).
constexpr std::string_view kAttributesTemplate =
    "{{ {'quality': value_json.get('quality'), 'ts': value_json.get('ts')} | tojson }}";

// --- Ids ------------------------------------------------------------------------------------------

std::string hex8(std::uint32_t v) {
  std::array<char, 9> buf{};
  std::snprintf(buf.data(), buf.size(), "%08x", v);
  return std::string(buf.data(), 8);
}

std::uint32_t fnv1a32(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string device_identifier(const GatewaySpec& gw, std::string_view device) {
  return "gridlet:" + gw.site + ":" + std::string(device);
}
std::string gateway_identifier(const GatewaySpec& gw) { return "gridlet:" + gw.site; }

// Node ids are [A-Za-z0-9_-] (the discovery topic rule). Site and device ids are lower case, so
// the upper-case "DEV" can only be the separator.
std::string device_node_id(const GatewaySpec& gw, std::string_view device) {
  return "gridlet_" + gw.site + "_DEV_" + std::string(device);
}
std::string gateway_node_id(const GatewaySpec& gw) { return "gridlet_" + gw.site; }

std::string discovery_topic(const GatewaySpec& gw, std::string_view component, std::string_view node,
                            std::string_view object) {
  std::string t = gw.discovery_prefix;
  t += '/';
  t += component;
  t += '/';
  t += node;
  t += '/';
  t += object;
  t += "/config";
  return t;
}

// Assigns every name an object id, distinct among `names` (which must be distinct). A name that
// is already a valid object id keeps it; a mapped name whose id collides with another gets the
// hash of its original spelling; a (hash) collision that remains is numbered in name order.
std::map<std::string, std::string> assign_object_ids(const std::vector<std::string>& names,
                                                     std::string_view what,
                                                     std::vector<DiscoveryIssue>& issues) {
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  std::map<std::string, std::vector<std::string>> by_base;
  for (const auto& n : sorted) by_base[object_id_for(n)].push_back(n);

  std::map<std::string, std::string> out;
  for (const auto& [base, group] : by_base) {
    for (const auto& n : group) {
      if (group.size() > 1 && n != base) {
        out[n] = base + "_" + hex8(fnv1a32(n));
        issues.push_back({n, std::string(what) + " object id '" + base + "' is shared with " +
                                 std::to_string(group.size() - 1) + " other name(s); using '" +
                                 out[n] + "'"});
      } else {
        out[n] = base;
      }
    }
  }
  std::set<std::string> used;
  for (const auto& n : sorted) {
    std::string id = out[n];
    if (used.count(id) != 0) {
      int k = 2;
      while (used.count(id + "_" + std::to_string(k)) != 0) ++k;
      id += "_" + std::to_string(k);
      issues.push_back({n, std::string(what) + " object id '" + out[n] + "' is taken; using '" + id + "'"});
      out[n] = id;
    }
    used.insert(id);
  }
  return out;
}

// --- Units and classes ----------------------------------------------------------------------------

struct SensorClass {
  std::string_view device_class;  // empty: none
  std::string_view state_class;   // empty: none
};

bool is_power_unit(std::string_view u) { return u == "W" || u == "kW"; }
bool is_energy_unit(std::string_view u) { return u == "Wh" || u == "kWh"; }

// The device class Home Assistant documents for a unit, for an instantaneous value.
std::string_view measurement_class_of(std::string_view unit) {
  if (is_power_unit(unit)) return "power";
  if (is_energy_unit(unit)) return "energy_storage";
  if (unit == "V") return "voltage";
  if (unit == "A") return "current";
  if (unit == "Hz") return "frequency";
  if (unit == "VA") return "apparent_power";
  if (unit == "var") return "reactive_power";
  if (unit == "°C") return "temperature";
  return {};
}

std::string_view default_name(PointRole r) {
  switch (r) {
    case PointRole::kGridImportEnergy: return "Grid import energy";
    case PointRole::kGridExportEnergy: return "Grid export energy";
    case PointRole::kPvProductionEnergy: return "PV production energy";
    case PointRole::kBatteryChargeEnergy: return "Battery charge energy";
    case PointRole::kBatteryDischargeEnergy: return "Battery discharge energy";
    case PointRole::kPower: return "Power";
    case PointRole::kStateOfCharge: return "State of charge";
    case PointRole::kSwitchState: return "Switch";
    case PointRole::kAlarm: return "Alarm";
    case PointRole::kNone: break;
  }
  return {};
}

// The role a point keeps after checking it against its unit: an energy role needs an energy unit,
// power a power unit, state of charge "%". A role that does not fit is dropped (and reported).
PointRole checked_role(const PointSpec& p, std::vector<DiscoveryIssue>& issues) {
  auto drop = [&](std::string_view needs) {
    issues.push_back({p.name, "role " + std::string(to_string(p.role)) + " needs " +
                                  std::string(needs) + ", unit is '" + p.unit +
                                  "': shown without the role, disabled"});
    return PointRole::kNone;
  };
  if (is_energy_role(p.role) && !is_energy_unit(p.unit)) return drop("Wh or kWh");
  if (p.role == PointRole::kPower && !is_power_unit(p.unit)) return drop("W or kW");
  if (p.role == PointRole::kStateOfCharge && p.unit != "%") return drop("%");
  return p.role;
}

SensorClass sensor_class(const PointSpec& p, PointRole role, std::vector<DiscoveryIssue>& issues) {
  if (role == PointRole::kStateOfCharge) return {"battery", "measurement"};
  const bool counter = p.kind == PointKind::kCounter || is_energy_role(role);
  if (counter) {
    if (is_energy_unit(p.unit)) return {"energy", "total_increasing"};
    if (!measurement_class_of(p.unit).empty()) {
      // Power, voltage ... allow only "measurement": a total of them has no device class.
      issues.push_back({p.name, "a counter in '" + p.unit + "' has no Home Assistant device class"});
    }
    return {{}, "total_increasing"};
  }
  if (p.kind == PointKind::kStatus) return {{}, {}};
  return {measurement_class_of(p.unit), "measurement"};
}

// --- Documents ------------------------------------------------------------------------------------

json availability(const GatewaySpec& gw, std::string_view device) {
  auto entry = [](std::string topic) {
    return json{{"topic", std::move(topic)},
                {"payload_available", kOnline},
                {"payload_not_available", kOffline}};
  };
  return json::array({entry(gateway_status_topic(gw)), entry(device_availability_topic(gw, device))});
}

json origin(const GatewaySpec& gw) {
  json o{{"name", kOriginName}};
  if (!gw.sw_version.empty()) o["sw_version"] = gw.sw_version;
  if (!gw.support_url.empty()) o["support_url"] = gw.support_url;
  return o;
}

json device_block(const GatewaySpec& gw, const DeviceSpec& d) {
  json b{{"identifiers", json::array({device_identifier(gw, d.id)})},
         {"name", d.name.empty() ? d.id : d.name},
         {"via_device", gateway_identifier(gw)}};
  if (!d.manufacturer.empty()) b["manufacturer"] = d.manufacturer;
  if (!d.model.empty()) b["model"] = d.model;
  if (!d.sw_version.empty()) b["sw_version"] = d.sw_version;
  return b;
}

// Keys every entity of a device shares.
json entity_base(const GatewaySpec& gw, const DeviceSpec& d, std::string unique_id, std::string name,
                 bool enabled) {
  return json{{"availability", availability(gw, d.id)},
              {"availability_mode", "all"},
              {"device", device_block(gw, d)},
              {"origin", origin(gw)},
              {"unique_id", std::move(unique_id)},
              {"name", std::move(name)},
              {"enabled_by_default", enabled}};
}

void add_state(json& doc, const std::string& topic, std::string_view value_template) {
  doc["state_topic"] = topic;
  doc["value_template"] = value_template;
  doc["json_attributes_topic"] = topic;
  doc["json_attributes_template"] = kAttributesTemplate;
}

std::string dump(const json& doc) {
  // Invalid UTF-8 in a configured name is replaced, never thrown.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view mode_name(NumberMode m) {
  switch (m) {
    case NumberMode::kAuto: return "auto";
    case NumberMode::kBox: return "box";
    case NumberMode::kSlider: return "slider";
  }
  return "auto";
}

bool battery_like(const DeviceSpec& d) {
  if (d.kind == DeviceKind::kBattery) return true;
  return std::any_of(d.points.begin(), d.points.end(),
                     [](const PointSpec& p) { return p.role == PointRole::kStateOfCharge; });
}

}  // namespace

// --- Public functions -----------------------------------------------------------------------------

std::string_view to_string(PointRole r) {
  switch (r) {
    case PointRole::kNone: return "none";
    case PointRole::kGridImportEnergy: return "grid_import_energy";
    case PointRole::kGridExportEnergy: return "grid_export_energy";
    case PointRole::kPvProductionEnergy: return "pv_production_energy";
    case PointRole::kBatteryChargeEnergy: return "battery_charge_energy";
    case PointRole::kBatteryDischargeEnergy: return "battery_discharge_energy";
    case PointRole::kPower: return "power";
    case PointRole::kStateOfCharge: return "state_of_charge";
    case PointRole::kSwitchState: return "switch_state";
    case PointRole::kAlarm: return "alarm";
  }
  return "unknown";
}

bool is_energy_role(PointRole r) {
  return r == PointRole::kGridImportEnergy || r == PointRole::kGridExportEnergy ||
         r == PointRole::kPvProductionEnergy || r == PointRole::kBatteryChargeEnergy ||
         r == PointRole::kBatteryDischargeEnergy;
}

std::string state_root(const GatewaySpec& gw) { return gw.topic_prefix + "/" + gw.site; }
std::string gateway_status_topic(const GatewaySpec& gw) { return state_root(gw) + "/status"; }
std::string device_availability_topic(const GatewaySpec& gw, std::string_view device) {
  return state_root(gw) + "/" + std::string(device) + "/availability";
}
std::string point_state_topic(const GatewaySpec& gw, std::string_view device, std::string_view point) {
  return state_root(gw) + "/" + std::string(device) + "/" + std::string(point);
}
std::string control_command_topic(const GatewaySpec& gw, std::string_view device,
                                  std::string_view control) {
  return point_state_topic(gw, device, control) + "/set";
}

bool valid_topic_level(std::string_view name) {
  return !name.empty() && name.find_first_of(std::string_view("/+#\0", 4)) == std::string_view::npos;
}

std::string object_id_for(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-') {
      out += c;
    } else if (c == ']') {
      // "a[1].b" reads as "a_1_b": the closing bracket adds nothing.
    } else {
      out += '_';
    }
  }
  if (out.empty()) out = "point";
  return out;
}

std::vector<DiscoveryMessage> DeviceDiscovery::messages() const {
  std::vector<DiscoveryMessage> out;
  out.reserve(entities.size());
  for (const auto& e : entities) out.push_back(e.message);
  return out;
}

std::vector<DiscoveryMessage> gateway_discovery(const GatewaySpec& gw) {
  if (!valid_id(gw.site) || !valid_topic_level(gw.discovery_prefix)) return {};
  json doc{{"device",
            {{"identifiers", json::array({gateway_identifier(gw)})},
             {"name", "Gridlet " + gw.site},
             {"manufacturer", kOriginName},
             {"model", "Gridlet gateway"}}},
           {"origin", origin(gw)},
           {"unique_id", gateway_identifier(gw) + ":status"},
           {"name", "Status"},
           {"device_class", "connectivity"},
           {"entity_category", "diagnostic"},
           {"enabled_by_default", true},
           {"state_topic", gateway_status_topic(gw)},
           {"payload_on", kOnline},
           {"payload_off", kOffline}};
  if (!gw.sw_version.empty()) doc["device"]["sw_version"] = gw.sw_version;
  return {{discovery_topic(gw, "binary_sensor", gateway_node_id(gw), "status"), dump(doc)}};
}

DeviceDiscovery discover_device(const GatewaySpec& gw, const DeviceSpec& d) {
  DeviceDiscovery out;
  auto& issues = out.issues;
  if (!valid_id(gw.site)) {
    issues.push_back({"", "site id '" + gw.site + "' is not a valid id"});
    return out;
  }
  if (!valid_topic_level(gw.discovery_prefix)) {
    issues.push_back({"", "discovery prefix '" + gw.discovery_prefix + "' is not one topic level"});
    return out;
  }
  if (!valid_id(d.id)) {
    issues.push_back({"", "device id '" + d.id + "' is not a valid id"});
    return out;
  }

  // Points that can be published: a usable topic level, the first of equal names.
  std::vector<const PointSpec*> points;
  std::set<std::string, std::less<>> point_names;
  for (const auto& p : d.points) {
    if (!valid_topic_level(p.name)) {
      issues.push_back({p.name, "point name cannot be an MQTT topic level: left out"});
      continue;
    }
    if (!point_names.insert(p.name).second) {
      issues.push_back({p.name, "point listed twice: the second is left out"});
      continue;
    }
    points.push_back(&p);
  }

  // Controls, only with control over MQTT enabled.
  std::vector<const ControlSpec*> controls;
  std::set<std::string, std::less<>> control_names;
  std::set<std::string, std::less<>> folded;  // state points shown by their control
  if (gw.controls_enabled) {
    for (const auto& c : d.controls) {
      if (!valid_topic_level(c.name)) {
        issues.push_back({c.name, "control name cannot be an MQTT topic level: left out"});
        continue;
      }
      if (!control_names.insert(c.name).second) {
        issues.push_back({c.name, "control listed twice: the second is left out"});
        continue;
      }
      if (c.kind == ControlKind::kNumber) {
        if (!c.min || !c.max || !std::isfinite(*c.min) || !std::isfinite(*c.max)) {
          issues.push_back({c.name, "a number needs a finite min and max: left out"});
          continue;
        }
        if (*c.min > *c.max) {
          issues.push_back({c.name, "min is above max: left out"});
          continue;
        }
        if (c.step && !(std::isfinite(*c.step) && *c.step > 0)) {
          issues.push_back({c.name, "step must be positive: left out"});
          continue;
        }
      }
      if (!c.state_point.empty()) {
        if (point_names.count(c.state_point) == 0) {
          issues.push_back({c.name, "state point '" + c.state_point + "' is not a point of the "
                                    "device: shown without state"});
        } else {
          folded.insert(c.state_point);
        }
      }
      controls.push_back(&c);
    }
  }

  std::vector<std::string> names;
  for (const auto* p : points) names.push_back(p->name);
  const auto point_ids = assign_object_ids(names, "point", issues);
  names.clear();
  for (const auto* c : controls) names.push_back(c->name);
  const auto control_ids = assign_object_ids(names, "control", issues);

  // How many points carry each (checked) role: a role names its entity only when it is unique.
  std::vector<PointRole> roles;
  std::map<PointRole, int> role_count;
  for (const auto* p : points) {
    roles.push_back(checked_role(*p, issues));
    if (roles.back() != PointRole::kNone) ++role_count[roles.back()];
  }

  const std::string node = device_node_id(gw, d.id);
  const std::string uid_base = device_identifier(gw, d.id) + ":";

  for (std::size_t i = 0; i < points.size(); ++i) {
    const PointSpec& p = *points[i];
    if (folded.count(p.name) != 0) continue;
    const PointRole role = roles[i];
    const std::string& object_id = point_ids.at(p.name);

    std::string name = p.label;
    if (name.empty() && role != PointRole::kNone && role_count[role] == 1) {
      name = default_name(role);
      if (p.integrated_from_power) name += " (integrated)";
    }
    if (name.empty()) name = p.name;

    const bool binary = role == PointRole::kSwitchState || role == PointRole::kAlarm;
    // The curated set: what a dashboard shows first. Everything else starts disabled.
    const SensorClass cls = binary ? SensorClass{} : sensor_class(p, role, issues);
    const bool curated = role != PointRole::kNone || cls.device_class == "power" ||
                         cls.device_class == "energy";
    const std::string uid = uid_base + object_id;
    json doc = entity_base(gw, d, uid, name, curated);
    const std::string topic = point_state_topic(gw, d.id, p.name);

    std::string component;
    if (binary) {
      component = "binary_sensor";
      add_state(doc, topic, kOnOffTemplate);
      doc["payload_on"] = "ON";
      doc["payload_off"] = "OFF";
      if (role == PointRole::kAlarm) {
        doc["device_class"] = "problem";
        doc["entity_category"] = "diagnostic";
      } else {
        doc["device_class"] = "power";
      }
    } else {
      component = "sensor";
      add_state(doc, topic, kValueTemplate);
      if (!cls.device_class.empty()) doc["device_class"] = cls.device_class;
      if (!cls.state_class.empty()) doc["state_class"] = cls.state_class;
      if (!p.unit.empty()) doc["unit_of_measurement"] = p.unit;
      // Status codes and setpoint read-backs are about the device, not what it measures.
      // ("config" is not allowed for sensors.)
      if (!curated && (p.kind == PointKind::kStatus || p.kind == PointKind::kSetpoint)) {
        doc["entity_category"] = "diagnostic";
      }
    }
    out.entities.push_back({p.name, false, component, object_id, uid,
                            {discovery_topic(gw, component, node, object_id), dump(doc)}});
  }

  for (const auto* cp : controls) {
    const ControlSpec& c = *cp;
    const std::string& object_id = control_ids.at(c.name);
    const std::string uid = uid_base + "control:" + object_id;
    json doc = entity_base(gw, d, uid, c.label.empty() ? c.name : c.label, true);
    doc["command_topic"] = control_command_topic(gw, d.id, c.name);
    const bool has_state = !c.state_point.empty() && folded.count(c.state_point) != 0;
    const std::string state_topic = has_state ? point_state_topic(gw, d.id, c.state_point) : "";

    std::string component;
    if (c.kind == ControlKind::kSwitch) {
      component = "switch";
      doc["payload_on"] = "ON";
      doc["payload_off"] = "OFF";
      if (has_state) {
        add_state(doc, state_topic, kOnOffTemplate);
        doc["state_on"] = "ON";
        doc["state_off"] = "OFF";
      }
    } else {
      component = "number";
      doc["min"] = *c.min;
      doc["max"] = *c.max;
      if (c.step) {
        double step = *c.step;
        if (step < kMinNumberStep) {
          issues.push_back({c.name, "step below Home Assistant's smallest (0.001): using 0.001"});
          step = kMinNumberStep;
        }
        doc["step"] = step;
      }
      doc["mode"] = mode_name(c.mode);
      if (!c.unit.empty()) {
        doc["unit_of_measurement"] = c.unit;
        const std::string_view cls = measurement_class_of(c.unit);
        if (!cls.empty()) doc["device_class"] = cls;
      }
      if (has_state) add_state(doc, state_topic, kValueTemplate);
    }
    out.entities.push_back({c.name, true, component, object_id, uid,
                            {discovery_topic(gw, component, node, object_id), dump(doc)}});
  }

  // Battery energy the device does not count: say so, never invent a sensor.
  if (battery_like(d)) {
    std::vector<std::string> power_points;
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (roles[i] == PointRole::kPower) power_points.push_back(points[i]->name);
    }
    for (PointRole wanted : {PointRole::kBatteryChargeEnergy, PointRole::kBatteryDischargeEnergy}) {
      if (role_count[wanted] > 0) continue;
      if (power_points.empty()) {
        issues.push_back({"", std::string(to_string(wanted)) +
                                  ": no counter, and no power point to integrate one from"});
        continue;
      }
      out.integrate_from_power.push_back(
          {wanted, power_points,
           wanted == PointRole::kBatteryChargeEnergy ? "integrated.charge_energy"
                                                     : "integrated.discharge_energy"});
    }
  }
  return out;
}

std::vector<DiscoveryMessage> removal_messages(std::span<const DiscoveryMessage> published) {
  std::vector<DiscoveryMessage> out;
  out.reserve(published.size());
  for (const auto& m : published) out.push_back({m.topic, ""});
  return out;
}

std::vector<DiscoveryMessage> device_removal_messages(const GatewaySpec& gw, const DeviceSpec& device) {
  const auto published = discover_device(gw, device).messages();
  return removal_messages(published);
}

std::vector<DiscoveryMessage> removed_since(std::span<const DiscoveryMessage> previous,
                                            std::span<const DiscoveryMessage> current) {
  std::set<std::string_view> still;
  for (const auto& m : current) still.insert(m.topic);
  std::vector<DiscoveryMessage> out;
  for (const auto& m : previous) {
    if (still.count(m.topic) == 0) out.push_back({m.topic, ""});
  }
  return out;
}

}  // namespace gridlet::adapters::mqtt
