// The event log (alarms and notices for people) and the audit log (every write the gateway made to
// a device), in the telemetry database (tables `events` and `audit`, see SCHEMA.md).
//
// Thread model: append() may be called from any thread (bus threads report control events); it
// only enqueues. The telemetry store's writer thread (the one writer of the file) commits what is
// queued in one transaction, with synchronous=FULL, then calls each record's callback: a record
// whose callback said ok survives kill -9. A failed batch (the database busy beyond the busy
// timeout, an I/O error) stays at the front of the queue and is retried four times on later writer
// passes, after growing pauses (100 to 800 ms) during which the writer goes on committing
// telemetry, before its records are reported failed; records appended after it wait behind it.
// Queries open their own read-only connection; never call them on the event loop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/store/telemetry_store.hpp"

namespace gridlet::store {

struct EventRecord {
  std::int64_t id = 0;  // assigned by the store
  std::int64_t timestamp_ms = 0;
  std::string severity;  // "info", "warning", "alarm"
  std::string kind;      // "setpoint", "heartbeat", ...
  std::string device;
  std::string point;
  std::string message;
};

struct AuditRecord {
  std::int64_t id = 0;  // assigned by the store
  std::int64_t timestamp_ms = 0;
  std::string device;
  std::string point;
  std::string action;   // set, keepalive, reassert, release, heartbeat
  std::optional<double> value;
  std::optional<double> readback;
  std::string outcome;  // applied, rejected, refused, mismatch, failed
  std::string actor;
  std::string reason;
  std::string detail;
};

struct LogQuery {
  std::string device;          // "" = every device
  std::int64_t before_id = 0;  // page backwards: only ids below this (0 = from the newest)
  std::size_t limit = 100;     // at most this many, newest first (capped at 1000)
};

class EventLog {
 public:
  // The logs in the store's file, written by its writer thread; `store` must outlive the log.
  // Keeps the newest max_rows of each log (0 = all).
  static std::unique_ptr<EventLog> open(TelemetryStore& store, std::size_t max_rows,
                                        OpenError* error);
  ~EventLog();  // commits what is queued
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  using Committed = std::function<void(bool ok)>;
  // Either or both records; `done` is called on the writer thread once they are committed (or
  // failed). Ids in the records are ignored.
  void append(std::optional<AuditRecord> audit, std::optional<EventRecord> event, Committed done = {});
  // Records appended so far: pass it to flush() to ask about everything appended after it.
  std::uint64_t appended() const;
  // Waits until everything appended before the call is written; true when every record appended
  // since `since` (a value of appended()) was committed, false when a batch with one of them
  // failed (after retries).
  bool flush(std::uint64_t since = 0);

  // Newest first. A query that fails returns the Status, never an empty page.
  Result<std::vector<EventRecord>> events(const LogQuery& q) const;
  Result<std::vector<AuditRecord>> audit(const LogQuery& q) const;

 private:
  struct Impl;
  explicit EventLog(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the writer's jobs
};

}  // namespace gridlet::store
