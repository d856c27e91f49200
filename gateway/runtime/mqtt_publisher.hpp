// Publishes the gateway's points and device availability on the [mqtt] bus, where Home
// Assistant and other subscribers look:
//   <prefix>/<site>/<device>/<point>         {"value", "unit", "quality", "ts"}, retained
//   <prefix>/<site>/<device>/availability    "online" / "offline", retained
//   <prefix>/<site>/events                   every event log record, QoS 1 through the outbox:
//                                            {"seq", "ts", "severity", "kind", "device", "point", "message"}
// under the rate limit, deadband and refresh of PublishPolicy. Point messages are QoS 0 and only
// the latest value counts, or with [mqtt] qos = 1 every published value goes through the outbox
// (in order, nothing lost while the broker is away or across a crash, "seq" in the payload).
// After every (re)connect it publishes everything again, since a broker without persistence
// forgets retained messages.
// Thread: event loop only.
#pragma once

#include <map>
#include <string>

#include "adapters/clock.hpp"
#include "adapters/mqtt/client.hpp"
#include "adapters/mqtt/ha_discovery.hpp"
#include "adapters/mqtt/publish_policy.hpp"
#include "gateway/api/device_service.hpp"
#include "gateway/config/config.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/mqtt_outbox.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/store/event_log.hpp"

namespace gridlet::runtime {

class MqttPublisher {
 public:
  MqttPublisher(const config::Config& cfg, adapters::mqtt::Client& client, const adapters::Clock& clock,
                const PointStore& points, const DeviceRegistry& devices, MqttOutbox& outbox,
                const api::DeviceService& controls);

  // A point changed (PointStore's change listener).
  void offer(const adapters::Reading& reading);
  // Every second: held and refreshed values; availability of devices that changed; Home
  // Assistant discovery of devices whose points changed.
  void tick();
  // After a (re)connect: discovery, every point and every device's availability again.
  void on_connected();
  // A retained Home Assistant discovery document seen on the broker (the publisher subscribes to
  // <discovery_prefix>/+/+/+/config): one of this gateway's for a device that is no longer
  // configured is cleared (an empty retained message), so Home Assistant drops its entities.
  void on_discovery_document(const adapters::mqtt::Message& message);
  std::string discovery_filter() const { return cfg_.mqtt.discovery_prefix + "/+/+/+/config"; }
  std::uint64_t discovery_cleared() const { return cleared_; }
  // An event log record: on <prefix>/<site>/events through the outbox.
  void publish_event(const store::EventRecord& event);

  std::string point_topic(const std::string& device, const std::string& point) const;
  std::string availability_topic(const std::string& device) const;
  std::string events_topic() const { return root_ + "/events"; }
  std::uint64_t published() const { return published_; }

 private:
  void publish_point(const adapters::Reading& r);
  void publish_availability(bool all);
  // Home Assistant discovery (with [mqtt] discovery = true): the gateway's own device first, then
  // each enabled device with the points it has so far; a device whose points changed is
  // published again, topics it no longer has cleared first.
  void publish_discovery(bool all);
  adapters::mqtt::DeviceSpec describe(const DeviceState& device) const;

  const config::Config& cfg_;
  adapters::mqtt::Client& client_;
  MqttOutbox& outbox_;
  const api::DeviceService& controls_;
  const PointStore& points_;
  const DeviceRegistry& devices_;
  adapters::mqtt::GatewaySpec gateway_;
  std::map<std::string, std::vector<adapters::mqtt::DiscoveryMessage>> discovered_;  // as published
  std::map<std::string, std::string> signatures_;  // each device's points when it was published
  const adapters::Clock& clock_;
  std::string root_;  // <prefix>/<site>
  adapters::mqtt::PublishPolicy policy_;
  std::map<std::string, bool> availability_;  // as last published
  std::uint64_t published_ = 0;
  std::uint64_t cleared_ = 0;
};

}  // namespace gridlet::runtime
