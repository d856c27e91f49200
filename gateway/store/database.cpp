// Opening checks and schema migrations of the telemetry database. The schema is documented in
// gateway/store/SCHEMA.md; keep the two in agreement.
#include "gateway/store/database.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <ctime>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "adapters/clock.hpp"

namespace gridlet::store::detail {
namespace {

// Migration N is kMigrations[N - 1]. Never edit a released migration; append a new one.
constexpr const char* kMigrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE series(
  id     INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  point  TEXT NOT NULL,
  unit   TEXT NOT NULL DEFAULT '',
  UNIQUE(device, point));
CREATE TABLE samples(
  series_id INTEGER NOT NULL,
  ts_ms     INTEGER NOT NULL,
  value     REAL NOT NULL,
  PRIMARY KEY(series_id, ts_ms)) WITHOUT ROWID;
CREATE TABLE rollup_1m(
  series_id    INTEGER NOT NULL,
  bucket_ms    INTEGER NOT NULL,
  min_value    REAL NOT NULL,
  max_value    REAL NOT NULL,
  sum_value    REAL NOT NULL,
  sample_count INTEGER NOT NULL,
  last_ts_ms   INTEGER NOT NULL,
  last_value   REAL NOT NULL,
  PRIMARY KEY(series_id, bucket_ms)) WITHOUT ROWID;
CREATE TABLE rollup_15m(
  series_id    INTEGER NOT NULL,
  bucket_ms    INTEGER NOT NULL,
  min_value    REAL NOT NULL,
  max_value    REAL NOT NULL,
  sum_value    REAL NOT NULL,
  sample_count INTEGER NOT NULL,
  last_ts_ms   INTEGER NOT NULL,
  last_value   REAL NOT NULL,
  PRIMARY KEY(series_id, bucket_ms)) WITHOUT ROWID;
)sql",
    // 2: the event log (alarms and notices) and the audit log of every write to a device.
    R"sql(
CREATE TABLE events(
  id       INTEGER PRIMARY KEY,
  ts_ms    INTEGER NOT NULL,
  severity TEXT NOT NULL,
  kind     TEXT NOT NULL,
  device   TEXT NOT NULL DEFAULT '',
  point    TEXT NOT NULL DEFAULT '',
  message  TEXT NOT NULL);
CREATE INDEX events_by_device ON events(device, id);
CREATE TABLE audit(
  id       INTEGER PRIMARY KEY,
  ts_ms    INTEGER NOT NULL,
  device   TEXT NOT NULL,
  point    TEXT NOT NULL,
  action   TEXT NOT NULL,
  value    REAL,
  readback REAL,
  outcome  TEXT NOT NULL,
  actor    TEXT NOT NULL,
  reason   TEXT NOT NULL,
  detail   TEXT NOT NULL);
CREATE INDEX audit_by_device ON audit(device, id);
)sql",
    // 3: the MQTT outbox (QoS 1 messages not yet acknowledged by the broker) and the
    // demand-response events received from aggregators.
    R"sql(
CREATE TABLE outbox(
  seq        INTEGER PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  topic      TEXT NOT NULL,
  payload    BLOB NOT NULL,
  qos        INTEGER NOT NULL,
  retained   INTEGER NOT NULL);
CREATE TABLE outbox_state(
  id       INTEGER PRIMARY KEY CHECK(id = 1),
  next_seq INTEGER NOT NULL);
CREATE TABLE dr_events(
  source        TEXT NOT NULL,
  event_id      TEXT NOT NULL,
  modification  INTEGER NOT NULL,
  received_ms   INTEGER NOT NULL,
  body          TEXT NOT NULL,
  PRIMARY KEY(source, event_id)) WITHOUT ROWID;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return fmt::format("{:04}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// The way out we offer for every file we refuse: nothing is deleted for the operator.
std::string way_out(const std::filesystem::path& path) {
  const std::string p = path.string();
  return fmt::format(
      "Stop the daemon and move it aside: mv {0} {0}.damaged-{1} (also {0}-wal and {0}-shm if "
      "present); the daemon will create a new one at the next start. To salvage old data: "
      "sqlite3 {0}.damaged-{1} .recover | sqlite3 {0}.recovered",
      p, today_utc());
}

}  // namespace

std::string no_space_message(const std::filesystem::path& path, std::string_view detail) {
  return fmt::format(
      "no space left for telemetry store {} ({}): free space on its file system, or lower "
      "storage.disk_budget",
      path.string(), detail);
}

void ConnectionCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StatementFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

std::string error_message(sqlite3* db) {
  return db != nullptr ? sqlite3_errmsg(db) : "out of memory";
}

StatusCode code_of(int sqlite_result) {
  switch (sqlite_result & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return StatusCode::kOk;
    case SQLITE_FULL: return StatusCode::kNoSpace;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return StatusCode::kBusy;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return StatusCode::kCorrupt;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM: return StatusCode::kIoError;
    default: return StatusCode::kInternal;
  }
}

Status status_of(sqlite3* db, std::string_view what) {
  StatusCode code = db != nullptr ? code_of(sqlite3_extended_errcode(db)) : StatusCode::kInternal;
  if (code == StatusCode::kOk) code = StatusCode::kInternal;  // called after a failure
  return Status::error(code, fmt::format("{}: {}", what, error_message(db)));
}

Statement prepare(sqlite3* db, std::string_view sql, std::string* error) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    if (error != nullptr) *error = fmt::format("prepare failed: {}", error_message(db));
    sqlite3_finalize(stmt);
    return nullptr;
  }
  return Statement(stmt);
}

bool exec(sqlite3* db, const char* sql, std::string* error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    if (error != nullptr) *error = msg != nullptr ? msg : error_message(db);
    sqlite3_free(msg);
    return false;
  }
  return true;
}

std::optional<std::int64_t> query_int(sqlite3* db, const char* sql, std::string* error) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    if (error != nullptr) *error = error_message(db);
    return std::nullopt;
  }
  Statement stmt(raw);
  const int rc = sqlite3_step(raw);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(raw, 0);
  if (error != nullptr) *error = rc == SQLITE_DONE ? "no row" : error_message(db);
  return std::nullopt;
}

bool create_private_file(const std::filesystem::path& path, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return true;
  *error = fmt::format("{}telemetry store {}: cannot create it: {}",
                       errno == ENOSPC ? "no space left for " : "", path.string(),
                       std::strerror(errno));
  return false;
}

Connection open_connection(const std::filesystem::path& path, bool read_only, std::string* error) {
  sqlite3* raw = nullptr;
  // NOMUTEX: every connection is used by one thread at a time, guarded by our own mutexes.
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK) {
    if (error != nullptr) {
      *error = fmt::format("cannot open telemetry store {}: {}", path.string(), error_message(raw));
    }
    return nullptr;
  }
  sqlite3_extended_result_codes(raw, 1);
  // The writer holds the write lock only for one batch; readers in WAL mode rarely wait at all.
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

bool check_database(sqlite3* db, const std::filesystem::path& path,
                    std::uint64_t quick_check_above_bytes, std::string* error) {
  const std::string p = path.string();
  std::string detail;
  // Reading the header is the first thing that touches the file: a non-database fails here.
  const auto app_id = query_int(db, "PRAGMA application_id", &detail);
  if (!app_id) {
    const int code = sqlite3_errcode(db) & 0xff;
    if (code == SQLITE_NOTADB) {
      *error = fmt::format("telemetry store {} is not a SQLite database ({}). {}", p, detail,
                           way_out(path));
    } else if (code == SQLITE_CORRUPT) {
      *error = fmt::format("telemetry store {} is damaged ({}). {}", p, detail, way_out(path));
    } else if (code == SQLITE_FULL) {
      *error = no_space_message(path, detail);
    } else {
      *error = fmt::format("cannot read telemetry store {}: {}", p, detail);
    }
    return false;
  }
  const auto tables =
      query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", &detail);
  if (!tables) {
    *error = fmt::format("telemetry store {} is damaged ({}). {}", p, detail, way_out(path));
    return false;
  }
  if (*app_id != kApplicationId && !(*app_id == 0 && *tables == 0)) {
    *error = fmt::format(
        "{} is a SQLite database but not a Gridlet telemetry store (application_id {:#x}). "
        "Point the store at another path. {}",
        p, *app_id, way_out(path));
    return false;
  }

  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const bool quick = !ec && size > quick_check_above_bytes;
  // Ten problems are enough to tell damage; a full list could be huge.
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, quick ? "PRAGMA quick_check(10)" : "PRAGMA integrity_check(10)", -1,
                         &raw, nullptr) != SQLITE_OK) {
    *error = fmt::format("telemetry store {} is damaged ({}). {}", p, error_message(db),
                         way_out(path));
    return false;
  }
  Statement stmt(raw);
  std::vector<std::string> problems;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
    problems.emplace_back(text != nullptr ? text : "");
  }
  if (rc != SQLITE_DONE) {
    *error = fmt::format("telemetry store {} is damaged ({}). {}", p, error_message(db),
                         way_out(path));
    return false;
  }
  if (problems.size() != 1 || problems.front() != "ok") {
    *error = fmt::format("telemetry store {} is damaged ({} found: {}). {}", p,
                         quick ? "quick_check" : "integrity_check",
                         fmt::join(problems, "; "), way_out(path));
    return false;
  }
  return true;
}

bool migrate(sqlite3* db, const std::filesystem::path& path, std::string* error) {
  std::string detail;
  // The ROLLBACK after a failure resets the error code: tell a full disk before it.
  auto rollback = [&] {
    if ((sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL) *error = no_space_message(path, *error);
    exec(db, "ROLLBACK", nullptr);
  };
  if (!exec(db,
            "BEGIN IMMEDIATE;"
            "CREATE TABLE IF NOT EXISTS schema_version("
            "  version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL);",
            &detail)) {
    *error = fmt::format("cannot migrate telemetry store {}: {}", path.string(), detail);
    rollback();
    return false;
  }
  const auto current = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", &detail);
  if (!current) {
    *error = fmt::format("cannot read schema_version of {}: {}", path.string(), detail);
    rollback();
    return false;
  }
  if (*current > kSchemaVersion) {
    *error = fmt::format(
        "telemetry store {} has schema version {}, newer than this build knows ({}); run the newer "
        "gatewayd, or move the file aside",
        path.string(), *current, kSchemaVersion);
    rollback();
    return false;
  }
  const auto now_ms = adapters::unix_ms();
  for (int version = static_cast<int>(*current) + 1; version <= kSchemaVersion; ++version) {
    const std::string record = fmt::format(
        "INSERT INTO schema_version(version, applied_ms) VALUES({}, {})", version, now_ms);
    if (!exec(db, kMigrations[version - 1], &detail) || !exec(db, record.c_str(), &detail)) {
      *error = fmt::format("migration {} of telemetry store {} failed: {}", version,
                           path.string(), detail);
      rollback();
      return false;
    }
  }
  if (!exec(db, "COMMIT", &detail)) {
    *error = fmt::format("cannot commit migrations of {}: {}", path.string(), detail);
    rollback();
    return false;
  }
  return true;
}

std::optional<std::uint64_t> used_bytes(sqlite3* db) {
  const auto pages = query_int(db, "PRAGMA page_count", nullptr);
  const auto free_pages = query_int(db, "PRAGMA freelist_count", nullptr);
  const auto page_size = query_int(db, "PRAGMA page_size", nullptr);
  if (!pages || !free_pages || !page_size) return std::nullopt;
  return static_cast<std::uint64_t>((*pages - *free_pages) * *page_size);
}

std::uint64_t file_bytes_on_disk(const std::filesystem::path& path) {
  std::error_code ec;
  std::uint64_t total = 0;
  const auto main = std::filesystem::file_size(path, ec);
  if (!ec) total += main;
  auto wal = path;
  wal += "-wal";
  const auto wal_size = std::filesystem::file_size(wal, ec);
  if (!ec) total += wal_size;
  return total;
}

}  // namespace gridlet::store::detail
