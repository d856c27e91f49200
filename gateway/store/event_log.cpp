#include "gateway/store/event_log.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <iterator>
#include <vector>

#include "adapters/thread_safety.hpp"
#include "gateway/store/database.hpp"

namespace gridlet::store {
namespace {

constexpr std::size_t kMaxQueryRows = 1000;
// A batch that cannot be written is tried this many times in all, the pause before the n-th retry
// being kFirstRetryPause << (n - 1): 100, 200, 400 and 800 ms, then its records are failed.
constexpr int kMaxWriteAttempts = 5;
constexpr std::chrono::milliseconds kFirstRetryPause{100};

struct Pending {
  std::optional<AuditRecord> audit;
  std::optional<EventRecord> event;
  EventLog::Committed done;
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void bind_optional(sqlite3_stmt* s, int i, const std::optional<double>& v) {
  if (v) {
    sqlite3_bind_double(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

std::optional<double> column_optional(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(s, i);
}

}  // namespace

struct EventLog::Impl : std::enable_shared_from_this<Impl> {
  TelemetryStore* store = nullptr;
  std::filesystem::path path;
  std::size_t max_rows = 0;

  adapters::Mutex mu;
  adapters::CondVar cv;
  std::deque<Pending> queue GUARDED_BY(mu);
  // A drain() is queued on the writer, waits there to retry, or runs: at most one at a time.
  bool job_scheduled GUARDED_BY(mu) = false;
  // The first records of `queue` are a batch that failed: the next drain() writes them alone.
  std::size_t retry_records GUARDED_BY(mu) = 0;
  std::uint64_t appended GUARDED_BY(mu) = 0;   // records
  std::uint64_t committed GUARDED_BY(mu) = 0;  // records, failed ones too
  std::vector<std::pair<std::uint64_t, std::uint64_t>> failed GUARDED_BY(mu);  // [first, end)
  // Writer thread only.
  std::uint64_t since_trim = 0;
  int attempts = 0;  // of the batch at the front of `queue` that failed so far

  mutable adapters::Mutex read_mu;
  mutable detail::Connection reader GUARDED_BY(read_mu);

  // Runs on the store's writer thread: writes what is queued in one transaction.
  void drain(sqlite3* db) EXCLUDES(mu);
  bool write(sqlite3* db, std::deque<Pending>& batch);
  void trim(sqlite3* db);
  sqlite3* read_connection() const REQUIRES(read_mu);
};

std::unique_ptr<EventLog> EventLog::open(TelemetryStore& store, std::size_t max_rows,
                                         OpenError* error) {
  auto impl = std::make_shared<Impl>();  // shared_from_this() needs it shared
  impl->store = &store;
  impl->path = store.path();
  impl->max_rows = max_rows;
  // The store created and migrated the file; check that it can be read.
  std::string detail;
  adapters::MutexLock read_lock(impl->read_mu);
  if (impl->read_connection() == nullptr) {
    if (error) error->message = fmt::format("event log in {}: cannot open it to read", impl->path.string());
    return nullptr;
  }
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl)));
}

EventLog::EventLog(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventLog::~EventLog() { flush(); }

void EventLog::append(std::optional<AuditRecord> audit, std::optional<EventRecord> event, Committed done) {
  bool schedule = false;
  {
    adapters::MutexLock lock(impl_->mu);
    impl_->queue.push_back({std::move(audit), std::move(event), std::move(done)});
    ++impl_->appended;
    schedule = !impl_->job_scheduled;
    impl_->job_scheduled = true;
  }
  // The job holds the log's state, so it may safely run after the EventLog object is gone.
  if (schedule) impl_->store->run_on_writer([impl = impl_](sqlite3* db) { impl->drain(db); });
}

std::uint64_t EventLog::appended() const {
  adapters::MutexLock lock(impl_->mu);
  return impl_->appended;
}

bool EventLog::flush(std::uint64_t since) {
  adapters::MutexLock lock(impl_->mu);
  const std::uint64_t target = impl_->appended;
  while (impl_->committed < target) impl_->cv.wait(lock);
  return std::none_of(impl_->failed.begin(), impl_->failed.end(),
                      [&](const auto& r) { return r.first < target && r.second > since; });
}

// A batch that fails is not retried here: the writer also commits the telemetry, and a pause here
// would hold every sample back. It goes back to the front of the queue (records appended since
// stay behind it) and a later writer pass writes it again, alone, after a growing pause. After
// kMaxWriteAttempts its records are reported failed, and the queue moves on.
void EventLog::Impl::drain(sqlite3* db) {
  std::deque<Pending> batch;
  {
    adapters::MutexLock lock(mu);
    const std::size_t n = retry_records > 0 ? retry_records : queue.size();
    const auto end = queue.begin() + static_cast<std::ptrdiff_t>(n);
    batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(end));
    queue.erase(queue.begin(), end);
  }
  const bool ok = batch.empty() || write(db, batch);
  const bool retry = !ok && ++attempts < kMaxWriteAttempts;
  if (!retry) {
    attempts = 0;
    for (auto& p : batch) {
      if (p.done) p.done(ok);
    }
    since_trim += batch.size();
    if (since_trim >= 1000) {
      since_trim = 0;
      trim(db);
    }
  }
  bool schedule = false;
  {
    adapters::MutexLock lock(mu);
    if (retry) {
      retry_records = batch.size();
      queue.insert(queue.begin(), std::make_move_iterator(batch.begin()),
                   std::make_move_iterator(batch.end()));
    } else {
      retry_records = 0;
      if (!ok) {
        failed.emplace_back(committed, committed + batch.size());
        if (failed.size() > 64) failed.erase(failed.begin());
      }
      committed += batch.size();
      cv.notify_all();
    }
    // Records appended while this ran did not schedule a drain (one was running): do it here.
    job_scheduled = !queue.empty();
    schedule = job_scheduled;
  }
  if (!schedule) return;
  auto job = [self = shared_from_this()](sqlite3* conn) { self->drain(conn); };
  if (retry) {
    store->run_on_writer_after(kFirstRetryPause * (1 << (attempts - 1)), std::move(job));
  } else {
    store->run_on_writer(std::move(job));
  }
}

bool EventLog::Impl::write(sqlite3* db, std::deque<Pending>& batch) {
  std::string err;
  detail::Statement insert_event = detail::prepare(
      db, "INSERT INTO events(ts_ms, severity, kind, device, point, message) VALUES(?,?,?,?,?,?)", &err);
  detail::Statement insert_audit = detail::prepare(
      db,
      "INSERT INTO audit(ts_ms, device, point, action, value, readback, outcome, actor, reason, detail) "
      "VALUES(?,?,?,?,?,?,?,?,?,?)",
      &err);
  if (!insert_event || !insert_audit) {
    spdlog::error("event log: {}", err);
    return false;
  }
  if (!detail::exec(db, "BEGIN IMMEDIATE", &err)) {
    spdlog::error("event log: cannot begin a transaction: {}", err);
    return false;
  }
  bool ok = true;
  for (const Pending& p : batch) {
    if (p.event) {
      sqlite3_stmt* s = insert_event.get();
      sqlite3_reset(s);
      sqlite3_bind_int64(s, 1, p.event->timestamp_ms);
      bind_text(s, 2, p.event->severity);
      bind_text(s, 3, p.event->kind);
      bind_text(s, 4, p.event->device);
      bind_text(s, 5, p.event->point);
      bind_text(s, 6, p.event->message);
      ok = ok && sqlite3_step(s) == SQLITE_DONE;
    }
    if (p.audit) {
      sqlite3_stmt* s = insert_audit.get();
      sqlite3_reset(s);
      sqlite3_bind_int64(s, 1, p.audit->timestamp_ms);
      bind_text(s, 2, p.audit->device);
      bind_text(s, 3, p.audit->point);
      bind_text(s, 4, p.audit->action);
      bind_optional(s, 5, p.audit->value);
      bind_optional(s, 6, p.audit->readback);
      bind_text(s, 7, p.audit->outcome);
      bind_text(s, 8, p.audit->actor);
      bind_text(s, 9, p.audit->reason);
      bind_text(s, 10, p.audit->detail);
      ok = ok && sqlite3_step(s) == SQLITE_DONE;
    }
  }
  if (!ok) {
    spdlog::error("event log: insert failed: {}", detail::error_message(db));
    detail::exec(db, "ROLLBACK", nullptr);
    return false;
  }
  if (!detail::exec(db, "COMMIT", &err)) {
    spdlog::error("event log: commit failed: {}", err);
    detail::exec(db, "ROLLBACK", nullptr);
    return false;
  }
  return true;
}

void EventLog::Impl::trim(sqlite3* db) {
  if (max_rows == 0) return;
  for (const char* table : {"events", "audit"}) {
    const std::string sql = fmt::format(
        "DELETE FROM {0} WHERE id <= (SELECT max(id) FROM {0}) - {1}", table, max_rows);
    std::string err;
    if (!detail::exec(db, sql.c_str(), &err)) spdlog::warn("event log: trimming {}: {}", table, err);
  }
}

sqlite3* EventLog::Impl::read_connection() const {
  if (!reader) reader = detail::open_connection(path, /*read_only=*/true, nullptr);
  return reader.get();
}

namespace {

// Runs one of the two log queries: `columns` FROM `table`, filtered and paged by `q`, newest
// first; `row` turns each result row into a record.
template <typename Record, typename RowFn>
Result<std::vector<Record>> query_log(sqlite3* db, std::string_view columns, std::string_view table,
                                      const LogQuery& q, RowFn row) {
  if (db == nullptr) {
    return Status::error(StatusCode::kIoError, fmt::format("{} log: cannot open the database", table));
  }
  const std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE (?1 = '' OR device = ?1) AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
      columns, table);
  auto stmt = detail::prepare(db, sql, nullptr);
  if (!stmt) return detail::status_of(db, fmt::format("{} log query", table));
  sqlite3_stmt* s = stmt.get();
  bind_text(s, 1, q.device);
  sqlite3_bind_int64(s, 2, q.before_id);
  sqlite3_bind_int64(s, 3, static_cast<std::int64_t>(std::min(q.limit, kMaxQueryRows)));
  std::vector<Record> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.push_back(row(s));
  if (rc != SQLITE_DONE) return detail::status_of(db, fmt::format("{} log query", table));
  return out;
}

}  // namespace

Result<std::vector<EventRecord>> EventLog::events(const LogQuery& q) const {
  adapters::MutexLock lock(impl_->read_mu);
  return query_log<EventRecord>(
      impl_->read_connection(), "id, ts_ms, severity, kind, device, point, message", "events", q,
      [](sqlite3_stmt* s) {
        return EventRecord{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), column_text(s, 2),
                           column_text(s, 3), column_text(s, 4), column_text(s, 5), column_text(s, 6)};
      });
}

Result<std::vector<AuditRecord>> EventLog::audit(const LogQuery& q) const {
  adapters::MutexLock lock(impl_->read_mu);
  return query_log<AuditRecord>(
      impl_->read_connection(),
      "id, ts_ms, device, point, action, value, readback, outcome, actor, reason, detail", "audit", q,
      [](sqlite3_stmt* s) {
        AuditRecord r;
        r.id = sqlite3_column_int64(s, 0);
        r.timestamp_ms = sqlite3_column_int64(s, 1);
        r.device = column_text(s, 2);
        r.point = column_text(s, 3);
        r.action = column_text(s, 4);
        r.value = column_optional(s, 5);
        r.readback = column_optional(s, 6);
        r.outcome = column_text(s, 7);
        r.actor = column_text(s, 8);
        r.reason = column_text(s, 9);
        r.detail = column_text(s, 10);
        return r;
      });
}

}  // namespace gridlet::store
