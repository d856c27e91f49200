// The telemetry store: raw samples plus 1-minute and 15-minute rollups in one SQLite file.
//
// Thread model: append() may be called from any thread, also the event loop; it only enqueues.
// One writer thread owns the write connection and makes every write of the file: it commits one
// transaction per batch every commit interval (or sooner when a batch is full), registering new
// series in the same transaction as their first samples. Queries open their own read-only
// connections (WAL readers never block the writer), so they may run on any thread except the
// event loop (they touch the disk).
//
// Failures: expected ones (disk full, I/O error, a damaged file) come back as a Status
// (status.hpp); nothing throws out of this class.
//
// Durability: a sample is "committed" once the transaction that holds it has committed in WAL
// mode with synchronous=FULL; committed samples survive kill -9 and power loss. At most one
// commit interval of enqueued, uncommitted samples is lost on a crash.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/store/status.hpp"

struct sqlite3;

namespace gridlet::store {

struct StoreOptions {
  std::filesystem::path path;  // the database file, e.g. <data_dir>/telemetry.db
  std::chrono::milliseconds commit_interval{1000};
  std::size_t max_batch_samples = 20000;
  std::size_t queue_limit_samples = 1000000;
  std::chrono::milliseconds raw_retention{std::chrono::hours(24 * 7)};   // 0 = forever
  std::chrono::milliseconds rollup_1m_retention{std::chrono::hours(24 * 90)};
  std::chrono::milliseconds rollup_15m_retention{0};
  std::uint64_t disk_budget_bytes = 2ULL << 30;
  // Test hook: PRAGMA max_page_count on the write connection (0 = no limit), so that a test can
  // make SQLite answer SQLITE_FULL as a full disk would.
  std::uint32_t test_max_page_count = 0;
};

using SeriesId = std::int64_t;

struct Sample {
  SeriesId series = 0;
  std::int64_t timestamp_ms = 0;  // Unix milliseconds
  double value = 0.0;
};

// A sample of a series named by device and point: the writer registers the series (with its
// unit) in the same transaction as the sample when it is new, or when its unit changed.
struct NamedSample {
  std::string device;
  std::string point;
  std::string unit;
  std::int64_t timestamp_ms = 0;  // Unix milliseconds
  double value = 0.0;
};

struct SeriesInfo {
  SeriesId id = 0;
  std::string device;
  std::string point;
  std::string unit;
};

enum class Tier : std::uint8_t { kRaw, kMinute, kQuarterHour };
std::string_view to_string(Tier t);

// One row of a history answer. For raw rows min = max = mean = last = value and count = 1.
struct HistoryRow {
  std::int64_t timestamp_ms = 0;  // start of the bucket (raw: the sample time)
  double min = 0, max = 0, mean = 0, last = 0;
  std::int64_t count = 0;
};

struct HistoryQuery {
  SeriesId series = 0;
  std::int64_t from_ms = 0;  // inclusive
  std::int64_t to_ms = 0;    // exclusive
  std::int64_t step_ms = 0;  // wanted resolution; 0 = finest retained
  std::size_t max_rows = 0;  // stop reading after this many rows (0 = no limit); see truncated
};

struct HistoryResult {
  Tier tier = Tier::kRaw;
  std::int64_t step_ms = 0;  // resolution of the rows returned
  std::vector<HistoryRow> rows;
  bool truncated = false;  // more rows than query.max_rows exist; rows holds max_rows of them
};

// The store's counters, for health and for /metrics (the gateway exports them; the store itself
// registers no metrics).
struct StoreStats {
  std::uint64_t samples_enqueued = 0;
  std::uint64_t samples_committed = 0;
  std::uint64_t samples_dropped = 0;  // rejected because the queue was full
  std::uint64_t batches_committed = 0;
  std::uint64_t samples_failed = 0;   // in batches that failed and were rolled back
  std::uint64_t batches_failed = 0;
  std::uint64_t series = 0;           // series known
  double commit_seconds_total = 0;    // time spent writing and committing batches
  std::size_t queue_depth = 0;
  std::uint64_t file_bytes = 0;
  std::int64_t last_commit_ms = 0;  // Unix ms of the last commit, 0 if none
  std::string status;                // "ok" or the last write error (Status::to_string())
  StatusCode status_code = StatusCode::kOk;
};

// Outcome of opening: a damaged database is refused with a message telling how to recover.
struct OpenError {
  std::string message;
};

class TelemetryStore {
 public:
  // Called on the writer thread after the batch holding the samples committed (ok) or failed
  // (why: kNoSpace when the disk is full). Must be quick; post to your own executor for real work.
  using CommitCallback = std::function<void(const Status& status)>;

  // Opens or creates the database, runs migrations and PRAGMA integrity_check (quick_check on
  // large files), starts the writer thread. The writer's first job applies retention and the disk
  // budget (so open() does not wait for it); flush() and series() wait for that job.
  static std::unique_ptr<TelemetryStore> open(const StoreOptions& options, OpenError* error);

  ~TelemetryStore();  // flushes and stops the writer
  TelemetryStore(const TelemetryStore&) = delete;
  TelemetryStore& operator=(const TelemetryStore&) = delete;

  // Returns the id of the series (0 when it cannot be registered), creating it durably on first
  // use: the writer thread writes it and this call waits for that commit. Thread-safe, cached;
  // blocks on first use, so not on the event loop (append() named samples there instead).
  SeriesId series(std::string_view device, std::string_view point, std::string_view unit);
  // The id of a series already known, from memory only (never touches the disk; safe on the
  // event loop). 0 when the series is unknown or its unit changed: call series() off the loop.
  SeriesId cached_series(std::string_view device, std::string_view point,
                         std::string_view unit) const;
  std::vector<SeriesInfo> list_series() const;
  std::optional<SeriesInfo> find_series(std::string_view device, std::string_view point) const;

  // Enqueues samples. Returns false (and counts them dropped) when the queue is full. When cb is
  // set it is called once, after the last of these samples committed or failed.
  bool append(std::span<const Sample> samples, CommitCallback cb = {});
  // The same for samples named by device and point; never touches the disk (new series are
  // registered by the writer), so it is safe on the event loop.
  bool append(std::span<const NamedSample> samples, CommitCallback cb = {});

  // Blocks until everything enqueued before the call is committed.
  void flush();

  // For the other tables of this file (the event and audit logs, event_log.hpp): runs `job` on
  // the writer thread with the write connection, soon (it asks for an early batch), after the
  // samples queued before it. The job makes and commits its own transaction. This keeps every
  // write of the file on the one writer thread.
  using WriteJob = std::function<void(sqlite3* db)>;
  void run_on_writer(WriteJob job);
  // The same, but not before `delay` has passed (to retry a failed write later without blocking
  // the writer meanwhile): it runs between batches, asks for no early batch, and flush() does not
  // wait for it. A store that stops runs the jobs still waiting at once.
  void run_on_writer_after(std::chrono::milliseconds delay, WriteJob job);

  const std::filesystem::path& path() const;

  // Picks the tier: raw when step_ms < 60 s and the range is within raw retention, 1-minute when
  // step_ms < 15 min and within its retention, else 15-minute. Runs on the calling thread. A
  // query that fails (the file cannot be read, a damaged page) returns the Status, never rows
  // that are silently missing.
  Result<HistoryResult> history(const HistoryQuery& query) const;

  // Deletes data older than each tier's retention and enforces the disk budget. The writer runs
  // it periodically; exposed for tests (it runs on the writer thread and this call waits for it).
  // now_ms is "now" in Unix ms.
  void enforce_retention(std::int64_t now_ms);
  // For shutdown: retention work in progress (a long first pass after a week off) ends at its
  // next transaction, so flush() and closing are not held up by it; the rest is deleted at the
  // next start. Samples and jobs are unaffected. Any thread.
  void stop_maintenance();

  StoreStats stats() const;

 private:
  struct Impl;
  explicit TelemetryStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gridlet::store
