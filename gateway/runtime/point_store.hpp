// The point store: the latest value of every point of every device, with its quality and time.
// Adapters publish readings into it (posted onto the event loop); the API and the DR engine read
// it. Listeners (the telemetry store) see every accepted adapter reading.
// Thread: event loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/clock.hpp"
#include "adapters/device.hpp"

namespace gridlet::runtime {

using adapters::Clock;

struct PointKey {
  std::string device;
  std::string point;
  auto operator<=>(const PointKey&) const = default;
};

struct PointValue {
  std::string unit;
  double value = 0.0;
  adapters::Quality quality = adapters::Quality::kMissing;
  std::int64_t timestamp_ms = 0;            // when it was read; 0 = never
  std::chrono::milliseconds max_age{30000};  // older than this while good -> stale
};

class PointStore {
 public:
  using Listener = std::function<void(const adapters::Reading&)>;

  explicit PointStore(const Clock& clock) : clock_(clock) {}

  // Declares a point before its first reading so the API shows it as missing, not absent.
  void declare(const PointKey& key, std::string unit, std::chrono::milliseconds max_age);
  // Where a reading comes from: a device adapter (listeners persist it), or a path that has
  // already committed it to the telemetry store (API ingest; listeners are not told).
  enum class Origin : std::uint8_t { kAdapter, kAlreadyStored };

  // Records a reading. A reading older than the value held is ignored (returns false).
  bool update(const adapters::Reading& reading, Origin origin = Origin::kAdapter);
  // Turns good values older than their max_age into stale. Returns how many changed.
  std::size_t mark_stale();

  std::optional<PointValue> get(const PointKey& key) const;
  const std::map<PointKey, PointValue>& all() const { return points_; }
  std::size_t size() const { return points_.size(); }

  void add_listener(Listener listener) { listeners_.push_back(std::move(listener)); }
  // Sees every change a viewer would: accepted readings of either origin, and good values that
  // turn stale (publishing to MQTT).
  void add_change_listener(Listener listener) { change_listeners_.push_back(std::move(listener)); }

 private:
  const Clock& clock_;
  std::map<PointKey, PointValue> points_;
  std::vector<Listener> listeners_;
  std::vector<Listener> change_listeners_;
};

}  // namespace gridlet::runtime
