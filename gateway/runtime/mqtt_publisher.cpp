#include "gateway/runtime/mqtt_publisher.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/mqtt/profile.hpp"
#include "gateway/runtime/energy_integrator.hpp"

#ifndef GRIDLET_VERSION
#define GRIDLET_VERSION "0.0.0"
#endif

namespace gridlet::runtime {

namespace mq = adapters::mqtt;

MqttPublisher::MqttPublisher(const config::Config& cfg, mq::Client& client, const adapters::Clock& clock,
                             const PointStore& points, const DeviceRegistry& devices, MqttOutbox& outbox,
                             const api::DeviceService& controls)
    : cfg_(cfg),
      client_(client),
      outbox_(outbox),
      controls_(controls),
      points_(points),
      devices_(devices),
      clock_(clock),
      root_(cfg.mqtt.topic_prefix + "/" + cfg.site.id),
      policy_({cfg.mqtt.min_interval, cfg.mqtt.max_interval, cfg.mqtt.deadband}) {
  for (const auto& o : cfg.mqtt.points) {
    policy_.set(o.device, o.point, {o.min_interval, o.max_interval, o.deadband});
  }
  gateway_.site = cfg.site.id;
  gateway_.topic_prefix = cfg.mqtt.topic_prefix;
  gateway_.discovery_prefix = cfg.mqtt.discovery_prefix;
  gateway_.sw_version = GRIDLET_VERSION;
  gateway_.controls_enabled = cfg.mqtt.control;
}

// A device as Home Assistant sees it: its profile's maker and model, and the points it has so far
// (their units decide the entities: W power, Wh energy counters, % of a SoC point the battery).
mq::DeviceSpec MqttPublisher::describe(const DeviceState& device) const {
  const auto& dc = device.config;
  mq::DeviceSpec spec;
  spec.id = dc.id;
  spec.name = dc.name.empty() ? dc.id : dc.name;
  spec.kind = dc.kind;
  spec.model = dc.profile;
  if (dc.mqtt) {
    if (const auto it = cfg_.mqtt_profiles.find(dc.mqtt_profile_key()); it != cfg_.mqtt_profiles.end()) {
      spec.manufacturer = it->second->manufacturer;
      spec.model = it->second->model;
    }
  } else if (dc.profile == config::kSunSpecProfile) {
    spec.manufacturer = "SunSpec device";
  }
  for (const auto& [key, value] : points_.all()) {
    if (key.device != dc.id) continue;
    mq::PointSpec p;
    p.name = key.point;
    p.unit = value.unit;
    const bool energy = value.unit == "Wh" || value.unit == "kWh";
    p.kind = energy ? mq::PointKind::kCounter : mq::PointKind::kMeasured;
    if (value.unit == "W") p.role = mq::PointRole::kPower;
    if (value.unit == "%" && key.point.find("SoC") != std::string::npos) p.role = mq::PointRole::kStateOfCharge;
    if (key.point == EnergyIntegrator::kChargePoint || key.point == EnergyIntegrator::kDischargePoint) {
      p.integrated_from_power = true;
      p.role = key.point == EnergyIntegrator::kChargePoint ? mq::PointRole::kBatteryChargeEnergy
                                                           : mq::PointRole::kBatteryDischargeEnergy;
    }
    spec.points.push_back(std::move(p));
  }
  // Controls (with [mqtt] control = true): a 0..1 control without a unit is a switch, anything
  // else a number within its range; its state is the point of the same name, when there is one.
  if (gateway_.controls_enabled) {
    if (const auto controls = controls_.controls(dc.id)) {
      for (const auto& info : controls->controls) {
        if (!info.min || !info.max) continue;  // Home Assistant's number needs a range
        mq::ControlSpec c;
        c.name = info.point;
        c.unit = info.unit;
        c.min = info.min;
        c.max = info.max;
        const bool on_off = *info.min == 0 && *info.max == 1 && info.unit.empty();
        c.kind = on_off ? mq::ControlKind::kSwitch : mq::ControlKind::kNumber;
        if (!on_off && (*info.max - *info.min) <= 10) c.step = 0.01;
        for (const auto& p : spec.points) {
          if (p.name == info.point) c.state_point = p.name;
        }
        spec.controls.push_back(std::move(c));
      }
    }
  }
  return spec;
}

void MqttPublisher::publish_discovery(bool all) {
  if (!cfg_.mqtt.discovery) return;
  auto send = [&](const mq::DiscoveryMessage& m) { return client_.publish({m.topic, m.payload, 1, true}); };
  if (all) {
    for (const auto& m : mq::gateway_discovery(gateway_)) send(m);
  }
  // Which points (and units) each device has now: only a device whose set changed is described
  // again, so a steady gateway spends nothing here.
  std::map<std::string, std::string> signature;
  for (const auto& [key, value] : points_.all()) signature[key.device] += key.point + '\x1f' + value.unit + '\x1e';
  for (const auto* d : devices_.list()) {
    if (!d->config.enabled) continue;
    const std::string& id = d->config.id;
    if (!all && signatures_.contains(id) && signatures_[id] == signature[id]) continue;
    const auto current = mq::discover_device(gateway_, describe(*d)).messages();
    auto& previous = discovered_[id];
    bool ok = true;
    for (const auto& m : mq::removed_since(previous, current)) ok = send(m) && ok;
    for (const auto& m : current) ok = send(m) && ok;
    if (ok) {  // else tried again at the next tick
      previous = current;
      signatures_[id] = signature[id];
    }
  }
}

std::string MqttPublisher::point_topic(const std::string& device, const std::string& point) const {
  return root_ + "/" + device + "/" + point;
}

std::string MqttPublisher::availability_topic(const std::string& device) const {
  return root_ + "/" + device + "/availability";
}

void MqttPublisher::publish_point(const adapters::Reading& r) {
  if (cfg_.mqtt.qos == 1) {
    outbox_.send(point_topic(r.device, r.point), [&](std::uint64_t seq) { return mq::point_payload(r, seq); }, true);
    ++published_;
    return;
  }
  // Latest values: QoS 0 and retained. One that is lost while the broker is away is published
  // again after the reconnect (on_connected), so nothing needs queueing here.
  if (client_.publish({point_topic(r.device, r.point), mq::point_payload(r), 0, true})) {
    ++published_;
  } else {
    policy_.failed(r);  // the broker is away: sent after the reconnect
  }
}

void MqttPublisher::offer(const adapters::Reading& reading) {
  if (policy_.offer(reading, clock_.now_ms())) publish_point(reading);
}

void MqttPublisher::publish_availability(bool all) {
  for (const auto* d : devices_.list()) {
    if (!d->config.enabled) continue;
    const auto it = availability_.find(d->config.id);
    if (!all && it != availability_.end() && it->second == d->online) continue;
    if (client_.publish({availability_topic(d->config.id), d->online ? "online" : "offline", 1, true})) {
      availability_[d->config.id] = d->online;
    }
  }
}

void MqttPublisher::on_discovery_document(const mq::Message& m) {
  if (m.payload.empty()) return;  // already cleared
  // <discovery_prefix>/<component>/<node>/<object>/config; our devices' node is
  // gridlet_<site>_DEV_<device> (ids have no upper case, so the split is unambiguous).
  const std::string prefix = "gridlet_" + cfg_.site.id + "_DEV_";
  std::vector<std::string_view> levels;
  std::string_view rest(m.topic);
  for (std::size_t pos = 0; (pos = rest.find('/')) != std::string_view::npos; rest.remove_prefix(pos + 1)) {
    levels.push_back(rest.substr(0, pos));
  }
  levels.push_back(rest);
  if (levels.size() != 5 || !levels[2].starts_with(prefix)) return;
  const std::string device(levels[2].substr(prefix.size()));
  for (const auto* d : devices_.list()) {
    if (d->config.id == device && d->config.enabled) return;  // still ours to describe
  }
  if (client_.publish({m.topic, "", 1, true})) {
    ++cleared_;
    spdlog::info("mqtt: cleared the Home Assistant discovery document {} of removed device {}", m.topic, device);
  }
}

void MqttPublisher::publish_event(const store::EventRecord& e) {
  outbox_.send(events_topic(), [&](std::uint64_t seq) {
    nlohmann::ordered_json j;
    j["seq"] = seq;
    j["ts"] = e.timestamp_ms;
    j["severity"] = e.severity;
    j["kind"] = e.kind;
    j["device"] = e.device;
    j["point"] = e.point;
    j["message"] = e.message;
    return j.dump();
  }, false);
}

void MqttPublisher::tick() {
  outbox_.pump();
  if (!client_.connected()) return;
  publish_discovery(false);
  for (const auto& r : policy_.due(clock_.now_ms())) publish_point(r);
  publish_availability(false);
}

void MqttPublisher::on_connected() {
  outbox_.pump();  // what waited goes first, in order
  publish_discovery(true);
  for (const auto& r : policy_.all(clock_.now_ms())) publish_point(r);
  publish_availability(true);
}

}  // namespace gridlet::runtime
