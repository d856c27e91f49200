#include "gateway/runtime/modbus_fleet.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace gridlet::runtime {
namespace {

namespace mb = adapters::modbus;

// Even past the stop deadline each bus gets this long before it counts as stuck (an idle bus
// stops at once).
constexpr std::chrono::milliseconds kBusStopGrace{200};

mb::BusSettings bus_settings(const config::BusConfig& bc) {
  mb::BusSettings s;
  s.id = bc.id;
  s.rtu = bc.type == config::BusType::kRtu;
  s.host = bc.host;
  s.port = bc.port;
  s.device = bc.device;
  s.baud = bc.baud;
  s.parity = bc.parity;
  s.data_bits = bc.data_bits;
  s.stop_bits = bc.stop_bits;
  s.frame_gap = bc.frame_gap;
  // buses.timeout is the most a request may wait; measured latency may bring it down to 100 ms.
  s.timeout = bc.timeout;
  s.timeout_ceiling = bc.timeout;
  s.timeout_floor = std::min(s.timeout_floor, bc.timeout);
  s.probe_timeout = bc.probe_timeout;
  s.backoff_initial = bc.backoff_initial;
  s.backoff_max = bc.backoff_max;
  return s;
}

}  // namespace

ModbusFleet::~ModbusFleet() {
  for (auto& b : buses_) b->request_stop();  // all at once: shutdown waits for the slowest only
  for (auto& b : buses_) b->stop();
}

std::string ModbusFleet::start(const config::Config& cfg, adapters::ReadingSink& readings,
                               adapters::ControlSink& controls) {
  for (const auto& bc : cfg.buses) {
    if (!bc.modbus()) continue;
    const mb::BusSettings s = bus_settings(bc);
    buses_.push_back(std::make_unique<mb::Bus>(s));
    mb::Bus* bus = buses_.back().get();
    for (const auto& dc : cfg.devices) {
      if (dc.bus != bc.id || !dc.enabled) continue;
      std::shared_ptr<const mb::Profile> profile;
      if (!dc.profile_path.empty()) {
        const auto it = cfg.profiles.find(dc.profile_path);
        if (it == cfg.profiles.end()) return "profile " + dc.profile_path.string() + " was not loaded";
        profile = it->second;
      }
      auto poller = std::make_unique<mb::DevicePoller>(*bus, dc.id, static_cast<std::uint8_t>(dc.unit_id),
                                                       profile, readings);
      mb::ControlSettings cs;
      cs.revert = std::chrono::duration_cast<std::chrono::seconds>(dc.setpoint_revert);
      cs.heartbeat = dc.heartbeat;
      cs.failsafe = dc.failsafe;
      poller->set_control(&controls, std::move(cs));
      poller->start();
      by_id_[dc.id] = poller.get();
      pollers_.push_back(std::move(poller));
    }
    spdlog::info("bus {}: {} ({})", bc.id, s.rtu ? s.device : s.host + ":" + std::to_string(s.port),
                 s.rtu ? "rtu" : "tcp");
  }
  return "";
}

void ModbusFleet::begin_shutdown() {
  for (auto& b : buses_) b->drain();
  for (auto& p : pollers_) releases_.push_back(p->release_all("the gateway is stopping"));
}

bool ModbusFleet::finish_shutdown(std::chrono::steady_clock::time_point release_until,
                                  std::chrono::steady_clock::time_point stop_until) {
  for (auto& f : releases_) {
    if (f.wait_until(release_until) != std::future_status::ready) {
      spdlog::warn("shutdown: a bus did not finish its releases in time (busy on its line); held "
                   "setpoints revert by the devices' own timers");
      break;
    }
  }
  for (auto& b : buses_) b->request_stop();
  bool stopped = true;
  for (auto& b : buses_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        stop_until - std::chrono::steady_clock::now());
    stopped = b->stop(std::max(left, kBusStopGrace)) && stopped;
  }
  return stopped;
}

void ModbusFleet::update_registry(DeviceRegistry& registry) const {
  for (const auto& bus : buses_) {
    const auto h = bus->health();
    for (const auto& p : pollers_) {
      if (p->bus_id() != h.id) continue;
      const auto st = p->status();
      registry.set_errors(st.id, st.poll_failures, st.last_error);
      const auto it = h.units.find(st.unit);
      if (it == h.units.end()) continue;
      if (it->second.online) {
        registry.mark_online(st.id, it->second.last_ok_ms);
      } else if (it->second.requests > 0) {
        registry.mark_offline(st.id, st.last_error.empty() ? "not answering" : st.last_error);
      }
    }
  }
}

mb::DevicePoller* ModbusFleet::find(const std::string& id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<api::DeviceService::Bus> ModbusFleet::buses() const {
  std::vector<api::DeviceService::Bus> out;
  for (const auto& bus : buses_) {
    api::DeviceService::Bus b;
    b.settings = bus->settings();
    b.health = bus->health();
    for (const auto& p : pollers_) {
      if (p->bus_id() == b.settings.id) b.devices.push_back(p->status());
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::optional<api::DeviceService::Controls> ModbusFleet::controls(const std::string& id) const {
  const auto* p = find(id);
  if (p == nullptr) return std::nullopt;
  return Controls{p->controls(), p->setpoints()};
}

bool ModbusFleet::set(const std::string& id, adapters::SetpointCommand cmd, ControlDone done) {
  auto* p = find(id);
  if (p == nullptr) return false;
  p->set(std::move(cmd), std::move(done));
  return true;
}

bool ModbusFleet::release(const std::string& id, const std::string& point, const std::string& actor,
                          const std::string& reason, ControlDone done) {
  auto* p = find(id);
  if (p == nullptr) return false;
  p->release(point, actor, reason, std::move(done));
  return true;
}

}  // namespace gridlet::runtime
