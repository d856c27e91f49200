// A checker of Home Assistant MQTT discovery messages, written from Home Assistant's documented
// rules, independent of the code that produces them (adapters/mqtt/ha_discovery.*). Given a
// discovery topic and its payload, returns every rule the message breaks; none means Home
// Assistant takes it. Self-contained (nlohmann-json only) so an integration test can run it on
// what a real gatewayd publishes to a broker.
//
// Sources (home-assistant.io and developers.home-assistant.io, and where the documentation is
// silent the validation Home Assistant runs on discovery):
// - integrations/mqtt, "Discovery topic": <prefix>/<component>/[<node_id>/]<object_id>/config,
//   node and object ids of [a-zA-Z0-9_-], the supported components; an empty payload removes;
//   configuration keys may be abbreviated, "~" stands for a base topic in *_topic values.
// - integrations/sensor.mqtt, number.mqtt, switch.mqtt, binary_sensor.mqtt ("Configuration
//   variables"): the device block needs identifiers or connections and only works with a
//   unique_id; availability entries need a topic and exclude availability_topic;
//   availability_mode is all, any or latest; sensor and binary_sensor need state_topic; number and
//   switch need command_topic (Home Assistant's read-write schema); number min <= max, step >= 0.001,
//   mode auto, box or slider; origin needs a name.
// - integrations/sensor and developers/core/entity/sensor ("Available device classes", "Available
//   state classes", "Long-term statistics"): the sensor device classes and the units each allows;
//   energy, gas, water, volume and monetary are totals (never measurement); date, enum and
//   timestamp take neither unit nor state class; measurement_angle only in degrees. The state
//   classes each numeric class allows follow Home Assistant's sensor constants
//   (DEVICE_CLASS_STATE_CLASSES), which log a warning for any other combination.
// - integrations/binary_sensor: its device classes; sensors and binary sensors reject
//   entity_category "config".
// Gridlet's own rule on top: every entity has a unique_id (it is what makes an entity editable and
// what ties it to its device).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gridlet::ha_rules {

struct Violation {
  std::string rule;    // short id, e.g. "sensor.unit"; see ha_rules.cpp for the list
  std::string detail;  // what was found
};

// Every rule the message (topic + payload) breaks. An empty payload is a removal: only the topic
// is checked.
std::vector<Violation> check_discovery(std::string_view topic, std::string_view payload,
                                       std::string_view discovery_prefix = "homeassistant");

bool has_rule(const std::vector<Violation>& violations, std::string_view rule);
// One line per violation, for test failure messages.
std::string describe(const std::vector<Violation>& violations);

}  // namespace gridlet::ha_rules
