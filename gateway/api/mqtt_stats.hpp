// What the MQTT side of the gateway reports to /metrics at a scrape: each broker connection and
// each MQTT device (no Paho, no Beast: cheap to include).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "adapters/mqtt/device.hpp"
#include "gateway/store/outbox.hpp"

namespace gridlet::api {

struct MqttStats {
  struct Bus {
    std::string id;
    adapters::mqtt::Client::Stats stats;
  };
  std::vector<Bus> buses;
  std::vector<adapters::mqtt::MqttDeviceStatus> devices;
  std::optional<store::OutboxStats> outbox;  // with [mqtt] enabled
  struct DrChannel {
    std::uint64_t received = 0;
    std::map<std::string, std::uint64_t> accepted;  // by outcome
    std::map<std::string, std::uint64_t> rejected;  // by error
  };
  std::optional<DrChannel> dr;  // with [mqtt] dr_events = true
  struct Control {
    std::uint64_t received = 0;
    std::map<std::string, std::uint64_t> rejected;  // by reason
    std::uint64_t applied = 0;
    std::uint64_t not_applied = 0;
  };
  std::optional<Control> control;  // with [mqtt] control = true
};

}  // namespace gridlet::api
