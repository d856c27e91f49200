// The MQTT side of the gateway: one broker connection per [[buses]] entry of type "mqtt". The
// bus that [mqtt] names carries the gateway's status: "online" (retained) after every connect,
// "offline" as its last will and at a clean stop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "adapters/mqtt/client.hpp"
#include "gateway/config/config.hpp"

namespace gridlet::runtime {

class MqttFleet {
 public:
  MqttFleet() = default;
  ~MqttFleet();
  MqttFleet(const MqttFleet&) = delete;
  MqttFleet& operator=(const MqttFleet&) = delete;

  // Builds and starts a client per MQTT bus; an error message (a password file that cannot be
  // read, a URL the client refuses), else "". Connecting happens in the background.
  using HandlersFor = std::function<adapters::mqtt::Client::Handlers(const config::BusConfig&)>;
  std::string start(const config::Config& cfg, adapters::mqtt::Executor& executor,
                    const HandlersFor& handlers_for = {});
  // Says "offline" on the status topic and disconnects every broker, within `timeout` in all.
  void stop(std::chrono::milliseconds timeout);

  // The status topic: <topic_prefix>/<site>/status.
  static std::string status_topic(const config::Config& cfg);
  adapters::mqtt::Client* client(const std::string& bus_id) const;

 private:
  std::map<std::string, std::unique_ptr<adapters::mqtt::Client>> clients_;
};

}  // namespace gridlet::runtime
