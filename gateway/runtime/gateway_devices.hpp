// The API's view of every device the gateway controls, whatever its bus: Modbus devices through
// the Modbus fleet, MQTT devices through the MQTT fleet. Called on the event loop.
#pragma once

#include "gateway/api/device_service.hpp"
#include "gateway/runtime/modbus_fleet.hpp"
#include "gateway/runtime/mqtt_fleet.hpp"

namespace gridlet::runtime {

class GatewayDevices final : public api::DeviceService {
 public:
  GatewayDevices(ModbusFleet& modbus, MqttFleet& mqtt) : modbus_(modbus), mqtt_(mqtt) {}

  std::vector<Bus> buses() const override { return modbus_.buses(); }
  std::vector<MqttBus> mqtt_buses() const override;
  std::optional<Controls> controls(const std::string& id) const override;
  bool set(const std::string& id, adapters::SetpointCommand cmd, ControlDone done) override;
  bool release(const std::string& id, const std::string& point, const std::string& actor,
               const std::string& reason, ControlDone done) override;

 private:
  ModbusFleet& modbus_;
  MqttFleet& mqtt_;
};

}  // namespace gridlet::runtime
