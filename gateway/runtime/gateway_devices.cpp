#include "gateway/runtime/gateway_devices.hpp"

namespace gridlet::runtime {

std::vector<api::DeviceService::MqttBus> GatewayDevices::mqtt_buses() const {
  std::vector<MqttBus> out;
  const auto devices = mqtt_.statuses();
  for (auto& [id, stats] : mqtt_.client_stats()) {
    MqttBus b;
    b.id = id;
    if (const auto* c = mqtt_.client(id)) b.url = c->settings().url;
    b.stats = std::move(stats);
    for (const auto& d : devices) {
      if (d.bus == id) b.devices.push_back(d);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::optional<api::DeviceService::Controls> GatewayDevices::controls(const std::string& id) const {
  if (auto c = modbus_.controls(id)) return c;
  if (const auto* d = mqtt_.device(id)) return Controls{d->controls(), d->setpoints()};
  return std::nullopt;
}

bool GatewayDevices::set(const std::string& id, adapters::SetpointCommand cmd, ControlDone done) {
  if (auto* d = mqtt_.device(id)) {
    d->set(std::move(cmd), std::move(done));
    return true;
  }
  return modbus_.set(id, std::move(cmd), std::move(done));
}

bool GatewayDevices::release(const std::string& id, const std::string& point, const std::string& actor,
                             const std::string& reason, ControlDone done) {
  if (auto* d = mqtt_.device(id)) {
    d->release(point, actor, reason, std::move(done));
    return true;
  }
  return modbus_.release(id, point, actor, reason, std::move(done));
}

}  // namespace gridlet::runtime
