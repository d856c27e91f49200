// What the gateway publishes of its points, and when: a rate limit and a deadband per point, a
// heartbeat so that a value that never changes is still refreshed, and the JSON each message
// carries. Pure: the time is passed in; nothing here publishes.
//
// A reading is published at once when its point has not been published for min_interval and it
// differs from what was last published (its quality changed, or its value moved by more than the
// deadband, or max_interval passed). A reading that arrives sooner is held, and the latest held
// value of each point goes out by due() once min_interval has passed, so the retained value on the
// broker always ends up the latest one.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/device.hpp"

namespace gridlet::adapters::mqtt {

struct PublishSettings {
  std::chrono::milliseconds min_interval{1000};  // at most one message per point per interval
  std::chrono::milliseconds max_interval{300000};  // an unchanged value is refreshed this often
  double deadband = 0.0;  // changes of at most this (absolute, the point's unit) are not news

  bool operator==(const PublishSettings&) const = default;
};

class PublishPolicy {
 public:
  explicit PublishPolicy(PublishSettings defaults = {}) : defaults_(defaults) {}

  // Settings for one point instead of the defaults.
  void set(const std::string& device, const std::string& point, PublishSettings settings);

  // A new reading at now_ms (Unix ms). True: publish it now. False: not news, or held until due().
  bool offer(const Reading& reading, std::int64_t now_ms);
  // The held readings whose min_interval has passed (each point's latest), now counted as
  // published; and unchanged values whose max_interval has passed (refreshed).
  std::vector<Reading> due(std::int64_t now_ms);
  // Every point's latest reading (after a reconnect to a broker that may have lost its retained
  // messages). Counts them as published now.
  std::vector<Reading> all(std::int64_t now_ms);
  // A reading that offer() or due() let through could not be sent (the broker was away): it is
  // held again, so due() or all() sends it later.
  void failed(const Reading& reading);

 private:
  struct State {
    std::optional<Reading> published;  // what the broker holds
    std::optional<Reading> held;       // newer, waiting for min_interval
    std::int64_t published_ms = 0;
    bool unsent = false;  // `published` never reached the broker (failed())
  };
  const PublishSettings& settings_of(const std::pair<std::string, std::string>& key) const;
  bool news(const Reading& r, const State& st, const PublishSettings& s, std::int64_t now_ms) const;

  PublishSettings defaults_;
  std::map<std::pair<std::string, std::string>, PublishSettings> overrides_;
  std::map<std::pair<std::string, std::string>, State> points_;
};

// The JSON of a point message: {"value": 230.1, "unit": "V", "quality": "good", "ts": <Unix ms>}.
// value is null unless the quality is good or stale. A message sent through the outbox (QoS 1)
// also carries its sequence number, "seq", by which a subscriber drops duplicates.
std::string point_payload(const Reading& reading, std::optional<std::uint64_t> seq = std::nullopt);

}  // namespace gridlet::adapters::mqtt
