// Sends the outbox's QoS 1 messages on the [mqtt] broker, in order, at most kWindow in flight:
// a message is forgotten when the broker acknowledges it; when the connection goes away, every
// message in flight waits again and goes out first after the reconnect. Subscribers drop the
// duplicates this allows by the "seq" that every payload carries.
// Thread: event loop only (the client's executor).
#pragma once

#include <cstdint>
#include <string>

#include "adapters/clock.hpp"
#include "adapters/mqtt/client.hpp"
#include "gateway/store/outbox.hpp"

namespace gridlet::runtime {

class MqttOutbox {
 public:
  static constexpr std::size_t kWindow = 64;

  MqttOutbox(store::Outbox& outbox, adapters::mqtt::Client& client, const adapters::Clock& clock)
      : outbox_(outbox), client_(client), clock_(clock) {}

  // Queues a message (payload(seq) puts the sequence number in it) and sends what it can.
  std::uint64_t send(std::string topic, const store::Outbox::MakePayload& payload, bool retained);
  // After every (re)connect, and every second: sends what waits.
  void pump();
  // The connection went away.
  void on_disconnected();

  store::Outbox& outbox() { return outbox_; }

 private:
  store::Outbox& outbox_;
  adapters::mqtt::Client& client_;
  const adapters::Clock& clock_;
  // Bumped when the connection goes away: a failure reported for an older connection is stale.
  std::uint64_t epoch_ = 0;
};

}  // namespace gridlet::runtime
