// The MQTT outbox: QoS 1 messages that the broker has not acknowledged yet, kept in order, in
// memory and in the telemetry database (table `outbox`), so that a broker outage or a gateway
// crash loses none of them.
//
// - Every message gets a sequence number (`seq`), increasing across restarts: the producer puts it
//   in the payload, so that a subscriber can drop the duplicates that QoS 1 allows (a message the
//   broker received but whose acknowledgement was lost is sent again).
// - Persistence goes through the telemetry store's writer thread (the one writer of the file),
//   about kWriteDelay after a message was made: a message the broker acknowledges sooner is never
//   written, so a connected gateway spends no disk on it. A message is durable once its row is
//   committed; on kill -9 at most the messages of the last kWriteDelay plus one writer pass are
//   lost, as for telemetry samples.
// - Bounded by a size budget (topic + payload bytes): beyond it the oldest messages not in flight
//   are dropped, counted in stats().
// - After a restart, sequence numbers continue kRestartGap above the last one written, so they
//   never repeat even when the last moments before a crash were not written.
//
// Thread model: push(), take(), delivered() and requeue() belong to one thread (the event loop);
// they never touch the disk. stats() and flush() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/store/telemetry_store.hpp"

namespace gridlet::store {

struct OutboxMessage {
  std::uint64_t seq = 0;
  std::int64_t created_ms = 0;  // Unix ms
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = false;
};

struct OutboxStats {
  std::uint64_t enqueued = 0;
  std::uint64_t delivered = 0;      // acknowledged by the broker
  std::uint64_t dropped = 0;        // beyond the budget, oldest first
  std::uint64_t dropped_bytes = 0;
  std::uint64_t rows_written = 0;   // messages that had to be kept on disk
  std::uint64_t write_failures = 0; // writer passes that failed (retried)
  std::uint64_t pending = 0;        // waiting or in flight
  std::uint64_t pending_bytes = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t loaded = 0;         // found in the file at open
};

class Outbox {
 public:
  static constexpr std::chrono::milliseconds kWriteDelay{200};
  static constexpr std::uint64_t kRestartGap = 1ULL << 20;

  // Loads the messages left in the file (a previous run's) in order; `store` must outlive the
  // outbox. Reads the disk: call it before the event loop runs.
  static std::unique_ptr<Outbox> open(TelemetryStore& store, std::uint64_t max_bytes, OpenError* error);
  ~Outbox();  // writes what is pending (flush)
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Adds a message; `payload(seq)` makes its payload with the sequence number in it. Returns seq.
  using MakePayload = std::function<std::string(std::uint64_t seq)>;
  std::uint64_t push(std::string topic, const MakePayload& payload, int qos, bool retained,
                     std::int64_t now_ms);
  // Up to `max` waiting messages, lowest seq first; they are in flight until delivered() or
  // requeue().
  std::vector<OutboxMessage> take(std::size_t max);
  // The broker acknowledged it: forgotten (also on disk). Unknown seqs are ignored.
  void delivered(std::uint64_t seq);
  // The connection went away: every message in flight waits again (and goes out first, in order).
  void requeue();
  std::size_t in_flight() const;
  std::size_t waiting() const;  // not in flight

  // Waits until everything pushed, delivered or dropped before the call is reflected on disk;
  // false when the write failed.
  bool flush();
  OutboxStats stats() const;

 private:
  struct Impl;
  explicit Outbox(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the writer's jobs
};

}  // namespace gridlet::store
