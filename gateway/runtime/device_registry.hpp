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
  std::uint64_t errors = 0;  // failed polls, as the device's bus counts them (see set_errors)
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
  void mark_offline(const std::string& id, std::string error);
  // The device's failed polls and last error: the same values /api/v1/buses shows as
  // poll_failures and last_error, so the two views agree. An empty last_error keeps the old one.
  void set_errors(const std::string& id, std::uint64_t failed_polls, std::string last_error);

 private:
  std::map<std::string, DeviceState> devices_;
};

}  // namespace gridlet::runtime
