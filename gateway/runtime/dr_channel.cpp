#include "gateway/runtime/dr_channel.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "gateway/dr/event.hpp"

namespace gridlet::runtime {

DrChannel::DrChannel(const config::Config& cfg, store::DrEventStore& events, store::EventLog& log,
                     MqttOutbox& outbox, adapters::mqtt::Executor& loop, const adapters::Clock& clock)
    : root_(cfg.mqtt.topic_prefix + "/" + cfg.site.id),
      events_(events),
      log_(log),
      outbox_(outbox),
      loop_(loop),
      clock_(clock) {}

void DrChannel::on_message(const adapters::mqtt::Message& m) {
  ++stats_.received;
  const std::int64_t now = clock_.now_ms();
  if (now / 1000 != second_) {
    second_ = now / 1000;
    in_second_ = 0;
  }
  // Whatever can be read of the id goes into the answer, so the sender can match it.
  std::string event_id;
  std::uint32_t modification = 0;
  if (m.payload.size() <= dr::kMaxEventJsonBytes) {
    const auto j = nlohmann::json::parse(m.payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      if (const auto it = j.find("event_id"); it != j.end() && it->is_string() && it->get_ref<const std::string&>().size() <= 128) {
        event_id = it->get<std::string>();
      }
      if (const auto it = j.find("modification_number"); it != j.end() && it->is_number_unsigned() &&
                                                          it->get<std::uint64_t>() <= UINT32_MAX) {
        modification = static_cast<std::uint32_t>(it->get<std::uint64_t>());
      }
    }
  }
  if (++in_second_ > kBurst) {
    reject(event_id, modification, "rate_limited", fmt::format("more than {} messages in one second", kBurst));
    return;
  }
  if (m.payload.size() > dr::kMaxEventJsonBytes) {
    reject(event_id, modification, "too_large",
           fmt::format("{} bytes; at most {} are taken", m.payload.size(), dr::kMaxEventJsonBytes));
    return;
  }
  auto parsed = dr::parse_event(m.payload);
  if (!parsed.is_ok()) {
    reject(event_id, modification, "invalid", parsed.error().to_string());
    return;
  }
  const dr::DrEvent event = std::move(parsed).value();
  store::StoredDrEvent row{"mqtt", event.event_id, event.modification_number, now, dr::to_json(event)};
  // The answer waits for the commit: "accepted" means on disk.
  events_.put(std::move(row), [this, event](store::DrEventStore::Outcome outcome) {
    loop_.post([this, event, outcome] {
      using Outcome = store::DrEventStore::Outcome;
      switch (outcome) {
        case Outcome::kStored:
        case Outcome::kUnchanged: {
          const std::string what(store::to_string(outcome));
          ++stats_.accepted[what];
          answer(event.event_id, event.modification_number, true, what, "", "");
          if (outcome == Outcome::kStored) {
            store::EventRecord rec;
            rec.timestamp_ms = clock_.now_ms();
            rec.severity = "info";
            rec.kind = "dr";
            rec.message = fmt::format("event {} of program {} (modification {}{}) received over MQTT: {} intervals",
                                      event.event_id, event.program, event.modification_number,
                                      event.cancelled ? ", cancelled" : "", event.intervals.size());
            log_.append(std::nullopt, std::move(rec));
          }
          break;
        }
        case Outcome::kStale:
          reject(event.event_id, event.modification_number, "stale",
                 "an event with this id and a newer modification, or the same modification with other "
                 "content, was received before");
          break;
        case Outcome::kFailed:
          reject(event.event_id, event.modification_number, "storage_failed",
                 "the event could not be stored; send it again");
          break;
      }
    });
  });
}

void DrChannel::reject(const std::string& event_id, std::uint32_t modification, const std::string& error,
                       const std::string& reason) {
  ++stats_.rejected[error];
  std::uint64_t held = 0;
  if (log_limit_.allow(clock_.now_ms(), held)) {
    spdlog::warn("DR event {} over MQTT rejected: {}: {}{}", event_id.empty() ? "(no id)" : event_id, error, reason,
                 held > 0 ? fmt::format(" ({} more rejections not logged)", held) : std::string());
  }
  answer(event_id, modification, false, "", error, reason);
}

void DrChannel::answer(const std::string& event_id, std::uint32_t modification, bool accepted,
                       const std::string& outcome, const std::string& error, const std::string& reason) {
  const std::int64_t now = clock_.now_ms();
  outbox_.send(acks_topic(), [&](std::uint64_t seq) {
    nlohmann::ordered_json j;
    j["seq"] = seq;
    j["event_id"] = event_id;
    j["modification_number"] = modification;
    j["status"] = accepted ? "accepted" : "rejected";
    if (accepted) {
      j["outcome"] = outcome;
    } else {
      j["error"] = error;
      j["reason"] = reason;
    }
    j["ts"] = now;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }, false);
}

}  // namespace gridlet::runtime
