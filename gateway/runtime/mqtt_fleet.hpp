// The MQTT side of the gateway: one broker connection per [[buses]] entry of type "mqtt", and an
// MqttDevice per enabled device on it (messages routed to the devices whose topics they match).
// The bus that [mqtt] names carries the gateway's status: "online" (retained) after every
// connect, "offline" as its last will and at a clean stop.
// Thread: the event loop (the clients' executor), except where noted.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/clock.hpp"
#include "adapters/mqtt/client.hpp"
#include "adapters/mqtt/device.hpp"
#include "gateway/config/config.hpp"
#include "gateway/runtime/device_registry.hpp"

namespace gridlet::runtime {

class MqttFleet {
 public:
  struct Parts {
    adapters::mqtt::Executor& executor;
    adapters::ReadingSink& readings;
    adapters::ControlSink& controls;
    const adapters::Clock& clock;      // Unix time
    const adapters::Clock& monotonic;  // deadlines
    std::function<void(const std::string& bus)> connected;     // after every (re)connect of a bus
    std::function<void(const std::string& bus)> disconnected;  // the connection went away
  };

  MqttFleet() = default;
  ~MqttFleet();
  MqttFleet(const MqttFleet&) = delete;
  MqttFleet& operator=(const MqttFleet&) = delete;

  // Builds and starts a client per MQTT bus and a device per enabled MQTT device; an error
  // message (a password file that cannot be read, a profile that was not loaded), else "".
  // Connecting happens in the background. Any thread, before the loop runs.
  std::string start(const config::Config& cfg, Parts parts);
  // Every second: confirmation deadlines, keep-alives, re-assertions of every device.
  void tick();
  // At shutdown: held setpoints to their fail-safes (published, not awaited).
  void release_all(const std::string& reason);
  // Says "offline" on the status topic and disconnects every broker, within `timeout` in all.
  // Any thread, after the loop stopped.
  void stop(std::chrono::milliseconds timeout);

  void update_registry(DeviceRegistry& registry) const;
  adapters::mqtt::MqttDevice* device(const std::string& id) const;
  std::vector<adapters::mqtt::MqttDeviceStatus> statuses() const;
  std::vector<std::pair<std::string, adapters::mqtt::Client::Stats>> client_stats() const;

  // Messages on `bus` that match `filter` go to `handler` (also those a device takes). Before
  // start(); on the loop.
  using MessageHandler = std::function<void(const adapters::mqtt::Message&)>;
  void subscribe(const std::string& bus, const std::string& filter, int qos, MessageHandler handler);

  static std::string status_topic(const config::Config& cfg);
  adapters::mqtt::Client* client(const std::string& bus_id) const;

 private:
  void route(const std::string& bus, const adapters::mqtt::Message& message);

  std::map<std::string, std::unique_ptr<adapters::mqtt::Client>> clients_;
  std::vector<std::unique_ptr<adapters::mqtt::MqttDevice>> devices_;
  std::map<std::string, std::uint64_t> unrouted_;  // messages no device wanted, by bus
  struct Subscription {
    std::string bus, filter;
    int qos = 1;
    MessageHandler handler;
  };
  std::vector<Subscription> subscriptions_;
};

}  // namespace gridlet::runtime
