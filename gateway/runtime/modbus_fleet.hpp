// The Modbus side of the gateway: one Bus (worker thread) per Modbus [[buses]] entry and one
// DevicePoller per enabled device on it. It answers the API's DeviceService, tells the device
// registry which devices answer, and stops in two steps so that SIGTERM stays within its budget.
#pragma once

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "gateway/api/device_service.hpp"
#include "gateway/config/config.hpp"
#include "gateway/runtime/device_registry.hpp"

namespace gridlet::runtime {

class ModbusFleet final : public api::DeviceService {
 public:
  ModbusFleet() = default;
  // Stops every bus (all at once), then destroys the pollers, then the buses.
  ~ModbusFleet() override;
  ModbusFleet(const ModbusFleet&) = delete;
  ModbusFleet& operator=(const ModbusFleet&) = delete;

  // Builds the buses and starts a poller per enabled device; an error message when a device's
  // profile was not loaded with the configuration, else "".
  std::string start(const config::Config& cfg, adapters::ReadingSink& readings,
                    adapters::ControlSink& controls);

  // Shutdown, first step (on the loop, at the signal): every bus stops polling and interrupts the
  // request on its line, and every held setpoint is released to its fail-safe, all buses at once.
  void begin_shutdown();
  // Second step: waits for the releases until `release_until`, then for the bus threads until
  // `stop_until`. False when a bus thread is still stuck in an exchange (a serial line waiting out
  // its timeout): it was abandoned, and this fleet must not be destroyed.
  bool finish_shutdown(std::chrono::steady_clock::time_point release_until,
                       std::chrono::steady_clock::time_point stop_until);

  // Online means the device's unit answered its last request (the bus's view, which also knows
  // about units backing off). Called on the loop.
  void update_registry(DeviceRegistry& registry) const;

  // ---- api::DeviceService: typed answers, turned into JSON by the API's views.
  std::vector<api::DeviceService::Bus> buses() const override;
  std::optional<Controls> controls(const std::string& id) const override;
  bool set(const std::string& id, adapters::SetpointCommand cmd, ControlDone done) override;
  bool release(const std::string& id, const std::string& point, const std::string& actor,
               const std::string& reason, ControlDone done) override;

 private:
  adapters::modbus::DevicePoller* find(const std::string& id) const;

  // Destroyed in reverse order: a poller needs its bus until it is gone.
  std::vector<std::unique_ptr<adapters::modbus::Bus>> buses_;
  std::vector<std::unique_ptr<adapters::modbus::DevicePoller>> pollers_;
  std::map<std::string, adapters::modbus::DevicePoller*> by_id_;
  std::vector<std::future<void>> releases_;  // begin_shutdown()'s
};

}  // namespace gridlet::runtime
