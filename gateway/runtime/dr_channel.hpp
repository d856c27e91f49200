// The aggregator's MQTT channel (with [mqtt] dr_events = true):
//   <prefix>/<site>/dr/events   demand-response events in our wire format (gateway/dr/event.hpp),
//                               QoS 1, from the aggregator
//   <prefix>/<site>/dr/acks     one answer per message, QoS 1 through the outbox:
//     {"seq", "event_id", "modification_number", "status": "accepted"|"rejected",
//      "outcome" (accepted: "stored"|"unchanged"), "error" and "reason" (rejected), "ts"}
// An event is validated, then stored (table dr_events, newest modification per event id), and
// acknowledged only after its row committed: an accepted event survives a crash. Nothing is
// dropped silently: every message gets an answer, and is counted by outcome.
// Rejections: too_large, invalid (with the JSON pointer and why), stale (an older modification
// than the stored one, or the same number with other content), rate_limited (more than
// kBurst messages within a second), storage_failed. Logged at a rate limit.
// Thread: event loop, except the store's callback, which posts back to it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "adapters/clock.hpp"
#include "adapters/log_limiter.hpp"
#include "adapters/mqtt/client.hpp"
#include "gateway/config/config.hpp"
#include "gateway/runtime/mqtt_outbox.hpp"
#include "gateway/store/dr_events.hpp"
#include "gateway/store/event_log.hpp"

namespace gridlet::runtime {

class DrChannel {
 public:
  static constexpr int kBurst = 20;  // messages per second taken; beyond: rate_limited

  struct Stats {
    std::uint64_t received = 0;
    std::map<std::string, std::uint64_t> accepted;  // by outcome: stored, unchanged
    std::map<std::string, std::uint64_t> rejected;  // by error
  };

  DrChannel(const config::Config& cfg, store::DrEventStore& events, store::EventLog& log, MqttOutbox& outbox,
            adapters::mqtt::Executor& loop, const adapters::Clock& clock);

  std::string events_topic() const { return root_ + "/dr/events"; }
  std::string acks_topic() const { return root_ + "/dr/acks"; }

  void on_message(const adapters::mqtt::Message& message);
  const Stats& stats() const { return stats_; }

 private:
  void reject(const std::string& event_id, std::uint32_t modification, const std::string& error,
              const std::string& reason);
  void answer(const std::string& event_id, std::uint32_t modification, bool accepted, const std::string& outcome,
              const std::string& error, const std::string& reason);

  std::string root_;
  store::DrEventStore& events_;
  store::EventLog& log_;
  MqttOutbox& outbox_;
  adapters::mqtt::Executor& loop_;
  const adapters::Clock& clock_;
  Stats stats_;
  adapters::LogLimiter log_limit_;
  std::int64_t second_ = 0;  // the second whose messages are counted in in_second_
  int in_second_ = 0;
};

}  // namespace gridlet::runtime
