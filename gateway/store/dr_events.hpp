// The demand-response events the gateway received (table `dr_events` of the telemetry database):
// the newest modification of each event, by source and event id, as the JSON of our wire format.
// Written by the telemetry store's writer thread (the one writer of the file); an event is
// acknowledged to its sender only after its row committed, so an accepted event survives kill -9.
// Queries open their own read-only connection; never call them on the event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/store/telemetry_store.hpp"

namespace gridlet::store {

struct StoredDrEvent {
  std::string source;    // "mqtt", "api", or a VTN's name
  std::string event_id;
  std::uint32_t modification = 0;
  std::int64_t received_ms = 0;
  std::string body;      // the event as JSON
};

class DrEventStore {
 public:
  // What put() did with an event.
  enum class Outcome : std::uint8_t {
    kStored,     // new, or a newer modification (replaces the one before)
    kUnchanged,  // the same modification with the same body again: nothing to do
    kStale,      // an older modification than the one stored, or the same number with another body
    kFailed,     // could not be written (disk full, I/O error)
  };

  explicit DrEventStore(TelemetryStore& store) : store_(store) {}

  // On the writer thread: compares with what is stored and writes in one transaction; then calls
  // `done` there (post to your own executor for real work).
  void put(StoredDrEvent event, std::function<void(Outcome)> done);

  // Every stored event of a source ("" = all), oldest received first. Reads the disk.
  Result<std::vector<StoredDrEvent>> list(const std::string& source) const;

 private:
  TelemetryStore& store_;
};

std::string_view to_string(DrEventStore::Outcome outcome);

}  // namespace gridlet::store
