#include "adapters/mqtt/publish_policy.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

namespace gridlet::adapters::mqtt {

void PublishPolicy::set(const std::string& device, const std::string& point, PublishSettings settings) {
  overrides_[{device, point}] = settings;
}

const PublishSettings& PublishPolicy::settings_of(const std::pair<std::string, std::string>& key) const {
  const auto it = overrides_.find(key);
  return it == overrides_.end() ? defaults_ : it->second;
}

bool PublishPolicy::news(const Reading& r, const State& st, const PublishSettings& s, std::int64_t now_ms) const {
  if (!st.published) return true;
  const Reading& p = *st.published;
  if (p.quality != r.quality || p.unit != r.unit) return true;
  if (now_ms - st.published_ms >= s.max_interval.count()) return true;
  const bool has_value = r.quality == Quality::kGood || r.quality == Quality::kStale;
  return has_value && std::abs(r.value - p.value) > s.deadband;
}

bool PublishPolicy::offer(const Reading& reading, std::int64_t now_ms) {
  const std::pair key{reading.device, reading.point};
  const PublishSettings& s = settings_of(key);
  State& st = points_[key];
  if (!news(reading, st, s, now_ms)) {
    if (!st.unsent) st.held.reset();  // back where the broker is: nothing to send later either
    return false;
  }
  if (st.published && now_ms - st.published_ms < s.min_interval.count()) {
    st.held = reading;
    return false;
  }
  st.published = reading;
  st.published_ms = now_ms;
  st.held.reset();
  st.unsent = false;
  return true;
}

std::vector<Reading> PublishPolicy::due(std::int64_t now_ms) {
  std::vector<Reading> out;
  for (auto& [key, st] : points_) {
    const PublishSettings& s = settings_of(key);
    if (st.held && (st.unsent || now_ms - st.published_ms >= s.min_interval.count())) {
      st.published = std::move(st.held);
      st.held.reset();
      st.published_ms = now_ms;
      st.unsent = false;
      out.push_back(*st.published);
    } else if (!st.held && st.published && now_ms - st.published_ms >= s.max_interval.count()) {
      st.published_ms = now_ms;
      out.push_back(*st.published);
    }
  }
  return out;
}

std::vector<Reading> PublishPolicy::all(std::int64_t now_ms) {
  std::vector<Reading> out;
  for (auto& [key, st] : points_) {
    if (st.held) {
      st.published = std::move(st.held);
      st.held.reset();
    }
    if (!st.published) continue;
    st.published_ms = now_ms;
    st.unsent = false;
    out.push_back(*st.published);
  }
  return out;
}

void PublishPolicy::failed(const Reading& reading) {
  State& st = points_[{reading.device, reading.point}];
  if (!st.held) st.held = reading;  // a newer held value wins
  st.unsent = true;                 // due at once
}

std::string point_payload(const Reading& reading, std::optional<std::uint64_t> seq) {
  nlohmann::ordered_json j;
  const bool has_value = (reading.quality == Quality::kGood || reading.quality == Quality::kStale) &&
                         std::isfinite(reading.value);
  j["value"] = has_value ? nlohmann::ordered_json(reading.value) : nlohmann::ordered_json(nullptr);
  j["unit"] = reading.unit;
  j["quality"] = std::string(to_string(reading.quality));
  j["ts"] = reading.timestamp_ms;
  if (seq) j["seq"] = *seq;
  return j.dump();
}

}  // namespace gridlet::adapters::mqtt
