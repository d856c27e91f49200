#include "gateway/runtime/point_store.hpp"

namespace gridlet::runtime {

using adapters::Quality;

void PointStore::declare(const PointKey& key, std::string unit, std::chrono::milliseconds max_age) {
  auto [it, inserted] = points_.try_emplace(key);
  it->second.unit = std::move(unit);
  it->second.max_age = max_age;
  (void)inserted;
}

bool PointStore::update(const adapters::Reading& reading, Origin origin) {
  auto [it, inserted] = points_.try_emplace(PointKey{reading.device, reading.point});
  PointValue& pv = it->second;
  if (!inserted && reading.timestamp_ms < pv.timestamp_ms) return false;
  if (!reading.unit.empty()) pv.unit = reading.unit;
  if (reading.max_age_ms > 0) pv.max_age = std::chrono::milliseconds(reading.max_age_ms);
  pv.quality = reading.quality;
  pv.timestamp_ms = reading.timestamp_ms;
  // A failed or missing read keeps the last value for reference but never its good quality.
  if (reading.quality == Quality::kGood || reading.quality == Quality::kStale) pv.value = reading.value;
  if (origin == Origin::kAdapter) {
    for (const auto& listener : listeners_) listener(reading);
  }
  for (const auto& listener : change_listeners_) listener(reading);
  return true;
}

std::size_t PointStore::mark_stale() {
  const std::int64_t now = clock_.now_ms();
  std::size_t changed = 0;
  for (auto& [key, pv] : points_) {
    if (pv.quality == Quality::kGood && now - pv.timestamp_ms > pv.max_age.count()) {
      pv.quality = Quality::kStale;
      ++changed;
      if (change_listeners_.empty()) continue;
      adapters::Reading r;
      r.device = key.device;
      r.point = key.point;
      r.unit = pv.unit;
      r.value = pv.value;
      r.quality = Quality::kStale;
      r.timestamp_ms = pv.timestamp_ms;
      r.max_age_ms = pv.max_age.count();
      for (const auto& listener : change_listeners_) listener(r);
    }
  }
  return changed;
}

std::optional<PointValue> PointStore::get(const PointKey& key) const {
  auto it = points_.find(key);
  if (it == points_.end()) return std::nullopt;
  return it->second;
}

}  // namespace gridlet::runtime
