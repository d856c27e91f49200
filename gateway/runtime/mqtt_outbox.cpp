#include "gateway/runtime/mqtt_outbox.hpp"

namespace gridlet::runtime {

std::uint64_t MqttOutbox::send(std::string topic, const store::Outbox::MakePayload& payload, bool retained) {
  const auto seq = outbox_.push(std::move(topic), payload, 1, retained, clock_.now_ms());
  pump();
  return seq;
}

void MqttOutbox::pump() {
  if (!client_.connected() || outbox_.in_flight() >= kWindow) return;
  for (auto& m : outbox_.take(kWindow - outbox_.in_flight())) {
    const std::uint64_t seq = m.seq;
    client_.publish({std::move(m.topic), std::move(m.payload), m.qos, m.retained},
                    [this, seq, epoch = epoch_](bool delivered) {
                      if (delivered) {
                        outbox_.delivered(seq);
                        pump();
                      } else if (epoch == epoch_) {
                        // Refused or cut off: everything in flight goes again, in order, at the
                        // next pump() (every second, and after every connect).
                        ++epoch_;
                        outbox_.requeue();
                      }
                    });
  }
}

void MqttOutbox::on_disconnected() {
  ++epoch_;
  outbox_.requeue();
}

}  // namespace gridlet::runtime
