#include "gateway/runtime/mqtt_publisher.hpp"

namespace gridlet::runtime {

namespace mq = adapters::mqtt;

MqttPublisher::MqttPublisher(const config::Config& cfg, mq::Client& client, const adapters::Clock& clock)
    : client_(client),
      clock_(clock),
      root_(cfg.mqtt.topic_prefix + "/" + cfg.site.id),
      policy_({cfg.mqtt.min_interval, cfg.mqtt.max_interval, cfg.mqtt.deadband}) {
  for (const auto& o : cfg.mqtt.points) {
    policy_.set(o.device, o.point, {o.min_interval, o.max_interval, o.deadband});
  }
}

std::string MqttPublisher::point_topic(const std::string& device, const std::string& point) const {
  return root_ + "/" + device + "/" + point;
}

std::string MqttPublisher::availability_topic(const std::string& device) const {
  return root_ + "/" + device + "/availability";
}

void MqttPublisher::publish_point(const adapters::Reading& r) {
  // Latest values: QoS 0 and retained. One that is lost while the broker is away is published
  // again after the reconnect (on_connected), so nothing needs queueing here.
  if (client_.publish({point_topic(r.device, r.point), mq::point_payload(r), 0, true})) ++published_;
}

void MqttPublisher::offer(const adapters::Reading& reading) {
  if (policy_.offer(reading, clock_.now_ms())) publish_point(reading);
}

void MqttPublisher::publish_availability(const DeviceRegistry& devices, bool all) {
  for (const auto* d : devices.list()) {
    if (!d->config.enabled) continue;
    const auto it = availability_.find(d->config.id);
    if (!all && it != availability_.end() && it->second == d->online) continue;
    if (client_.publish({availability_topic(d->config.id), d->online ? "online" : "offline", 1, true})) {
      availability_[d->config.id] = d->online;
    }
  }
}

void MqttPublisher::tick(const DeviceRegistry& devices) {
  for (const auto& r : policy_.due(clock_.now_ms())) publish_point(r);
  publish_availability(devices, false);
}

void MqttPublisher::on_connected(const DeviceRegistry& devices) {
  for (const auto& r : policy_.all(clock_.now_ms())) publish_point(r);
  publish_availability(devices, true);
}

}  // namespace gridlet::runtime
