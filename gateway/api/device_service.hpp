// What the API asks of the device side of the runtime (the Modbus buses today, MQTT next), in
// types, not JSON: the daemon implements it, the API's views (devices.cpp, setpoints.cpp) turn the
// answers into documents. Called on the event loop; must not block (health is a snapshot taken
// under short locks). Control callbacks run once, on an adapter thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "adapters/mqtt/client.hpp"
#include "adapters/mqtt/device.hpp"

namespace gridlet::api {

class DeviceService {
 public:
  virtual ~DeviceService() = default;

  struct Bus {
    adapters::modbus::BusSettings settings;
    adapters::modbus::BusHealth health;
    std::vector<adapters::modbus::DeviceStatus> devices;  // the devices polled on this bus
  };
  virtual std::vector<Bus> buses() const = 0;

  struct MqttBus {
    std::string id;
    std::string url;
    adapters::mqtt::Client::Stats stats;
    std::vector<adapters::mqtt::MqttDeviceStatus> devices;  // the devices on this broker
  };
  virtual std::vector<MqttBus> mqtt_buses() const { return {}; }

  struct Controls {
    std::vector<adapters::ControlInfo> controls;     // what may be written, with ranges
    std::vector<adapters::ActiveSetpoint> setpoints; // what is held now
  };
  // nullopt when there is no such (enabled) device.
  virtual std::optional<Controls> controls(const std::string& device) const = 0;

  using ControlDone = std::function<void(const adapters::ControlEvent&)>;
  // False when there is no such (enabled) device; otherwise `done` is called once.
  virtual bool set(const std::string& device, adapters::SetpointCommand command, ControlDone done) = 0;
  virtual bool release(const std::string& device, const std::string& point, const std::string& actor,
                       const std::string& reason, ControlDone done) = 0;
};

}  // namespace gridlet::api
