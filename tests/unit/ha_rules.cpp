// Home Assistant's discovery rules as data and checks. See ha_rules.hpp for the sources.
//
// Rule ids:
//   topic.prefix topic.shape topic.component topic.node_id topic.object_id
//   payload.json unique_id device.type device.identifiers origin.name
//   availability.type availability.topic availability.exclusive availability.mode
//   entity_category enabled_by_default state_topic command_topic command_topic.wildcard
//   sensor.device_class sensor.unit sensor.state_class sensor.state_class_for_device_class
//   sensor.options sensor.last_reset binary_sensor.device_class
//   number.range number.step number.mode number.device_class number.unit switch.device_class
#include "tests/unit/ha_rules.hpp"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace gridlet::ha_rules {
namespace {

using json = nlohmann::json;

// integrations/mqtt: platforms supported by MQTT discovery.
const std::set<std::string, std::less<>> kComponents = {
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover",
    "device_automation", "device_tracker", "event", "fan", "humidifier", "image", "lawn_mower",
    "light", "lock", "notify", "number", "scene", "select", "sensor", "siren", "switch", "tag",
    "text", "update", "vacuum", "valve", "water_heater"};

// Components whose schema requires command_topic (read-write entities).
const std::set<std::string, std::less<>> kNeedCommandTopic = {"number", "switch", "button",
                                                              "select", "text", "siren"};

// integrations/mqtt, "Supported abbreviations" (the part this checker reads).
const std::map<std::string, std::string, std::less<>> kAbbreviations = {
    {"avty", "availability"},
    {"avty_mode", "availability_mode"},
    {"avty_t", "availability_topic"},
    {"avty_tpl", "availability_template"},
    {"cmd_t", "command_topic"},
    {"cmd_tpl", "command_template"},
    {"def_ent_id", "default_entity_id"},
    {"dev", "device"},
    {"dev_cla", "device_class"},
    {"e", "encoding"},
    {"en", "enabled_by_default"},
    {"ent_cat", "entity_category"},
    {"exp_aft", "expire_after"},
    {"frc_upd", "force_update"},
    {"ic", "icon"},
    {"json_attr_t", "json_attributes_topic"},
    {"json_attr_tpl", "json_attributes_template"},
    {"lrst_val_tpl", "last_reset_value_template"},
    {"o", "origin"},
    {"obj_id", "object_id"},
    {"ops", "options"},
    {"opt", "optimistic"},
    {"pl_avail", "payload_available"},
    {"pl_not_avail", "payload_not_available"},
    {"pl_off", "payload_off"},
    {"pl_on", "payload_on"},
    {"pl_rst", "payload_reset"},
    {"ret", "retain"},
    {"stat_cla", "state_class"},
    {"stat_off", "state_off"},
    {"stat_on", "state_on"},
    {"stat_t", "state_topic"},
    {"stat_tpl", "state_template"},
    {"stat_val_tpl", "state_value_template"},
    {"sug_dsp_prc", "suggested_display_precision"},
    {"uniq_id", "unique_id"},
    {"unit_of_meas", "unit_of_measurement"},
    {"val_tpl", "value_template"},
};
const std::map<std::string, std::string, std::less<>> kDeviceAbbreviations = {
    {"cns", "connections"}, {"cu", "configuration_url"}, {"hw", "hw_version"},
    {"ids", "identifiers"}, {"mf", "manufacturer"},      {"mdl", "model"},
    {"mdl_id", "model_id"}, {"sa", "suggested_area"},    {"sn", "serial_number"},
    {"sw", "sw_version"},
};
const std::map<std::string, std::string, std::less<>> kOriginAbbreviations = {
    {"sw", "sw_version"}, {"url", "support_url"}};
const std::map<std::string, std::string, std::less<>> kAvailabilityAbbreviations = {
    {"t", "topic"}, {"pl_avail", "payload_available"}, {"pl_not_avail", "payload_not_available"},
    {"val_tpl", "value_template"}};

// integrations/sensor and developers/core/entity/sensor: device classes and their units. An empty
// string in `units` means "no unit"; "ISO 4217" stands for a currency code.
struct SensorClassRule {
  std::vector<std::string_view> units;
  std::vector<std::string_view> state_classes;
};

constexpr std::string_view kM = "measurement";
constexpr std::string_view kT = "total";
constexpr std::string_view kTI = "total_increasing";

const std::vector<std::string_view> kEnergyUnits = {"J",   "kJ",  "MJ",  "GJ",   "mWh",  "Wh",  "kWh",
                                                    "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"};
const std::vector<std::string_view> kVolumeUnits = {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"};

const std::map<std::string, SensorClassRule, std::less<>>& sensor_classes() {
  static const std::map<std::string, SensorClassRule, std::less<>> table = {
      {"absolute_humidity", {{"g/m³", "mg/m³"}, {kM}}},
      {"apparent_power", {{"mVA", "VA", "kVA"}, {kM}}},
      {"aqi", {{""}, {kM}}},
      {"area", {{"m²", "cm²", "km²", "mm²", "in²", "ft²", "yd²", "mi²", "ac", "ha"}, {kM, kT, kTI}}},
      {"atmospheric_pressure",
       {{"cbar", "bar", "hPa", "mmHg", "inHg", "inH₂O", "kPa", "mbar", "Pa", "psi"}, {kM}}},
      {"battery", {{"%"}, {kM}}},
      {"blood_glucose_concentration", {{"mg/dL", "mmol/L"}, {kM}}},
      {"carbon_dioxide", {{"ppm"}, {kM}}},
      {"carbon_monoxide", {{"ppm", "ppb", "µg/m³", "mg/m³"}, {kM}}},
      {"conductivity", {{"S/cm", "mS/cm", "µS/cm"}, {kM}}},
      {"current", {{"A", "mA"}, {kM}}},
      {"data_rate",
       {{"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s", "KiB/s", "MiB/s", "GiB/s"},
        {kM}}},
      {"data_size",
       {{"bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB", "KiB", "MiB",
         "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"},
        {kM, kT, kTI}}},
      {"date", {{""}, {}}},
      {"distance", {{"km", "m", "cm", "mm", "mi", "nmi", "yd", "in"}, {kM, kT, kTI}}},
      {"duration", {{"d", "h", "min", "s", "ms", "µs"}, {kM, kT, kTI}}},
      {"energy", {kEnergyUnits, {kT, kTI}}},
      {"energy_distance", {{"kWh/100km", "Wh/km", "mi/kWh", "km/kWh"}, {kM}}},
      {"energy_storage", {kEnergyUnits, {kM}}},
      {"enum", {{""}, {}}},
      {"frequency", {{"mHz", "Hz", "kHz", "MHz", "GHz"}, {kM}}},
      {"gas", {{"L", "m³", "ft³", "CCF", "MCF"}, {kT, kTI}}},
      {"humidity", {{"%"}, {kM}}},
      {"illuminance", {{"lx"}, {kM}}},
      {"irradiance", {{"W/m²", "BTU/(h⋅ft²)"}, {kM}}},
      {"moisture", {{"%"}, {kM}}},
      {"monetary", {{"ISO 4217"}, {kT}}},
      {"nitrogen_dioxide", {{"µg/m³", "ppb", "ppm"}, {kM}}},
      {"nitrogen_monoxide", {{"µg/m³", "ppb"}, {kM}}},
      {"nitrous_oxide", {{"µg/m³"}, {kM}}},
      {"ozone", {{"µg/m³", "ppb", "ppm"}, {kM}}},
      {"ph", {{""}, {kM}}},
      {"pm1", {{"µg/m³"}, {kM}}},
      {"pm25", {{"µg/m³"}, {kM}}},
      {"pm4", {{"µg/m³"}, {kM}}},
      {"pm10", {{"µg/m³"}, {kM}}},
      {"power_factor", {{"%", ""}, {kM}}},
      {"power", {{"mW", "W", "kW", "MW", "GW", "TW"}, {kM}}},
      {"precipitation", {{"cm", "in", "mm"}, {kM, kT, kTI}}},
      {"precipitation_intensity", {{"in/d", "in/h", "mm/d", "mm/h"}, {kM}}},
      {"pressure", {{"Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi", "mPa"}, {kM}}},
      {"reactive_energy", {{"varh", "kvarh"}, {kT, kTI}}},
      {"reactive_power", {{"mvar", "var", "kvar"}, {kM}}},
      {"signal_strength", {{"dB", "dBm"}, {kM}}},
      {"sound_pressure", {{"dB", "dBA"}, {kM}}},
      {"speed", {{"ft/s", "in/d", "in/h", "in/s", "km/h", "kn", "m/s", "mph", "mm/d", "mm/s"}, {kM}}},
      {"sulphur_dioxide", {{"µg/m³", "ppb"}, {kM}}},
      {"temperature", {{"°C", "°F", "K"}, {kM}}},
      {"temperature_delta", {{"°C", "°F", "K"}, {kM}}},
      {"timestamp", {{""}, {}}},
      {"volatile_organic_compounds", {{"µg/m³", "mg/m³"}, {kM}}},
      {"volatile_organic_compounds_parts", {{"ppm", "ppb"}, {kM}}},
      {"voltage", {{"V", "mV", "µV", "kV", "MV"}, {kM}}},
      {"volume", {kVolumeUnits, {kT, kTI}}},
      {"volume_flow_rate",
       {{"m³/h", "m³/min", "m³/s", "ft³/min", "L/h", "L/min", "L/s", "gal/d", "gal/h", "gal/min", "mL/s"},
        {kM}}},
      {"volume_storage", {kVolumeUnits, {kM}}},
      {"water", {{"L", "gal", "m³", "ft³", "CCF", "MCF"}, {kT, kTI}}},
      {"weight", {{"kg", "g", "mg", "µg", "oz", "lb", "st"}, {kM, kT, kTI}}},
      {"wind_direction", {{"°"}, {"measurement_angle"}}},
      {"wind_speed", {{"Beaufort", "ft/s", "km/h", "kn", "m/s", "mph"}, {kM}}},
  };
  return table;
}

const std::set<std::string, std::less<>> kNonNumericSensorClasses = {"date", "enum", "timestamp"};
const std::set<std::string, std::less<>> kStateClasses = {"measurement", "measurement_angle", "total",
                                                          "total_increasing"};

const std::set<std::string, std::less<>> kBinarySensorClasses = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door",
    "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug",
    "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update",
    "vibration", "window"};
const std::set<std::string, std::less<>> kSwitchClasses = {"outlet", "switch"};

bool id_charset(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

json expand(const json& obj, const std::map<std::string, std::string, std::less<>>& table) {
  if (!obj.is_object()) return obj;
  json out = json::object();
  for (const auto& [key, value] : obj.items()) {
    const auto it = table.find(key);
    out[it == table.end() ? key : it->second] = value;
  }
  return out;
}

bool non_empty_string(const json& v) { return v.is_string() && !v.get<std::string>().empty(); }

// The unit as Home Assistant sees it: absent, null or blank is no unit.
std::string unit_of(const json& doc) {
  const auto it = doc.find("unit_of_measurement");
  if (it == doc.end() || !it->is_string()) return "";
  std::string u = it->get<std::string>();
  if (u.find_first_not_of(" \t") == std::string::npos) return "";
  return u;
}

bool currency_code(std::string_view u) {
  return u.size() == 3 && std::all_of(u.begin(), u.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool unit_allowed(const SensorClassRule& rule, std::string_view unit) {
  for (std::string_view u : rule.units) {
    if (u == unit) return true;
    if (u == "ISO 4217" && currency_code(unit)) return true;
  }
  return false;
}

std::string list(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::string_view s : items) {
    if (!out.empty()) out += ", ";
    out += s.empty() ? std::string("(none)") : std::string(s);
  }
  return out;
}

struct Checker {
  std::vector<Violation> out;
  void add(std::string rule, std::string detail) { out.push_back({std::move(rule), std::move(detail)}); }

  // Returns the component, or "" when the topic is unusable.
  std::string topic(std::string_view topic, std::string_view prefix) {
    const std::string head = std::string(prefix) + "/";
    if (topic.substr(0, head.size()) != head) {
      add("topic.prefix", "'" + std::string(topic) + "' does not start with '" + head + "'");
      return "";
    }
    const auto levels = split(topic.substr(head.size()), '/');
    if (levels.size() < 3 || levels.size() > 4 || levels.back() != "config") {
      add("topic.shape", "'" + std::string(topic) +
                             "' is not <prefix>/<component>/[<node_id>/]<object_id>/config");
      return "";
    }
    const std::string component(levels[0]);
    if (kComponents.count(component) == 0) {
      add("topic.component", "'" + component + "' is not a component MQTT discovery supports");
    }
    if (levels.size() == 4 && !id_charset(levels[1])) {
      add("topic.node_id", "node id '" + std::string(levels[1]) + "' is not [a-zA-Z0-9_-]+");
    }
    const std::string_view object = levels[levels.size() - 2];
    if (!id_charset(object)) {
      add("topic.object_id", "object id '" + std::string(object) + "' is not [a-zA-Z0-9_-]+");
    }
    return component;
  }

  void device(const json& doc) {
    const auto it = doc.find("device");
    if (it == doc.end()) return;
    if (!it->is_object()) {
      add("device.type", "device is not a mapping");
      return;
    }
    const json dev = expand(*it, kDeviceAbbreviations);
    bool identified = false;
    if (const auto ids = dev.find("identifiers"); ids != dev.end()) {
      if (non_empty_string(*ids)) identified = true;
      if (ids->is_array() && !ids->empty()) {
        identified = std::all_of(ids->begin(), ids->end(), non_empty_string);
      }
    }
    if (const auto cns = dev.find("connections"); cns != dev.end() && cns->is_array() && !cns->empty()) {
      identified = identified || std::all_of(cns->begin(), cns->end(), [](const json& c) {
                     return c.is_array() && c.size() == 2 && c[0].is_string() && c[1].is_string();
                   });
    }
    if (!identified) add("device.identifiers", "device block has no identifiers (nor connections)");
  }

  void origin(const json& doc) {
    const auto it = doc.find("origin");
    if (it == doc.end()) return;
    const json o = expand(*it, kOriginAbbreviations);
    if (!o.is_object() || !non_empty_string(o.value("name", json()))) {
      add("origin.name", "origin block without a name");
    }
  }

  void availability(const json& doc) {
    const auto it = doc.find("availability");
    if (it != doc.end()) {
      if (doc.contains("availability_topic")) {
        add("availability.exclusive", "availability and availability_topic used together");
      }
      if (!it->is_array()) {
        add("availability.type", "availability is not a list");
      } else {
        for (const auto& raw : *it) {
          const json entry = expand(raw, kAvailabilityAbbreviations);
          if (!entry.is_object() || !non_empty_string(entry.value("topic", json()))) {
            add("availability.topic", "availability entry without a topic: " + raw.dump());
          }
        }
      }
    }
    if (const auto mode = doc.find("availability_mode"); mode != doc.end()) {
      const std::string m = mode->is_string() ? mode->get<std::string>() : mode->dump();
      if (m != "all" && m != "any" && m != "latest") {
        add("availability.mode", "availability_mode '" + m + "' is not all, any or latest");
      }
    }
  }

  void common(const json& doc, const std::string& component) {
    if (!non_empty_string(doc.value("unique_id", json()))) add("unique_id", "no unique_id");
    if (const auto cat = doc.find("entity_category"); cat != doc.end() && !cat->is_null()) {
      const std::string c = cat->is_string() ? cat->get<std::string>() : cat->dump();
      if (c != "config" && c != "diagnostic") {
        add("entity_category", "entity_category '" + c + "' is not config or diagnostic");
      } else if (c == "config" && (component == "sensor" || component == "binary_sensor")) {
        add("entity_category", "a " + component + " cannot have entity_category config");
      }
    }
    if (const auto en = doc.find("enabled_by_default"); en != doc.end() && !en->is_boolean()) {
      add("enabled_by_default", "enabled_by_default is not a boolean");
    }
    if (component == "sensor" || component == "binary_sensor") {
      if (!non_empty_string(doc.value("state_topic", json()))) {
        add("state_topic", "a " + component + " needs state_topic");
      }
    }
    if (kNeedCommandTopic.count(component) != 0) {
      const json t = doc.value("command_topic", json());
      if (!non_empty_string(t)) {
        add("command_topic", "a " + component + " needs command_topic");
      } else if (t.get<std::string>().find_first_of("+#") != std::string::npos) {
        add("command_topic.wildcard", "command_topic '" + t.get<std::string>() + "' has a wildcard");
      }
    }
  }

  void sensor(const json& doc) {
    const std::string unit = unit_of(doc);
    std::string device_class;
    if (const auto dc = doc.find("device_class"); dc != doc.end() && !dc->is_null()) {
      device_class = dc->is_string() ? dc->get<std::string>() : dc->dump();
    }
    std::string state_class;
    if (const auto sc = doc.find("state_class"); sc != doc.end() && !sc->is_null()) {
      state_class = sc->is_string() ? sc->get<std::string>() : sc->dump();
      if (kStateClasses.count(state_class) == 0) {
        add("sensor.state_class", "state_class '" + state_class + "' is not one Home Assistant knows");
        state_class.clear();
      }
    }
    if (const auto u = doc.find("unit_of_measurement"); u != doc.end() && !u->is_null() && !u->is_string()) {
      add("sensor.unit", "unit_of_measurement is not a string");
    }
    if (state_class == "measurement_angle" && unit != "°") {
      add("sensor.unit", "state_class measurement_angle needs unit °, not '" + unit + "'");
    }
    if (const auto ops = doc.find("options"); ops != doc.end()) {
      if (device_class != "enum") add("sensor.options", "options need device_class enum");
      if (!state_class.empty() || !unit.empty()) {
        add("sensor.options", "options cannot go with state_class or unit_of_measurement");
      }
    }
    if (doc.contains("last_reset_value_template") && state_class != "total") {
      add("sensor.last_reset", "last_reset_value_template needs state_class total");
    }
    if (device_class.empty()) return;
    const auto& table = sensor_classes();
    const auto rule = table.find(device_class);
    if (rule == table.end()) {
      add("sensor.device_class", "'" + device_class + "' is not a sensor device class");
      return;
    }
    if (!unit_allowed(rule->second, unit)) {
      add("sensor.unit", "unit '" + unit + "' is not valid for device class " + device_class +
                             " (allowed: " + list(rule->second.units) + ")");
    }
    if (!state_class.empty() &&
        std::find(rule->second.state_classes.begin(), rule->second.state_classes.end(), state_class) ==
            rule->second.state_classes.end()) {
      add("sensor.state_class_for_device_class",
          "state_class " + state_class + " is not valid for device class " + device_class +
              " (allowed: " + (rule->second.state_classes.empty() ? std::string("none")
                                                                  : list(rule->second.state_classes)) +
              ")");
    }
  }

  void binary_sensor(const json& doc) {
    if (const auto dc = doc.find("device_class"); dc != doc.end() && !dc->is_null()) {
      if (!dc->is_string() || kBinarySensorClasses.count(dc->get<std::string>()) == 0) {
        add("binary_sensor.device_class", dc->dump() + " is not a binary sensor device class");
      }
    }
  }

  void number(const json& doc) {
    auto number_of = [&](const char* key, double fallback) {
      const auto it = doc.find(key);
      if (it == doc.end() || it->is_null()) return fallback;
      if (!it->is_number()) {
        add(std::string("number.") + (std::string(key) == "step" ? "step" : "range"),
            std::string(key) + " is not a number");
        return fallback;
      }
      return it->get<double>();
    };
    // Home Assistant's defaults: min 1, max 100, step 1.
    const double min = number_of("min", 1.0);
    const double max = number_of("max", 100.0);
    const double step = number_of("step", 1.0);
    if (min > max) add("number.range", "min " + json(min).dump() + " is above max " + json(max).dump());
    if (step < 0.001) add("number.step", "step " + json(step).dump() + " is below 0.001");
    if (const auto mode = doc.find("mode"); mode != doc.end()) {
      const std::string m = mode->is_string() ? mode->get<std::string>() : mode->dump();
      if (m != "auto" && m != "box" && m != "slider") {
        add("number.mode", "mode '" + m + "' is not auto, box or slider");
      }
    }
    if (const auto dc = doc.find("device_class"); dc != doc.end() && !dc->is_null()) {
      const std::string c = dc->is_string() ? dc->get<std::string>() : dc->dump();
      const auto& table = sensor_classes();
      const auto rule = table.find(c);
      if (rule == table.end() || kNonNumericSensorClasses.count(c) != 0) {
        add("number.device_class", "'" + c + "' is not a number device class");
      } else if (!unit_allowed(rule->second, unit_of(doc))) {
        add("number.unit", "unit '" + unit_of(doc) + "' is not valid for device class " + c);
      }
    }
  }

  void switch_(const json& doc) {
    if (const auto dc = doc.find("device_class"); dc != doc.end() && !dc->is_null()) {
      if (!dc->is_string() || kSwitchClasses.count(dc->get<std::string>()) == 0) {
        add("switch.device_class", dc->dump() + " is not outlet or switch");
      }
    }
  }
};

// "~" at the start or end of a *_topic value (and of an availability entry's topic) stands for
// the base topic.
void apply_base_topic(json& doc) {
  const auto base_it = doc.find("~");
  if (base_it == doc.end() || !base_it->is_string()) return;
  const std::string base = base_it->get<std::string>();
  auto replace = [&](json& v) {
    if (!v.is_string()) return;
    std::string s = v.get<std::string>();
    if (!s.empty() && s.front() == '~') s = base + s.substr(1);
    else if (!s.empty() && s.back() == '~') s = s.substr(0, s.size() - 1) + base;
    v = s;
  };
  for (auto& [key, value] : doc.items()) {
    if (key.size() > 6 && key.compare(key.size() - 6, 6, "_topic") == 0) replace(value);
  }
  if (auto av = doc.find("availability"); av != doc.end() && av->is_array()) {
    for (auto& entry : *av) {
      if (!entry.is_object()) continue;
      for (const char* k : {"topic", "t"}) {
        if (entry.contains(k)) replace(entry[k]);
      }
    }
  }
}

}  // namespace

std::vector<Violation> check_discovery(std::string_view topic, std::string_view payload,
                                       std::string_view discovery_prefix) {
  Checker c;
  const std::string component = c.topic(topic, discovery_prefix);
  if (payload.empty()) return c.out;  // a removal

  json raw = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (raw.is_discarded() || !raw.is_object()) {
    c.add("payload.json", "payload is not a JSON object");
    return c.out;
  }
  json doc = expand(raw, kAbbreviations);
  apply_base_topic(doc);

  c.common(doc, component);
  c.device(doc);
  c.origin(doc);
  c.availability(doc);
  if (component == "sensor") c.sensor(doc);
  if (component == "binary_sensor") c.binary_sensor(doc);
  if (component == "number") c.number(doc);
  if (component == "switch") c.switch_(doc);
  return c.out;
}

bool has_rule(const std::vector<Violation>& violations, std::string_view rule) {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const Violation& v) { return v.rule == rule; });
}

std::string describe(const std::vector<Violation>& violations) {
  std::string out;
  for (const auto& v : violations) out += v.rule + ": " + v.detail + "\n";
  return out;
}

}  // namespace gridlet::ha_rules
