// Control over MQTT (with [mqtt] control = true): Home Assistant's number and switch entities
// write <prefix>/<site>/<device>/<control>/set, and the command goes through the same
// transactional setpoints as the API's PUT /api/v1/devices/{id}/setpoints/{point}: range checks,
// confirmation by the device, the audit log (actor "mqtt:<bus>"), keep-alive and fail-safe.
// Payloads: a decimal number, "ON" / "OFF" (1 / 0), or "release" to give the point back to its
// fail-safe. A retained command is never acted on (it would be replayed at every subscribe), and an
// empty payload (clearing a retained message) is no command. Anyone who may publish there controls the devices: keep it
// to Home Assistant with the broker's ACLs (README).
// Thread: event loop; device callbacks may come from bus threads and only count.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "adapters/clock.hpp"
#include "adapters/log_limiter.hpp"
#include "adapters/mqtt/client.hpp"
#include "gateway/api/device_service.hpp"
#include "gateway/config/config.hpp"

namespace gridlet::runtime {

class MqttControl {
 public:
  struct Stats {
    std::uint64_t received = 0;
    std::map<std::string, std::uint64_t> rejected;  // before reaching a device: bad_topic, bad_payload, unknown, empty
    std::uint64_t applied = 0;                      // confirmed by the device
    std::uint64_t not_applied = 0;                  // refused, not confirmed, or failed at the device
  };

  MqttControl(const config::Config& cfg, api::DeviceService& devices, const adapters::Clock& clock);

  std::string command_filter() const { return root_ + "/+/+/set"; }
  void on_message(const adapters::mqtt::Message& message);
  Stats stats() const;

 private:
  void reject(const std::string& why, const std::string& detail);

  std::string root_;
  std::string actor_;
  api::DeviceService& devices_;
  const adapters::Clock& clock_;
  std::uint64_t received_ = 0;
  std::map<std::string, std::uint64_t> rejected_;
  // Shared with the device callbacks, which may outlive this object.
  struct Outcomes {
    std::atomic<std::uint64_t> applied{0}, not_applied{0};
  };
  std::shared_ptr<Outcomes> outcomes_ = std::make_shared<Outcomes>();
  adapters::LogLimiter log_limit_;
};

}  // namespace gridlet::runtime
