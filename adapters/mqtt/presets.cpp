// Built-in MQTT presets: verbatim copies of configs/profiles/mqtt/*.toml (see presets.hpp).
// When a preset file changes, paste the file between the markers of its entry below (or add an
// entry for a new file); tests/unit/mqtt_profile_test.cpp checks that every copy equals its file
// and that every file has a copy.
#include "adapters/mqtt/presets.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace gridlet::adapters::mqtt {
namespace {

struct Preset {
  std::string_view name;
  std::string_view text;
};

// Sorted by name.
constexpr std::array kPresets{
    Preset{"opendtu", R"gridlet_toml(# One Hoymiles micro-inverter behind OpenDTU (the open-source DTU firmware for ESP32).
#
# Source: OpenDTU documentation, "MQTT Topics" (docs/MQTT_Topics.md in the OpenDTU repository),
# https://github.com/tbnobody/OpenDTU/blob/master/docs/MQTT_Topics.md
# Facts used here:
# - every topic starts with the base topic set in the web GUI ({base}, "solar/" in the default
#   configuration, written here without the slash); inverter topics continue with the inverter's
#   serial number ({id});
# - <base>/dtu/status says whether OpenDTU is connected: "online" / "offline" (its last will);
# - channel 0 is the AC side: <serial>/0/power (W), voltage (V), current (A), frequency (Hz),
#   temperature (degrees Celsius), yieldday (Wh) and yieldtotal (kWh); values are plain numbers;
# - <serial>/status/reachable and status/producing are 0 or 1;
# - <serial>/status/limit_relative is the applied limit in % of the inverter's maximum output,
#   status/limit_absolute the same in W;
# - <serial>/cmd/limit_nonpersistent_relative sets the limit in %; the inverter forgets it when it
#   loses power at night (falls back to the last persistent limit); the new value shows up in
#   status/limit_relative right away. The persistent variant writes the inverter's flash and is
#   not for frequent demand-response changes, so it is not offered here;
# - an inverter that is not reachable (at night) publishes nothing, so its values go stale.

[profile]
name = "opendtu"
manufacturer = "OpenDTU (open-source firmware) with a Hoymiles inverter"
model = "Hoymiles HM/HMS/HMT micro-inverter via OpenDTU"
kind = "inverter"
source = "OpenDTU documentation: MQTT Topics (docs/MQTT_Topics.md); https://github.com/tbnobody/OpenDTU/blob/master/docs/MQTT_Topics.md"
description = "AC values, status and the non-persistent relative power limit of one inverter"
max_age = "2m"

[variables]
base = "solar"          # OpenDTU's MQTT base topic, without the trailing '/'

[availability]
topic = "{base}/dtu/status"
payload_online = "online"
payload_offline = "offline"

[[points]]
name = "power_w"
topic = "{base}/{id}/0/power"
unit = "W"
description = "AC active power"

[[points]]
name = "energy_wh"
topic = "{base}/{id}/0/yieldtotal"
scale = 1000            # kWh -> Wh
unit = "Wh"
kind = "counter"
min = 0
description = "AC energy since the inverter's counter was reset"

[[points]]
name = "energy_today_wh"
topic = "{base}/{id}/0/yieldday"
unit = "Wh"
min = 0
description = "AC energy today (restarts every day, so not a counter)"

[[points]]
name = "voltage_v"
topic = "{base}/{id}/0/voltage"
unit = "V"
min = 0
max = 500
description = "AC voltage"

[[points]]
name = "current_a"
topic = "{base}/{id}/0/current"
unit = "A"
min = 0
description = "AC current"

[[points]]
name = "frequency_hz"
topic = "{base}/{id}/0/frequency"
unit = "Hz"
min = 40
max = 70
description = "AC frequency"

[[points]]
name = "temperature_c"
topic = "{base}/{id}/0/temperature"
unit = "°C"
description = "Inverter temperature"

[[points]]
name = "reachable"
topic = "{base}/{id}/status/reachable"
kind = "status"
min = 0
max = 1
description = "1 when OpenDTU reaches the inverter by radio"

[[points]]
name = "producing"
topic = "{base}/{id}/status/producing"
kind = "status"
min = 0
max = 1
description = "1 when the inverter feeds AC power"

[[points]]
name = "limit_relative_pct"
topic = "{base}/{id}/status/limit_relative"
unit = "%"
min = 0
max = 100
description = "Applied production limit, % of the inverter's maximum output"

[[points]]
name = "limit_absolute_w"
topic = "{base}/{id}/status/limit_absolute"
unit = "W"
min = 0
description = "Applied production limit in W"

[[controls]]
name = "limit_relative_pct"
description = "Production limit in % of the maximum output; forgotten at night"
unit = "%"
command_topic = "{base}/{id}/cmd/limit_nonpersistent_relative"
payload = "{value}"
state_topic = "{base}/{id}/status/limit_relative"
confirm_timeout = "20s"
tolerance = 0.1
min = 0
max = 100
failsafe = 100          # released: full production
nonpersistent = true
)gridlet_toml"},
    Preset{"shelly-gen2-switch", R"gridlet_toml(# Shelly Gen2/Gen3 switch with power metering (Plus 1PM, Pro 1PM, Plus Plug S, 1PM Gen3, Plug S
# Gen3, ...: a device whose first relay is the Switch component switch:0), on its own MQTT client.
#
# Source: Shelly Gen2+ API documentation (Allterco Robotics), https://shelly-api-docs.shelly.cloud/gen2/
# pages "MQTT" (ComponentsAndServices/Mqtt), "Notifications" (General/Notifications), "RPC Channels"
# (General/RPCChannels) and "Switch" (ComponentsAndServices/Switch).
# Facts used here:
# - the MQTT topic prefix is configurable and defaults to the device id (shellyplus1pm-a8032ab12345):
#   it is {id} below;
# - with RPC notifications on (rpc_ntf, the default) the device publishes JSON-RPC notifications on
#   <prefix>/events/rpc: "NotifyStatus" carrying only the attributes that changed, "NotifyFullStatus"
#   carrying all of them (sent when it connects), "NotifyEvent" for events (not mapped here);
#   params.ts is the Unix time in seconds, with a fraction;
# - the Switch status, under the key "switch:0", has output (boolean), apower (W), voltage (V),
#   current (A), freq (Hz), aenergy.total (Wh) and temperature.tC (degrees Celsius); models without
#   metering leave the metering fields out;
# - power, voltage and current are notified when they change beyond a threshold, the energy counter
#   about once a minute: a steady load sends nothing for a long time, hence the long max_age;
# - the device's MQTT last will is <prefix>/online = "false"; it publishes "true" when it connects;
# - RPC over MQTT: a JSON-RPC request frame published on <prefix>/rpc, whose src names where the
#   answer goes (<src>/rpc); Switch.Set takes params {id, on}; the new output then comes as a
#   NotifyStatus, which is what confirms the command here.

[profile]
name = "shelly-gen2-switch"
manufacturer = "Shelly (Allterco Robotics)"
model = "Gen2/Gen3 switch with metering (Plus 1PM, Pro 1PM, Plus Plug S, 1PM Gen3, ...)"
kind = "other"
source = "Shelly Gen2+ API documentation: MQTT, Notifications, RPC Channels, Switch component; https://shelly-api-docs.shelly.cloud/gen2/"
description = "Relay with power metering; switch:0 only"
max_age = "1h"          # values are sent on change only

[variables]
src = "gridlet"         # JSON-RPC src of our requests: the device answers on <src>/rpc

[availability]
topic = "{id}/online"
payload_online = "true"
payload_offline = "false"

[[points]]
name = "power_w"
topic = "{id}/events/rpc"
json = "/params/switch:0/apower"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "W"
description = "Active power of the output (positive = consumption)"

[[points]]
name = "energy_wh"
topic = "{id}/events/rpc"
json = "/params/switch:0/aenergy/total"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "Wh"
kind = "counter"
min = 0
max_age = "10m"         # notified about every minute
description = "Energy through the output since the counter was last reset"

[[points]]
name = "voltage_v"
topic = "{id}/events/rpc"
json = "/params/switch:0/voltage"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "V"
min = 0
max = 500
description = "Supply voltage"

[[points]]
name = "current_a"
topic = "{id}/events/rpc"
json = "/params/switch:0/current"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "A"
min = 0
description = "Current through the output"

[[points]]
name = "frequency_hz"
topic = "{id}/events/rpc"
json = "/params/switch:0/freq"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "Hz"
min = 40
max = 70
description = "Supply frequency (not on every model)"

[[points]]
name = "temperature_c"
topic = "{id}/events/rpc"
json = "/params/switch:0/temperature/tC"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "°C"
description = "Internal temperature of the switch"

[[points]]
name = "output"
topic = "{id}/events/rpc"
json = "/params/switch:0/output"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
kind = "status"
min = 0
max = 1
description = "Relay state: 1 on, 0 off"

[[controls]]
name = "output"
description = "Relay on (1) or off (0), by Switch.Set"
command_topic = "{id}/rpc"
payload_format = "json"
payload = '{"id":1,"src":"{src}","method":"Switch.Set","params":{"id":0,"on":{value}}}'
command_values = { "0" = false, "1" = true }
state_topic = "{id}/events/rpc"
state_json = "/params/switch:0/output"
state_when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
confirm_timeout = "10s"
min = 0
max = 1
failsafe = 1            # a released load is switched back on
)gridlet_toml"},
    Preset{"shelly-pro3em", R"gridlet_toml(# Shelly Pro 3EM: three-phase energy meter (triphase profile, the default), on its own MQTT client.
#
# Source: Shelly Gen2+ API documentation (Allterco Robotics), https://shelly-api-docs.shelly.cloud/gen2/
# pages "Shelly Pro 3EM" (Devices/Gen2/ShellyPro3EM), "EM" (ComponentsAndServices/EM), "EMData"
# (ComponentsAndServices/EMData), "MQTT" and "Notifications".
# Facts used here:
# - in the triphase profile there is one EM component em:0 with the three phases and their totals,
#   and one EMData component emdata:0 with the energy counters; the monophase profile (em1:0..2,
#   em1data:0..2) needs another profile;
# - em:0 status: a_/b_/c_act_power (W), a_/b_/c_voltage (V), a_/b_/c_current (A), total_act_power
#   (W) and total_current (A); active power is positive when energy is drawn from the grid;
# - emdata:0 status: total_act (Wh, imported on all phases) and total_act_ret (Wh, returned);
# - notifications, availability and the {id} topic prefix as in shelly-gen2-switch.toml:
#   <prefix>/events/rpc with NotifyStatus (changed attributes) and NotifyFullStatus (all), params.ts
#   in Unix seconds; the last will <prefix>/online = "false", "true" once connected.

[profile]
name = "shelly-pro3em"
manufacturer = "Shelly (Allterco Robotics)"
model = "Pro 3EM"
kind = "meter"
source = "Shelly Gen2+ API documentation: Shelly Pro 3EM, EM and EMData components, MQTT, Notifications; https://shelly-api-docs.shelly.cloud/gen2/"
description = "Three-phase meter, triphase profile (em:0, emdata:0)"
max_age = "10m"

[availability]
topic = "{id}/online"
payload_online = "true"
payload_offline = "false"

# --- Active power (positive = import) -----------------------------------------------------------

[[points]]
name = "power_w"
topic = "{id}/events/rpc"
json = "/params/em:0/total_act_power"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "W"
description = "Total active power of the three phases"

[[points]]
name = "power_l1_w"
topic = "{id}/events/rpc"
json = "/params/em:0/a_act_power"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "W"
description = "Phase A active power"

[[points]]
name = "power_l2_w"
topic = "{id}/events/rpc"
json = "/params/em:0/b_act_power"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "W"
description = "Phase B active power"

[[points]]
name = "power_l3_w"
topic = "{id}/events/rpc"
json = "/params/em:0/c_act_power"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "W"
description = "Phase C active power"

# --- Voltages and currents ----------------------------------------------------------------------

[[points]]
name = "voltage_l1_v"
topic = "{id}/events/rpc"
json = "/params/em:0/a_voltage"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "V"
min = 0
max = 500
description = "Phase A voltage"

[[points]]
name = "voltage_l2_v"
topic = "{id}/events/rpc"
json = "/params/em:0/b_voltage"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "V"
min = 0
max = 500
description = "Phase B voltage"

[[points]]
name = "voltage_l3_v"
topic = "{id}/events/rpc"
json = "/params/em:0/c_voltage"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "V"
min = 0
max = 500
description = "Phase C voltage"

[[points]]
name = "current_l1_a"
topic = "{id}/events/rpc"
json = "/params/em:0/a_current"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "A"
min = 0
description = "Phase A current"

[[points]]
name = "current_l2_a"
topic = "{id}/events/rpc"
json = "/params/em:0/b_current"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "A"
min = 0
description = "Phase B current"

[[points]]
name = "current_l3_a"
topic = "{id}/events/rpc"
json = "/params/em:0/c_current"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "A"
min = 0
description = "Phase C current"

[[points]]
name = "current_total_a"
topic = "{id}/events/rpc"
json = "/params/em:0/total_current"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "A"
min = 0
description = "Sum of the phase currents"

# --- Energy counters (Wh) -----------------------------------------------------------------------

[[points]]
name = "energy_import_wh"
topic = "{id}/events/rpc"
json = "/params/emdata:0/total_act"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "Wh"
kind = "counter"
min = 0
description = "Active energy drawn from the grid, all phases"

[[points]]
name = "energy_export_wh"
topic = "{id}/events/rpc"
json = "/params/emdata:0/total_act_ret"
when = { json = "/method", equals = ["NotifyStatus", "NotifyFullStatus"] }
timestamp = { json = "/params/ts", unit = "s" }
unit = "Wh"
kind = "counter"
min = 0
description = "Active energy returned to the grid, all phases"
)gridlet_toml"},
    Preset{"tasmota-plug", R"gridlet_toml(# Tasmota smart plug with an energy monitor (one relay), with Tasmota's default MQTT topics.
#
# Source: Tasmota documentation, https://tasmota.github.io/docs/ pages "MQTT" (topics, FullTopic,
# LWT, TelePeriod), "Commands" (Power, TelePeriod) and "Power Monitoring".
# Facts used here:
# - {id} is the device's Topic (default tasmota_XXXXXX, from the MAC address); FullTopic is the
#   default %prefix%/%topic%/, so telemetry is tele/<topic>/..., commands cmnd/<topic>/...,
#   answers stat/<topic>/... (a changed FullTopic or GroupTopic needs its own copy of this file);
# - every TelePeriod seconds (default 300) the device publishes tele/<topic>/STATE (with the relay as
#   "POWER": "ON"/"OFF") and tele/<topic>/SENSOR with an "ENERGY" object: Power (W), Voltage (V),
#   Current (A), Factor, Total (kWh since TotalStartTime), Today and Yesterday (kWh);
#   max_age is two default periods and a minute;
# - "Time" in these messages is local time without a zone, so the receive time is used instead;
# - the last will is tele/<topic>/LWT = "Offline"; "Online" is published on connect (retained);
# - cmnd/<topic>/POWER with "ON" or "OFF" switches the relay; the device answers the new state as
#   plain text on stat/<topic>/POWER (and as JSON on stat/<topic>/RESULT).

[profile]
name = "tasmota-plug"
manufacturer = "Tasmota (open-source firmware)"
model = "Smart plug with energy monitoring, one relay"
kind = "other"
source = "Tasmota documentation: MQTT, Commands, Power Monitoring; https://tasmota.github.io/docs/MQTT/ and https://tasmota.github.io/docs/Commands/"
description = "One relay and an energy monitor, default FullTopic"
max_age = "11m"         # two default TelePeriods (300 s) and a minute

[availability]
topic = "tele/{id}/LWT"
payload_online = "Online"
payload_offline = "Offline"

[[points]]
name = "power_w"
topic = "tele/{id}/SENSOR"
json = "/ENERGY/Power"
unit = "W"
description = "Active power through the plug"

[[points]]
name = "energy_wh"
topic = "tele/{id}/SENSOR"
json = "/ENERGY/Total"
scale = 1000            # kWh -> Wh
unit = "Wh"
kind = "counter"
min = 0
description = "Energy since TotalStartTime"

[[points]]
name = "energy_today_wh"
topic = "tele/{id}/SENSOR"
json = "/ENERGY/Today"
scale = 1000            # kWh -> Wh
unit = "Wh"
min = 0
description = "Energy today (restarts at local midnight, so not a counter)"

[[points]]
name = "voltage_v"
topic = "tele/{id}/SENSOR"
json = "/ENERGY/Voltage"
unit = "V"
min = 0
max = 500
description = "Supply voltage"

[[points]]
name = "current_a"
topic = "tele/{id}/SENSOR"
json = "/ENERGY/Current"
unit = "A"
min = 0
description = "Current through the plug"

[[points]]
name = "power_factor"
topic = "tele/{id}/SENSOR"
json = "/ENERGY/Factor"
min = 0
max = 1
description = "Power factor"

[[points]]
name = "relay"
topic = "tele/{id}/STATE"
json = "/POWER"
values = { ON = 1, OFF = 0 }
kind = "status"
description = "Relay state: 1 on, 0 off"

[[controls]]
name = "relay"
description = "Relay on (1) or off (0), by the Power command"
command_topic = "cmnd/{id}/POWER"
payload = "{value}"
command_values = { "0" = "OFF", "1" = "ON" }
state_topic = "stat/{id}/POWER"
state_values = { ON = 1, OFF = 0 }
confirm_timeout = "10s"
min = 0
max = 1
failsafe = 1            # a released load is switched back on
)gridlet_toml"},
    Preset{"zigbee2mqtt-plug", R"gridlet_toml(# Zigbee smart plug with metering (one on/off output) behind Zigbee2MQTT.
#
# Source: Zigbee2MQTT documentation, https://www.zigbee2mqtt.io/ pages "MQTT Topics and Messages"
# (guide/usage/mqtt_topics_and_messages.html), "Device-Availability"
# (guide/configuration/device-availability.html) and the "Exposes" of metering plugs on the
# supported-devices pages.
# Facts used here:
# - the base topic is configurable, default "zigbee2mqtt" ({base}); {id} is the device's friendly
#   name (or its IEEE address when it has none) and may contain '/';
# - the device's state is published as one JSON object on <base>/<name>; metering plugs expose
#   state ("ON"/"OFF"), power (W), energy (kWh), voltage (V) and current (A); with the option
#   advanced.last_seen = "epoch", last_seen is the Unix time in ms;
# - publishing {"state": "ON"} or {"state": "OFF"} on <base>/<name>/set switches it; the new state
#   comes back on <base>/<name>;
# - with the availability feature on, <base>/<name>/availability (retained) carries
#   {"state": "online"} / {"state": "offline"}; older releases (legacy availability payload) send
#   the bare text online / offline, which is understood too;
# - plugs report when a value changes, at intervals set per device: a long max_age.

[profile]
name = "zigbee2mqtt-plug"
manufacturer = "Zigbee2MQTT (any metering plug it supports)"
model = "Zigbee smart plug with metering"
kind = "other"
source = "Zigbee2MQTT documentation: MQTT Topics and Messages, Device-Availability; https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html"
description = "On/off plug with power and energy metering"
max_age = "1h"

[variables]
base = "zigbee2mqtt"    # Zigbee2MQTT's base_topic

[availability]
topic = "{base}/{id}/availability"
json = "/state"
payload_online = "online"
payload_offline = "offline"

[[points]]
name = "power_w"
topic = "{base}/{id}"
json = "/power"
timestamp = { json = "/last_seen", unit = "ms" }
unit = "W"
description = "Active power through the plug"

[[points]]
name = "energy_wh"
topic = "{base}/{id}"
json = "/energy"
timestamp = { json = "/last_seen", unit = "ms" }
scale = 1000            # kWh -> Wh
unit = "Wh"
kind = "counter"
min = 0
description = "Energy through the plug"

[[points]]
name = "voltage_v"
topic = "{base}/{id}"
json = "/voltage"
timestamp = { json = "/last_seen", unit = "ms" }
unit = "V"
min = 0
max = 500
description = "Supply voltage"

[[points]]
name = "current_a"
topic = "{base}/{id}"
json = "/current"
timestamp = { json = "/last_seen", unit = "ms" }
unit = "A"
min = 0
description = "Current through the plug"

[[points]]
name = "state"
topic = "{base}/{id}"
json = "/state"
values = { ON = 1, OFF = 0 }
timestamp = { json = "/last_seen", unit = "ms" }
kind = "status"
description = "Output state: 1 on, 0 off"

[[controls]]
name = "state"
description = "Output on (1) or off (0)"
command_topic = "{base}/{id}/set"
payload_format = "json"
payload = '{"state":{value}}'
command_values = { "0" = "OFF", "1" = "ON" }
state_topic = "{base}/{id}"
state_json = "/state"
state_values = { ON = 1, OFF = 0 }
confirm_timeout = "10s"
min = 0
max = 1
failsafe = 1            # a released load is switched back on
)gridlet_toml"},
};

}  // namespace

std::optional<std::string_view> builtin_preset(std::string_view name) {
  for (const Preset& p : kPresets) {
    if (p.name == name) return p.text;
  }
  return std::nullopt;
}

std::vector<std::string_view> builtin_preset_names() {
  std::vector<std::string_view> names;
  for (const Preset& p : kPresets) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return names;
}

ProfileLoadResult load_builtin_preset(std::string_view name) {
  const std::string source = "<builtin>/" + std::string(name) + ".toml";
  const auto text = builtin_preset(name);
  if (!text) {
    ProfileLoadResult r;
    std::string known;
    for (const Preset& p : kPresets) known += (known.empty() ? "" : ", ") + std::string(p.name);
    r.errors.push_back({source, 0, 0, "", "no built-in MQTT preset of this name (there are: " + known + ")"});
    return r;
  }
  return load_profile_string(*text, source);
}

}  // namespace gridlet::adapters::mqtt
