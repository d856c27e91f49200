// The telemetry store: a bounded in-memory queue, one writer thread that commits batches (raw
// samples and their rollups in one transaction), a pool of read-only connections for queries,
// and retention. The file format and the durability promise are written down in SCHEMA.md.
#include "gateway/store/telemetry_store.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include "adapters/clock.hpp"
#include "adapters/thread_safety.hpp"
#include "gateway/store/database.hpp"
#include "gateway/store/rollup.hpp"

namespace gridlet::store {
namespace {

using detail::Connection;
using detail::Statement;
using SteadyClock = std::chrono::steady_clock;

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kQuarterHourMs = 15 * kMinuteMs;
// Files above this size get PRAGMA quick_check at open: integrity_check reads every index and
// takes minutes on a large file on an SD card.
constexpr std::uint64_t kQuickCheckAboveBytes = 256ULL << 20;
// How often the writer applies retention and the disk budget.
constexpr auto kRetentionInterval = std::chrono::minutes(10);
// Rows deleted per retention transaction: bounds the time the writer lock is held and WAL growth.
constexpr std::int64_t kDeleteChunkRows = 50'000;
// Pages released per incremental_vacuum step (4 KiB pages: 8 MiB).
constexpr int kVacuumChunkPages = 2048;
// Idle read connections kept open; more concurrent readers open and close their own.
constexpr std::size_t kMaxIdleReaders = 4;

// Rounds step up to a whole number of buckets, never below one bucket.
std::int64_t round_step(std::int64_t step_ms, std::int64_t bucket_ms) {
  if (step_ms <= bucket_ms) return bucket_ms;
  return (step_ms + bucket_ms - 1) / bucket_ms * bucket_ms;
}

constexpr const char* kInsertSampleSql =
    // First write wins: a duplicate (series, ts) is ignored so the rollups, which cannot
    // un-count a replaced value, stay exact. sqlite3_changes() tells the writer which rows landed.
    "INSERT INTO samples(series_id, ts_ms, value) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(series_id, ts_ms) DO NOTHING";

std::string upsert_rollup_sql(const char* table) {
  return fmt::format(
      "INSERT INTO {0}(series_id, bucket_ms, min_value, max_value, sum_value, sample_count, "
      "last_ts_ms, last_value) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
      "ON CONFLICT(series_id, bucket_ms) DO UPDATE SET "
      "min_value = min(min_value, excluded.min_value), "
      "max_value = max(max_value, excluded.max_value), "
      "sum_value = sum_value + excluded.sum_value, "
      "sample_count = sample_count + excluded.sample_count, "
      "last_value = CASE WHEN excluded.last_ts_ms >= last_ts_ms "
      "THEN excluded.last_value ELSE last_value END, "
      "last_ts_ms = max(last_ts_ms, excluded.last_ts_ms)",
      table);
}

// One table of the store as retention and queries see it.
struct TierTable {
  const char* table;
  const char* time_column;
};
constexpr TierTable kRawTable{"samples", "ts_ms"};
constexpr TierTable kMinuteTable{"rollup_1m", "bucket_ms"};
constexpr TierTable kQuarterHourTable{"rollup_15m", "bucket_ms"};

}  // namespace

// (device, point), the identity of a series; the unit travels with the registration.
struct SeriesKey {
  std::string device, point, unit;
  bool operator<(const SeriesKey& o) const {
    return std::tie(device, point) < std::tie(o.device, o.point);
  }
};

std::string_view to_string(Tier t) {
  switch (t) {
    case Tier::kRaw:
      return "raw";
    case Tier::kMinute:
      return "1m";
    case Tier::kQuarterHour:
      return "15m";
  }
  return "unknown";
}

struct TelemetryStore::Impl {
  explicit Impl(StoreOptions opts) : options(std::move(opts)) {}
  ~Impl();

  bool open(std::string* error) EXCLUDES(db_mu);
  bool open_file(std::string* error) REQUIRES(db_mu);
  void start_writer() EXCLUDES(queue_mu);

  void writer_loop() EXCLUDES(queue_mu, db_mu);
  // One more append that wants an early batch (series(), jobs, retention); returns its sequence.
  std::uint64_t append_urgent() REQUIRES(queue_mu);
  // Waits until the batch holding append `target` committed or failed.
  void wait_done(adapters::MutexLock& lock, std::uint64_t target) REQUIRES(queue_mu);
  // The producers' queue of Sample or NamedSample.
  template <typename Item>
  std::vector<Item>& pending_of() REQUIRES(queue_mu);
  // Appends to the queue of Item unless the queue limit would be passed.
  template <typename Item>
  bool enqueue(std::span<const Item> samples, CommitCallback cb) EXCLUDES(queue_mu);
  // Everything taken from the queue in one writer pass: samples, then retention, then jobs.
  void run_batch() REQUIRES(db_mu);
  void commit_batch() REQUIRES(db_mu);
  Status write_batch_locked() REQUIRES(db_mu);
  // Registers (or updates the unit of) a series inside the open batch transaction; 0 on failure.
  SeriesId register_series_locked(const std::string& device, const std::string& point,
                                  const std::string& unit) REQUIRES(db_mu);
  SeriesId resolve_locked(const std::string& device, const std::string& point,
                          const std::string& unit) REQUIRES(db_mu) EXCLUDES(series_mu);
  void set_status(const Status& s) EXCLUDES(status_mu);
  void refresh_file_bytes();

  // enforce_retention(), logging what it throws (bad_alloc) instead of ending the writer.
  void retain(std::int64_t now_ms) REQUIRES(db_mu);
  void enforce_retention(std::int64_t now_ms) REQUIRES(db_mu);
  std::int64_t delete_before(const TierTable& tier, std::int64_t cut_ms) REQUIRES(db_mu);
  struct TimeRange {
    std::int64_t oldest_ms;
    std::int64_t newest_ms;
  };
  std::optional<TimeRange> time_range(const TierTable& tier) REQUIRES(db_mu);
  bool enforce_budget() REQUIRES(db_mu);
  void vacuum() REQUIRES(db_mu);

  Connection acquire_reader(std::string* error) const EXCLUDES(readers_mu);
  void release_reader(Connection c) const EXCLUDES(readers_mu);
  Result<HistoryResult> history(const HistoryQuery& q) const;

  const StoreOptions options;

  // --- The write connection and its statements. The writer thread holds db_mu for as long as it
  // uses them (a whole writer pass, jobs included); only open() before the writer starts and the
  // destructor after it stopped take it otherwise. Commit callbacks and jobs run with it held, so
  // the order is db_mu before queue_mu, series_mu and status_mu (they may append, for instance). ---
  adapters::Mutex db_mu;
  Connection db GUARDED_BY(db_mu);
  Statement begin_stmt GUARDED_BY(db_mu);
  Statement commit_stmt GUARDED_BY(db_mu);
  Statement insert_sample_stmt GUARDED_BY(db_mu);
  Statement upsert_1m_stmt GUARDED_BY(db_mu);
  Statement upsert_15m_stmt GUARDED_BY(db_mu);
  Statement upsert_series_stmt GUARDED_BY(db_mu);

  // --- Series cache (complete: loaded at open, extended by series()). ---
  mutable adapters::Mutex series_mu;
  std::map<std::pair<std::string, std::string>, SeriesInfo> series_by_key GUARDED_BY(series_mu);

  // --- The queue between producers and the writer. ---
  adapters::Mutex queue_mu;
  adapters::CondVar writer_cv;   // wakes the writer: work, flush or stop
  adapters::CondVar flushed_cv;  // wakes flush(): a batch finished
  std::vector<Sample> pending GUARDED_BY(queue_mu);
  std::vector<NamedSample> pending_named GUARDED_BY(queue_mu);
  std::vector<SeriesKey> pending_series GUARDED_BY(queue_mu);  // series() registrations
  std::vector<std::int64_t> pending_retention GUARDED_BY(queue_mu);  // enforce_retention() calls
  std::vector<WriteJob> pending_jobs GUARDED_BY(queue_mu);
  std::vector<CommitCallback> pending_callbacks GUARDED_BY(queue_mu);
  // run_on_writer_after(): by the time they may run; outside the sequence numbers below.
  std::multimap<SteadyClock::time_point, WriteJob> delayed_jobs GUARDED_BY(queue_mu);
  std::uint64_t appended_seq GUARDED_BY(queue_mu) = 0;  // accepted append() calls
  std::uint64_t taken_seq GUARDED_BY(queue_mu) = 0;     // appends moved into a batch by the writer
  std::uint64_t done_seq GUARDED_BY(queue_mu) = 0;      // appends whose batch committed or failed
  SteadyClock::time_point first_pending_time GUARDED_BY(queue_mu);
  bool flush_requested GUARDED_BY(queue_mu) = false;
  bool stopping GUARDED_BY(queue_mu) = false;
  std::thread writer;

  // --- Writer thread only. ---
  std::vector<Sample> batch;
  std::vector<NamedSample> batch_named;
  std::vector<SeriesKey> batch_series;
  std::vector<std::int64_t> batch_retention;
  std::vector<WriteJob> batch_jobs;
  std::vector<CommitCallback> batch_callbacks;
  std::map<SeriesKey, SeriesInfo> batch_registered;  // new in this batch; cached once committed
  detail::BatchRollup minute_rollup{kMinuteMs};
  detail::BatchRollup quarter_rollup{kQuarterHourMs};
  std::uint64_t nonfinite_skipped = 0;

  // --- Statistics, readable from any thread. ---
  std::atomic<std::uint64_t> samples_enqueued{0}, samples_committed{0}, samples_dropped{0},
      batches_committed{0}, samples_failed{0}, batches_failed{0}, file_bytes{0};
  std::atomic<double> commit_seconds_total{0};
  std::atomic<std::size_t> queue_depth{0};
  std::atomic<std::int64_t> last_commit_ms{0};
  mutable adapters::Mutex status_mu;
  Status status GUARDED_BY(status_mu);
  // Data before these times was dropped by the disk budget (not by retention): queries for such
  // ranges go to the next coarser tier. In memory only; see SCHEMA.md.
  std::atomic<std::int64_t> raw_budget_horizon_ms{std::numeric_limits<std::int64_t>::min()};
  std::atomic<std::int64_t> minute_budget_horizon_ms{std::numeric_limits<std::int64_t>::min()};

  // --- Read connections. ---
  mutable adapters::Mutex readers_mu;
  mutable std::vector<Connection> idle_readers GUARDED_BY(readers_mu);

  // Set by stop_maintenance() and at close: retention work ends at its next transaction.
  std::atomic<bool> maintenance_stopped{false};
};

TelemetryStore::Impl::~Impl() {
  maintenance_stopped = true;
  if (writer.joinable()) {
    {
      adapters::MutexLock lock(queue_mu);
      stopping = true;
    }
    writer_cv.notify_one();
    writer.join();
  }
  // Readers first, so that closing the write connection (the last one) checkpoints the WAL and
  // removes it.
  {
    adapters::MutexLock lock(readers_mu);
    idle_readers.clear();
  }
  adapters::MutexLock db_lock(db_mu);  // the writer is gone; for the analysis
  begin_stmt.reset();
  commit_stmt.reset();
  insert_sample_stmt.reset();
  upsert_1m_stmt.reset();
  upsert_15m_stmt.reset();
  upsert_series_stmt.reset();
  db.reset();
}

bool TelemetryStore::Impl::open(std::string* error) {
  adapters::MutexLock db_lock(db_mu);  // no writer yet; for the analysis
  if (open_file(error)) return true;
  // A full disk shows up at any step (creating the WAL, migrating, configuring): say so.
  if (db && (sqlite3_extended_errcode(db.get()) & 0xff) == SQLITE_FULL &&
      error->find("no space") == std::string::npos) {
    *error = detail::no_space_message(options.path, *error);
  }
  return false;
}

bool TelemetryStore::Impl::open_file(std::string* error) {
  std::error_code ec;
  if (options.path.has_parent_path()) {
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) {
      *error = fmt::format("cannot create directory {} for telemetry store: {}",
                           options.path.parent_path().string(), ec.message());
      return false;
    }
  }
  if (!detail::create_private_file(options.path, error)) return false;
  db = detail::open_connection(options.path, /*read_only=*/false, error);
  if (!db) return false;
  if (options.test_max_page_count > 0) {
    const std::string limit = fmt::format("PRAGMA max_page_count = {}", options.test_max_page_count);
    detail::exec(db.get(), limit.c_str(), nullptr);
  }
  if (!detail::check_database(db.get(), options.path, kQuickCheckAboveBytes, error)) return false;

  std::string detail;
  const auto pages = detail::query_int(db.get(), "PRAGMA page_count", &detail);
  if (!pages) {
    *error = fmt::format("cannot read telemetry store {}: {}", options.path.string(), detail);
    return false;
  }
  if (*pages == 0) {
    // auto_vacuum can only be chosen before the first table exists. INCREMENTAL lets retention
    // give pages back to the file system without a full VACUUM (which would rewrite the file).
    const std::string init =
        fmt::format("PRAGMA auto_vacuum = INCREMENTAL; PRAGMA application_id = {};",
                    detail::kApplicationId);
    if (!detail::exec(db.get(), init.c_str(), &detail)) {
      *error = fmt::format("cannot initialise telemetry store {}: {}", options.path.string(),
                           detail);
      return false;
    }
  }
  // WAL: readers never block the writer. synchronous=FULL: a commit is on disk (WAL fsynced)
  // before sqlite3_step(COMMIT) returns, which is what the commit callback promises.
  if (!detail::exec(db.get(),
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                    "PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -16384;"
                    "PRAGMA temp_store = MEMORY;",
                    &detail)) {
    *error = fmt::format("cannot configure telemetry store {}: {}", options.path.string(), detail);
    return false;
  }
  if (!detail::migrate(db.get(), options.path, error)) return false;

  begin_stmt = detail::prepare(db.get(), "BEGIN IMMEDIATE", &detail);
  commit_stmt = detail::prepare(db.get(), "COMMIT", &detail);
  insert_sample_stmt = detail::prepare(db.get(), kInsertSampleSql, &detail);
  upsert_1m_stmt = detail::prepare(db.get(), upsert_rollup_sql("rollup_1m"), &detail);
  upsert_15m_stmt = detail::prepare(db.get(), upsert_rollup_sql("rollup_15m"), &detail);
  upsert_series_stmt = detail::prepare(
      db.get(),
      "INSERT INTO series(device, point, unit) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(device, point) DO UPDATE SET unit = excluded.unit RETURNING id",
      &detail);
  if (!begin_stmt || !commit_stmt || !insert_sample_stmt || !upsert_1m_stmt || !upsert_15m_stmt ||
      !upsert_series_stmt) {
    *error = fmt::format("telemetry store {}: {}", options.path.string(), detail);
    return false;
  }

  {
    Statement stmt =
        detail::prepare(db.get(), "SELECT id, device, point, unit FROM series", &detail);
    if (!stmt) {
      *error = fmt::format("telemetry store {}: {}", options.path.string(), detail);
      return false;
    }
    auto text = [&](int col) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), col));
      return std::string(p != nullptr ? p : "");
    };
    std::map<std::pair<std::string, std::string>, SeriesInfo> loaded;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      SeriesInfo info{sqlite3_column_int64(stmt.get(), 0), text(1), text(2), text(3)};
      loaded.emplace(std::pair{info.device, info.point}, std::move(info));
    }
    if (rc != SQLITE_DONE) {
      *error = fmt::format("cannot read series of telemetry store {}: {}", options.path.string(),
                           detail::error_message(db.get()));
      return false;
    }
    adapters::MutexLock lock(series_mu);
    series_by_key = std::move(loaded);
  }

  // Retention and the disk budget are the writer's first job (writer_loop()), not done here.
  refresh_file_bytes();
  return true;
}

void TelemetryStore::Impl::set_status(const Status& s) {
  adapters::MutexLock lock(status_mu);
  status = s;
}

void TelemetryStore::Impl::refresh_file_bytes() {
  const auto bytes = detail::file_bytes_on_disk(options.path);
  file_bytes.store(bytes, std::memory_order_relaxed);
}

// ------------------------------------------------------------------------------------------
// Writer

void TelemetryStore::Impl::start_writer() {
  {
    adapters::MutexLock lock(queue_mu);
    // The start-up retention counts as the first append, taken by the writer at once: flush()
    // and series() wait for it like for any batch.
    taken_seq = ++appended_seq;
  }
  writer = std::thread([this] { writer_loop(); });
}

std::uint64_t TelemetryStore::Impl::append_urgent() {
  if (appended_seq == taken_seq) first_pending_time = SteadyClock::now();
  flush_requested = true;
  return ++appended_seq;
}

void TelemetryStore::Impl::wait_done(adapters::MutexLock& lock, std::uint64_t target) {
  while (done_seq < target) flushed_cv.wait(lock);
}

void TelemetryStore::Impl::writer_loop() {
  // First job: retention and the disk budget, so that a daemon that was off for a week drops
  // what expired before it writes anything new. Here rather than in open(), so that every write
  // of the file happens on this thread and open() returns quickly.
  std::uint64_t startup_seq = 0;
  {
    adapters::MutexLock lock(queue_mu);
    startup_seq = taken_seq;
  }
  {
    adapters::MutexLock db_lock(db_mu);
    retain(adapters::unix_ms());
  }
  auto next_retention = SteadyClock::now() + kRetentionInterval;
  adapters::MutexLock lock(queue_mu);
  done_seq = startup_seq;
  flushed_cv.notify_all();
  std::vector<WriteJob> delayed_due;
  for (;;) {
    const auto now = SteadyClock::now();
    const bool has_work = appended_seq != taken_seq;
    const bool due = has_work && (stopping || flush_requested ||
                                  pending.size() >= options.max_batch_samples ||
                                  now >= first_pending_time + options.commit_interval);
    // Delayed jobs whose time has come, all of them once stopping. Taken with a due batch too, so
    // that a steady stream of full batches cannot hold them back.
    while (!delayed_jobs.empty() && (stopping || delayed_jobs.begin()->first <= now)) {
      delayed_due.push_back(std::move(delayed_jobs.begin()->second));
      delayed_jobs.erase(delayed_jobs.begin());
    }
    if (due || !delayed_due.empty()) {
      std::uint64_t seq = 0;
      if (due) {
        batch.swap(pending);
        batch_named.swap(pending_named);
        batch_series.swap(pending_series);
        batch_retention.swap(pending_retention);
        batch_jobs.swap(pending_jobs);
        batch_callbacks.swap(pending_callbacks);
        seq = appended_seq;
        taken_seq = seq;
        flush_requested = false;
        queue_depth.store(0, std::memory_order_relaxed);
      }
      lock.unlock();
      {
        adapters::MutexLock db_lock(db_mu);
        if (due) run_batch();
        for (auto& job : delayed_due) job(db.get());
      }
      delayed_due.clear();
      lock.lock();
      if (due) {
        done_seq = seq;
        flushed_cv.notify_all();
      }
      continue;
    }
    if (stopping) break;  // nothing left to write
    if (now >= next_retention) {
      lock.unlock();
      {
        adapters::MutexLock db_lock(db_mu);
        retain(adapters::unix_ms());
      }
      lock.lock();
      next_retention = SteadyClock::now() + kRetentionInterval;
      continue;
    }
    auto wake = next_retention;
    if (has_work) wake = std::min(wake, first_pending_time + options.commit_interval);
    if (!delayed_jobs.empty()) wake = std::min(wake, delayed_jobs.begin()->first);
    // The loop re-checks every condition after each wake-up (spurious ones included).
    writer_cv.wait_until(lock, wake);
  }
}

void TelemetryStore::Impl::run_batch() {
  if (!batch.empty() || !batch_named.empty() || !batch_series.empty() ||
      !batch_callbacks.empty()) {
    commit_batch();
  }
  for (const std::int64_t now_ms : batch_retention) retain(now_ms);
  batch_retention.clear();
  // Jobs run on this thread, the only user of the write connection once the store is open, with
  // db_mu held like every use of the connection.
  for (auto& job : batch_jobs) job(db.get());
  batch_jobs.clear();
}

SeriesId TelemetryStore::Impl::register_series_locked(const std::string& device,
                                                      const std::string& point,
                                                      const std::string& unit) {
  sqlite3_stmt* stmt = upsert_series_stmt.get();
  sqlite3_bind_text(stmt, 1, device.data(), static_cast<int>(device.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, point.data(), static_cast<int>(point.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 3, unit.data(), static_cast<int>(unit.size()), SQLITE_TRANSIENT);
  SeriesId id = 0;
  if (sqlite3_step(stmt) == SQLITE_ROW) id = sqlite3_column_int64(stmt, 0);
  // Step to the end so the statement completes.
  if (sqlite3_step(stmt) != SQLITE_DONE) id = 0;
  sqlite3_reset(stmt);
  if (id != 0) batch_registered[SeriesKey{device, point, unit}] = SeriesInfo{id, device, point, unit};
  return id;
}

// The id of a series for this batch: known with this unit, registered earlier in this batch, or
// registered now.
SeriesId TelemetryStore::Impl::resolve_locked(const std::string& device, const std::string& point,
                                              const std::string& unit) {
  if (const auto it = batch_registered.find(SeriesKey{device, point, {}});
      it != batch_registered.end() && it->second.unit == unit) {
    return it->second.id;
  }
  {
    adapters::MutexLock lock(series_mu);
    const auto it = series_by_key.find(std::pair{device, point});
    if (it != series_by_key.end() && it->second.unit == unit) return it->second.id;
  }
  return register_series_locked(device, point, unit);
}

Status TelemetryStore::Impl::write_batch_locked() {
  sqlite3* const conn = db.get();
  auto fail = [&](const char* what) { return detail::status_of(conn, what); };
  batch_registered.clear();
  if (sqlite3_step(begin_stmt.get()) != SQLITE_DONE) {
    sqlite3_reset(begin_stmt.get());
    return fail("begin failed");
  }
  sqlite3_reset(begin_stmt.get());

  for (const SeriesKey& key : batch_series) {
    if (resolve_locked(key.device, key.point, key.unit) == 0) return fail("series registration failed");
  }
  for (const NamedSample& n : batch_named) {
    const SeriesId id = resolve_locked(n.device, n.point, n.unit);
    if (id == 0) return fail("series registration failed");
    batch.push_back({id, n.timestamp_ms, n.value});
  }

  minute_rollup.clear();
  quarter_rollup.clear();
  sqlite3_stmt* const insert = insert_sample_stmt.get();
  for (const Sample& s : batch) {
    // NaN would be stored as NULL and abort the batch on NOT NULL; infinities would poison the
    // rollup sums. Devices report such values as "missing", not as numbers, so skip them.
    if (!std::isfinite(s.value)) {
      ++nonfinite_skipped;
      continue;
    }
    sqlite3_bind_int64(insert, 1, s.series);
    sqlite3_bind_int64(insert, 2, s.timestamp_ms);
    sqlite3_bind_double(insert, 3, s.value);
    const int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    if (rc != SQLITE_DONE) return fail("insert failed");
    // 0 changes: a duplicate (series, ts) that was ignored; it must not count in the rollups.
    if (sqlite3_changes(conn) == 1) minute_rollup.add_sample(s.series, s.timestamp_ms, s.value);
  }

  auto upsert = [&](sqlite3_stmt* stmt, const detail::BucketAggregate& b) {
    sqlite3_bind_int64(stmt, 1, b.series);
    sqlite3_bind_int64(stmt, 2, b.bucket_ms);
    sqlite3_bind_double(stmt, 3, b.min);
    sqlite3_bind_double(stmt, 4, b.max);
    sqlite3_bind_double(stmt, 5, b.sum);
    sqlite3_bind_int64(stmt, 6, b.count);
    sqlite3_bind_int64(stmt, 7, b.last_ts_ms);
    sqlite3_bind_double(stmt, 8, b.last_value);
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE;
  };
  for (const auto& b : minute_rollup.buckets()) {
    quarter_rollup.add_aggregate(b);
    if (!upsert(upsert_1m_stmt.get(), b)) return fail("rollup_1m upsert failed");
  }
  for (const auto& b : quarter_rollup.buckets()) {
    if (!upsert(upsert_15m_stmt.get(), b)) return fail("rollup_15m upsert failed");
  }

  const int rc = sqlite3_step(commit_stmt.get());
  sqlite3_reset(commit_stmt.get());
  if (rc != SQLITE_DONE) return fail("commit failed");
  return Status::ok();
}

void TelemetryStore::Impl::commit_batch() {
  const auto started = SteadyClock::now();
  const std::size_t asked = batch.size() + batch_named.size();  // named ones join `batch` below
  const Status result = write_batch_locked();
  if (!result.is_ok() && sqlite3_get_autocommit(db.get()) == 0) {
    // Disk full or I/O error: roll back so the next batch starts clean. The samples of this
    // batch are lost; their callbacks hear ok=false.
    detail::exec(db.get(), "ROLLBACK", nullptr);
  }
  const bool ok = result.is_ok();
  if (ok && !batch_registered.empty()) {
    adapters::MutexLock lock(series_mu);
    for (auto& [key, info] : batch_registered) {
      series_by_key[std::pair{info.device, info.point}] = std::move(info);
    }
  }
  batch_registered.clear();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  commit_seconds_total.fetch_add(seconds, std::memory_order_relaxed);
  const auto n = static_cast<std::uint64_t>(asked);
  if (ok) {
    samples_committed.fetch_add(n, std::memory_order_relaxed);
    batches_committed.fetch_add(1, std::memory_order_relaxed);
    last_commit_ms.store(adapters::unix_ms(), std::memory_order_relaxed);
    set_status(Status::ok());
  } else {
    spdlog::error("telemetry store {}: batch of {} samples not stored: {}",
                  options.path.string(), n, result.to_string());
    samples_failed.fetch_add(n, std::memory_order_relaxed);
    batches_failed.fetch_add(1, std::memory_order_relaxed);
    set_status(result);
  }
  if (nonfinite_skipped > 0) {
    spdlog::warn("telemetry store {}: skipped {} non-finite sample values", options.path.string(),
                 nonfinite_skipped);
    nonfinite_skipped = 0;
  }
  refresh_file_bytes();
  for (auto& cb : batch_callbacks) {
    if (cb) cb(result);
  }
  batch.clear();
  batch_named.clear();
  batch_series.clear();
  batch_callbacks.clear();
}

// ------------------------------------------------------------------------------------------
// Retention and disk budget

// Deletes rows older than cut_ms from one tier, series by series, in transactions of at most
// kDeleteChunkRows rows so the writer waits at most one chunk. Returns rows deleted, -1 on error.
std::int64_t TelemetryStore::Impl::delete_before(const TierTable& tier, std::int64_t cut_ms) {
  std::string error;
  // Series ids come from the table itself (skip-scan over the primary key), so rows of ids that
  // were never registered through series() are covered too.
  // The statements belong to the write connection: they are finalized (at return) while the
  // caller still holds db_mu.
  Statement next_series = detail::prepare(
      db.get(),
      fmt::format("SELECT series_id FROM {} WHERE series_id > ?1 ORDER BY series_id LIMIT 1",
                  tier.table),
      &error);
  // Deletes the oldest rows below cut: at most ?3 of them (those older than the ?3-th oldest).
  Statement delete_chunk = detail::prepare(
      db.get(),
      fmt::format("DELETE FROM {0} WHERE series_id = ?1 AND {1} < coalesce(("
                  "SELECT {1} FROM {0} WHERE series_id = ?1 AND {1} < ?2 ORDER BY {1} "
                  "LIMIT 1 OFFSET ?3), ?2)",
                  tier.table, tier.time_column),
      &error);
  if (!next_series || !delete_chunk) {
    spdlog::error("telemetry store {}: retention on {}: {}", options.path.string(), tier.table,
                  error);
    return -1;
  }

  std::int64_t total_deleted = 0;
  std::int64_t series = std::numeric_limits<std::int64_t>::min();
  bool more_series = true;
  // Stopped between transactions when the store is closing (stop_maintenance()): what is left
  // is deleted at the next pass.
  while (more_series && !maintenance_stopped.load(std::memory_order_relaxed)) {
    if (!detail::exec(db.get(), "BEGIN IMMEDIATE", &error)) break;
    std::int64_t deleted_in_txn = 0;
    bool failed = false;
    while (deleted_in_txn < kDeleteChunkRows) {
      sqlite3_bind_int64(next_series.get(), 1, series);
      const int rc = sqlite3_step(next_series.get());
      if (rc != SQLITE_ROW) {
        sqlite3_reset(next_series.get());
        if (rc != SQLITE_DONE) failed = true;
        more_series = false;
        break;
      }
      const std::int64_t id = sqlite3_column_int64(next_series.get(), 0);
      sqlite3_reset(next_series.get());
      sqlite3_bind_int64(delete_chunk.get(), 1, id);
      sqlite3_bind_int64(delete_chunk.get(), 2, cut_ms);
      sqlite3_bind_int64(delete_chunk.get(), 3, kDeleteChunkRows - deleted_in_txn);
      const int drc = sqlite3_step(delete_chunk.get());
      sqlite3_reset(delete_chunk.get());
      if (drc != SQLITE_DONE) {
        failed = true;
        break;
      }
      const std::int64_t deleted = sqlite3_changes(db.get());
      deleted_in_txn += deleted;
      // This series is done unless the chunk limit cut it short; then revisit it next round.
      if (deleted_in_txn < kDeleteChunkRows) series = id;
    }
    if (failed) {
      error = detail::error_message(db.get());
      detail::exec(db.get(), "ROLLBACK", nullptr);
      spdlog::error("telemetry store {}: retention on {} failed: {}", options.path.string(),
                    tier.table, error);
      return -1;
    }
    if (!detail::exec(db.get(), "COMMIT", &error)) {
      detail::exec(db.get(), "ROLLBACK", nullptr);
      spdlog::error("telemetry store {}: retention commit on {} failed: {}",
                    options.path.string(), tier.table, error);
      return -1;
    }
    total_deleted += deleted_in_txn;
  }
  return total_deleted;
}

// Oldest and newest time in a tier, found per series through the primary key (a plain
// min()/max() over the whole table would scan it). nullopt when the tier is empty.
std::optional<TelemetryStore::Impl::TimeRange> TelemetryStore::Impl::time_range(
    const TierTable& tier) {
  Statement next_series = detail::prepare(
      db.get(),
      fmt::format("SELECT series_id FROM {} WHERE series_id > ?1 ORDER BY series_id LIMIT 1",
                  tier.table),
      nullptr);
  Statement oldest = detail::prepare(
      db.get(), fmt::format("SELECT min({1}) FROM {0} WHERE series_id = ?1", tier.table,
                            tier.time_column),
      nullptr);
  Statement newest = detail::prepare(
      db.get(), fmt::format("SELECT max({1}) FROM {0} WHERE series_id = ?1", tier.table,
                            tier.time_column),
      nullptr);
  if (!next_series || !oldest || !newest) return std::nullopt;
  std::optional<TimeRange> range;
  std::int64_t series = std::numeric_limits<std::int64_t>::min();
  auto one = [](sqlite3_stmt* stmt, std::int64_t id) -> std::optional<std::int64_t> {
    sqlite3_bind_int64(stmt, 1, id);
    std::optional<std::int64_t> v;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
      v = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_reset(stmt);
    return v;
  };
  while (const auto id = one(next_series.get(), series)) {
    series = *id;
    const auto lo = one(oldest.get(), series);
    const auto hi = one(newest.get(), series);
    if (!lo || !hi) continue;
    if (!range) {
      range = TimeRange{*lo, *hi};
    } else {
      range->oldest_ms = std::min(range->oldest_ms, *lo);
      range->newest_ms = std::max(range->newest_ms, *hi);
    }
  }
  return range;
}

// Drops the oldest raw samples, then the oldest 1-minute rollups, until the live pages fit the
// budget. The 15-minute tier is never dropped: it is small and it is the long-term record.
bool TelemetryStore::Impl::enforce_budget() {
  if (options.disk_budget_bytes == 0) return false;
  bool deleted_any = false;
  // Each round deletes roughly the share of the oldest time span that is over budget; a few
  // rounds converge even when the tier is only part of the file.
  for (int round = 0; round < 64 && !maintenance_stopped.load(std::memory_order_relaxed); ++round) {
    const std::optional<std::uint64_t> used = detail::used_bytes(db.get());
    if (!used || *used <= options.disk_budget_bytes) return deleted_any;

    const TierTable* tier = nullptr;
    std::optional<TimeRange> range;
    for (const TierTable* candidate : {&kRawTable, &kMinuteTable}) {
      range = time_range(*candidate);
      if (range) {
        tier = candidate;
        break;
      }
    }
    if (tier == nullptr) {
      spdlog::warn(
          "telemetry store {}: {} bytes exceed the disk budget of {} bytes, but only 15-minute "
          "rollups are left; they are kept",
          options.path.string(), *used, options.disk_budget_bytes);
      return deleted_any;
    }
    const double over = static_cast<double>(*used - options.disk_budget_bytes) /
                        static_cast<double>(*used);
    const double span = static_cast<double>(range->newest_ms - range->oldest_ms + 1);
    // A little more than the share over budget: freed pages lag deleted rows slightly.
    const auto advance =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(span * std::min(1.0, over + 0.02))));
    const std::int64_t cut = range->oldest_ms + advance;
    const std::int64_t deleted = delete_before(*tier, cut);
    if (deleted < 0) return deleted_any;
    deleted_any = deleted_any || deleted > 0;
    auto& horizon = tier == &kRawTable ? raw_budget_horizon_ms : minute_budget_horizon_ms;
    std::int64_t prev = horizon.load();
    while (prev < cut && !horizon.compare_exchange_weak(prev, cut)) {
    }
    spdlog::info("telemetry store {}: over disk budget ({} > {} bytes): dropped {} {} rows older "
                 "than {} ms",
                 options.path.string(), *used, options.disk_budget_bytes, deleted, tier->table,
                 cut);
  }
  return deleted_any;
}

// Gives free pages back to the file system. In WAL mode the file shrinks at the next checkpoint,
// so checkpoint right away (TRUNCATE also resets the WAL file to zero bytes).
void TelemetryStore::Impl::vacuum() {
  while (!maintenance_stopped.load(std::memory_order_relaxed)) {
    const auto free_pages = detail::query_int(db.get(), "PRAGMA freelist_count", nullptr);
    if (!free_pages || *free_pages == 0) break;
    const std::string sql = fmt::format("PRAGMA incremental_vacuum({})", kVacuumChunkPages);
    std::string error;
    if (!detail::exec(db.get(), sql.c_str(), &error)) {
      spdlog::warn("telemetry store {}: incremental_vacuum: {}", options.path.string(), error);
      break;
    }
    // auto_vacuum=NONE (a file from elsewhere): nothing is released, stop instead of spinning.
    const auto after = detail::query_int(db.get(), "PRAGMA freelist_count", nullptr);
    if (!after || *after >= *free_pages) break;
  }
  // Busy (a reader holds an old snapshot) is fine: the next checkpoint finishes the job.
  sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

void TelemetryStore::Impl::retain(std::int64_t now_ms) {
  try {
    enforce_retention(now_ms);
  } catch (const std::exception& e) {
    spdlog::error("telemetry store {}: retention: {}", options.path.string(), e.what());
  }
}

void TelemetryStore::Impl::enforce_retention(std::int64_t now_ms) {
  std::int64_t deleted = 0;
  const std::pair<const TierTable*, std::chrono::milliseconds> tiers[] = {
      {&kRawTable, options.raw_retention},
      {&kMinuteTable, options.rollup_1m_retention},
      {&kQuarterHourTable, options.rollup_15m_retention},
  };
  for (const auto& [tier, retention] : tiers) {
    if (retention.count() <= 0) continue;  // 0 = keep forever
    const std::int64_t n = delete_before(*tier, now_ms - retention.count());
    if (n > 0) deleted += n;
  }
  const bool budget_deleted = enforce_budget();
  if (deleted > 0 || budget_deleted) vacuum();
  refresh_file_bytes();
}

// ------------------------------------------------------------------------------------------
// Queries

Connection TelemetryStore::Impl::acquire_reader(std::string* error) const {
  {
    adapters::MutexLock lock(readers_mu);
    if (!idle_readers.empty()) {
      Connection c = std::move(idle_readers.back());
      idle_readers.pop_back();
      return c;
    }
  }
  return detail::open_connection(options.path, /*read_only=*/true, error);
}

void TelemetryStore::Impl::release_reader(Connection c) const {
  adapters::MutexLock lock(readers_mu);
  if (idle_readers.size() < kMaxIdleReaders) idle_readers.push_back(std::move(c));
}

Result<HistoryResult> TelemetryStore::Impl::history(const HistoryQuery& q) const {
  HistoryResult result;
  const std::int64_t now_ms = adapters::unix_ms();
  auto horizon = [&](std::chrono::milliseconds retention, std::int64_t budget_horizon) {
    const std::int64_t by_retention = retention.count() > 0
                                          ? now_ms - retention.count()
                                          : std::numeric_limits<std::int64_t>::min();
    return std::max(by_retention, budget_horizon);
  };
  const bool raw_ok = q.step_ms < kMinuteMs &&
                      q.from_ms >= horizon(options.raw_retention, raw_budget_horizon_ms.load());
  const bool minute_ok =
      q.step_ms < kQuarterHourMs &&
      q.from_ms >= horizon(options.rollup_1m_retention, minute_budget_horizon_ms.load());

  TierTable table = kRawTable;
  std::int64_t step = 0;  // 0: raw rows, no aggregation
  if (raw_ok) {
    result.tier = Tier::kRaw;
    step = q.step_ms > 1 ? q.step_ms : 0;
    result.step_ms = step;
  } else if (minute_ok) {
    result.tier = Tier::kMinute;
    table = kMinuteTable;
    step = round_step(q.step_ms, kMinuteMs);
    result.step_ms = step;
  } else {
    result.tier = Tier::kQuarterHour;
    table = kQuarterHourTable;
    step = round_step(q.step_ms, kQuarterHourMs);
    result.step_ms = step;
  }
  if (q.to_ms <= q.from_ms) return result;

  // Every tier seen through the same columns: t, mn, mx, sm, cnt, lts (time of last), lv.
  const std::string source =
      result.tier == Tier::kRaw
          ? std::string("SELECT ts_ms AS t, value AS mn, value AS mx, value AS sm, 1 AS cnt, "
                        "ts_ms AS lts, value AS lv FROM samples "
                        "WHERE series_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3")
          : fmt::format("SELECT bucket_ms AS t, min_value AS mn, max_value AS mx, sum_value AS sm, "
                        "sample_count AS cnt, last_ts_ms AS lts, last_value AS lv FROM {} "
                        "WHERE series_id = ?1 AND bucket_ms >= ?2 AND bucket_ms < ?3",
                        table.table);
  const std::int64_t native_ms = result.tier == Tier::kRaw      ? 0
                                 : result.tier == Tier::kMinute ? kMinuteMs
                                                                : kQuarterHourMs;
  std::string sql;
  if (step == 0 || step == native_ms) {
    sql = source + " ORDER BY t";
  } else {
    // Step buckets are aligned to the Unix epoch (floor, also for negative times). "last" is the
    // value of the row with the latest time in the step bucket; FIRST_VALUE gives it to every row
    // of the bucket, so MAX(lv) just picks that one value.
    const std::string bucket = "(t - (((t % ?4) + ?4) % ?4))";
    sql = fmt::format(
        "SELECT b, min(mn), max(mx), sum(sm), sum(cnt), max(lv) FROM ("
        "SELECT {0} AS b, mn, mx, sm, cnt, "
        "first_value(lv) OVER (PARTITION BY {0} ORDER BY lts DESC) AS lv FROM ({1})) "
        "GROUP BY b ORDER BY b",
        bucket, source);
  }
  // A bucket is returned when its start lies in [from floored to the step, to).
  const std::int64_t from = step > 0 ? detail::bucket_start(q.from_ms, step) : q.from_ms;

  std::string error;
  Connection reader = acquire_reader(&error);
  if (!reader) return Status::error(StatusCode::kIoError, error);
  Statement stmt = detail::prepare(reader.get(), sql, &error);
  if (!stmt) return detail::status_of(reader.get(), "history query");
  sqlite3_bind_int64(stmt.get(), 1, q.series);
  sqlite3_bind_int64(stmt.get(), 2, from);
  sqlite3_bind_int64(stmt.get(), 3, q.to_ms);
  if (step > 0 && step != native_ms) sqlite3_bind_int64(stmt.get(), 4, step);
  const bool aggregated = step > 0 && step != native_ms;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    // Rows stream from the index in time order: stopping here bounds memory and time.
    if (q.max_rows > 0 && result.rows.size() == q.max_rows) {
      result.truncated = true;
      rc = SQLITE_DONE;
      break;
    }
    sqlite3_stmt* s = stmt.get();
    HistoryRow row;
    row.timestamp_ms = sqlite3_column_int64(s, 0);
    row.min = sqlite3_column_double(s, 1);
    row.max = sqlite3_column_double(s, 2);
    const double sum = sqlite3_column_double(s, 3);
    row.count = sqlite3_column_int64(s, 4);
    row.last = sqlite3_column_double(s, aggregated ? 5 : 6);
    // Weighted by count: the mean of all samples, not the mean of bucket means.
    row.mean = row.count > 0 ? sum / static_cast<double>(row.count) : 0.0;
    result.rows.push_back(row);
  }
  if (rc != SQLITE_DONE) {
    Status failed = detail::status_of(reader.get(), "history query");
    spdlog::error("telemetry store {}: {}", options.path.string(), failed.to_string());
    return failed;  // the connection is dropped, not pooled: it may be what is broken
  }
  stmt.reset();
  release_reader(std::move(reader));
  return result;
}

// ------------------------------------------------------------------------------------------
// Public API

TelemetryStore::TelemetryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TelemetryStore::~TelemetryStore() = default;

void TelemetryStore::stop_maintenance() { impl_->maintenance_stopped = true; }

std::unique_ptr<TelemetryStore> TelemetryStore::open(const StoreOptions& options,
                                                     OpenError* error) {
  std::string message;
  try {
    auto impl = std::make_unique<Impl>(options);
    if (!impl->open(&message)) {
      spdlog::error("{}", message);
      if (error != nullptr) error->message = message;
      return nullptr;
    }
    impl->start_writer();
    spdlog::info("telemetry store {} open", options.path.string());
    return std::unique_ptr<TelemetryStore>(new TelemetryStore(std::move(impl)));
  } catch (const std::exception& e) {  // bad_alloc, thread creation failure
    message = fmt::format("cannot open telemetry store {}: {}", options.path.string(), e.what());
    spdlog::error("{}", message);
    if (error != nullptr) error->message = message;
    return nullptr;
  }
}

SeriesId TelemetryStore::series(std::string_view device, std::string_view point,
                                std::string_view unit) {
  if (const SeriesId id = cached_series(device, point, unit); id != 0) return id;
  // Unknown (or its unit changed): the writer registers it in its next batch, now.
  Impl& s = *impl_;
  {
    adapters::MutexLock lock(s.queue_mu);
    s.pending_series.push_back(SeriesKey{std::string(device), std::string(point), std::string(unit)});
    const std::uint64_t target = s.append_urgent();
    s.writer_cv.notify_one();
    s.wait_done(lock, target);
  }
  const SeriesId id = cached_series(device, point, unit);
  if (id == 0) {
    spdlog::error("telemetry store {}: cannot register series {}/{}: {}", s.options.path.string(),
                  device, point, stats().status);
  }
  return id;
}

SeriesId TelemetryStore::cached_series(std::string_view device, std::string_view point,
                                       std::string_view unit) const {
  adapters::MutexLock lock(impl_->series_mu);
  auto it = impl_->series_by_key.find(std::pair<std::string, std::string>{device, point});
  return it != impl_->series_by_key.end() && it->second.unit == unit ? it->second.id : 0;
}

std::vector<SeriesInfo> TelemetryStore::list_series() const {
  std::vector<SeriesInfo> out;
  {
    adapters::MutexLock lock(impl_->series_mu);
    out.reserve(impl_->series_by_key.size());
    for (const auto& [key, info] : impl_->series_by_key) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::optional<SeriesInfo> TelemetryStore::find_series(std::string_view device,
                                                      std::string_view point) const {
  adapters::MutexLock lock(impl_->series_mu);
  auto it = impl_->series_by_key.find(std::pair<std::string, std::string>{device, point});
  if (it == impl_->series_by_key.end()) return std::nullopt;
  return it->second;
}

template <typename Item>
std::vector<Item>& TelemetryStore::Impl::pending_of() {
  if constexpr (std::is_same_v<Item, Sample>) {
    return pending;
  } else {
    static_assert(std::is_same_v<Item, NamedSample>);
    return pending_named;
  }
}

template <typename Item>
bool TelemetryStore::Impl::enqueue(std::span<const Item> samples, CommitCallback cb) {
  bool wake_writer = false;
  std::size_t depth = 0;
  {
    adapters::MutexLock lock(queue_mu);
    const std::size_t queued = pending.size() + pending_named.size();
    if (queued + samples.size() > options.queue_limit_samples) {
      samples_dropped.fetch_add(samples.size(), std::memory_order_relaxed);
      return false;
    }
    if (appended_seq == taken_seq) {
      // First append since the last batch was taken: the commit interval starts now.
      first_pending_time = SteadyClock::now();
      wake_writer = true;
    }
    std::vector<Item>& queue = pending_of<Item>();
    queue.insert(queue.end(), samples.begin(), samples.end());
    if (cb) pending_callbacks.push_back(std::move(cb));
    ++appended_seq;
    depth = queued + samples.size();
    queue_depth.store(depth, std::memory_order_relaxed);
    if (depth >= options.max_batch_samples && queued < options.max_batch_samples) {
      wake_writer = true;
    }
  }
  samples_enqueued.fetch_add(samples.size(), std::memory_order_relaxed);
  if (wake_writer) writer_cv.notify_one();
  return true;
}

bool TelemetryStore::append(std::span<const Sample> samples, CommitCallback cb) {
  return impl_->enqueue(samples, std::move(cb));
}

bool TelemetryStore::append(std::span<const NamedSample> samples, CommitCallback cb) {
  return impl_->enqueue(samples, std::move(cb));
}

void TelemetryStore::run_on_writer(WriteJob job) {
  Impl& s = *impl_;
  {
    adapters::MutexLock lock(s.queue_mu);
    s.pending_jobs.push_back(std::move(job));
    s.append_urgent();
  }
  s.writer_cv.notify_one();
}

void TelemetryStore::run_on_writer_after(std::chrono::milliseconds delay, WriteJob job) {
  Impl& s = *impl_;
  {
    adapters::MutexLock lock(s.queue_mu);
    s.delayed_jobs.emplace(SteadyClock::now() + delay, std::move(job));
  }
  s.writer_cv.notify_one();  // it may have to wake earlier than it planned
}

const std::filesystem::path& TelemetryStore::path() const { return impl_->options.path; }

void TelemetryStore::flush() {
  Impl& s = *impl_;
  adapters::MutexLock lock(s.queue_mu);
  const std::uint64_t target = s.appended_seq;
  if (s.done_seq >= target) return;
  s.flush_requested = true;
  s.writer_cv.notify_one();
  s.wait_done(lock, target);
}

Result<HistoryResult> TelemetryStore::history(const HistoryQuery& query) const {
  try {
    return impl_->history(query);
  } catch (const std::exception& e) {  // bad_alloc
    return Status::error(StatusCode::kInternal, fmt::format("history query: {}", e.what()));
  }
}

void TelemetryStore::enforce_retention(std::int64_t now_ms) {
  // On the writer thread, like every write (after the samples queued before it); this call
  // waits for it.
  Impl& s = *impl_;
  adapters::MutexLock lock(s.queue_mu);
  s.pending_retention.push_back(now_ms);
  const std::uint64_t target = s.append_urgent();
  s.writer_cv.notify_one();
  s.wait_done(lock, target);
}

StoreStats TelemetryStore::stats() const {
  const Impl& s = *impl_;
  StoreStats out;
  out.samples_enqueued = s.samples_enqueued.load(std::memory_order_relaxed);
  out.samples_committed = s.samples_committed.load(std::memory_order_relaxed);
  out.samples_dropped = s.samples_dropped.load(std::memory_order_relaxed);
  out.batches_committed = s.batches_committed.load(std::memory_order_relaxed);
  out.samples_failed = s.samples_failed.load(std::memory_order_relaxed);
  out.batches_failed = s.batches_failed.load(std::memory_order_relaxed);
  out.commit_seconds_total = s.commit_seconds_total.load(std::memory_order_relaxed);
  out.queue_depth = s.queue_depth.load(std::memory_order_relaxed);
  out.file_bytes = s.file_bytes.load(std::memory_order_relaxed);
  out.last_commit_ms = s.last_commit_ms.load(std::memory_order_relaxed);
  {
    adapters::MutexLock lock(s.status_mu);
    out.status = s.status.to_string();
    out.status_code = s.status.code();
  }
  {
    adapters::MutexLock lock(s.series_mu);
    out.series = s.series_by_key.size();
  }
  return out;
}

}  // namespace gridlet::store
