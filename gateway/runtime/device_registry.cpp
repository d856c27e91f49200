#include "gateway/runtime/device_registry.hpp"

namespace gridlet::runtime {

void DeviceRegistry::load(const std::vector<config::DeviceConfig>& devices) {
  std::map<std::string, DeviceState> next;
  for (const auto& dc : devices) {
    DeviceState state;
    if (auto it = devices_.find(dc.id); it != devices_.end()) state = std::move(it->second);
    state.config = dc;
    next.emplace(dc.id, std::move(state));
  }
  devices_ = std::move(next);
}

const DeviceState* DeviceRegistry::find(const std::string& id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

std::vector<const DeviceState*> DeviceRegistry::list() const {
  std::vector<const DeviceState*> out;
  out.reserve(devices_.size());
  for (const auto& [id, state] : devices_) out.push_back(&state);
  return out;
}

DeviceSummary DeviceRegistry::summary() const {
  DeviceSummary s;
  for (const auto& [id, state] : devices_) {
    ++s.total;
    if (state.config.enabled) ++s.enabled;
    if (state.online) ++s.online;
  }
  return s;
}

void DeviceRegistry::mark_online(const std::string& id, std::int64_t now_ms) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  it->second.online = true;
  it->second.last_seen_ms = now_ms;
}

void DeviceRegistry::mark_offline(const std::string& id, std::string error) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  it->second.online = false;
  it->second.last_error = std::move(error);
}

void DeviceRegistry::set_errors(const std::string& id, std::uint64_t failed_polls,
                                std::string last_error) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  it->second.errors = failed_polls;
  if (!last_error.empty()) it->second.last_error = std::move(last_error);
}

}  // namespace gridlet::runtime
