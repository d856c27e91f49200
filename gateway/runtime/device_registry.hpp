// The device registry: every configured device with its live state (online, last seen, errors).
// Thread: event loop only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"

namespace gridlet::runtime {

struct DeviceState {
  config::DeviceConfig config;
  bool online = false;
  std::int64_t last_seen_ms = 0;  // last successful exchange, Unix ms; 0 = never
  std::uint64_t errors = 0;
  std::string last_error;
};

struct DeviceSummary {
  std::size_t total = 0;
  std::size_t enabled = 0;
  std::size_t online = 0;
};

class DeviceRegistry {
 public:
  // Replaces the set of devices; the live state of devices that remain is kept.
  void load(const std::vector<config::DeviceConfig>& devices);

  const DeviceState* find(const std::string& id) const;
  std::vector<const DeviceState*> list() const;  // ordered by id
  DeviceSummary summary() const;

  void mark_online(const std::string& id, std::int64_t now_ms);
  void mark_error(const std::string& id, std::string error);

 private:
  std::map<std::string, DeviceState> devices_;
};

}  // namespace gridlet::runtime
