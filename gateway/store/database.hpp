// SQLite plumbing private to gateway/store: owning handles, statement helpers, opening checks and
// the numbered schema migrations. Nothing outside gateway/store includes this header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/store/status.hpp"

// Forward declarations keep <sqlite3.h> out of headers (see the dependency rules test).
struct sqlite3;
struct sqlite3_stmt;

namespace gridlet::store::detail {

struct ConnectionCloser {
  void operator()(sqlite3* db) const;  // sqlite3_close_v2
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const;  // sqlite3_finalize
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// "Gridlet telemetry" as PRAGMA application_id, so a wrong file is recognised before we touch it.
inline constexpr std::int32_t kApplicationId = 0x47524454;  // "GRDT"

// Newest schema version this build knows; migrations 1..kSchemaVersion exist.
inline constexpr int kSchemaVersion = 3;

// Returns sqlite3_errmsg, or a fixed text when db is null.
std::string error_message(sqlite3* db);

// The Status of the last failure on db: its code from the SQLite result code (SQLITE_FULL is
// kNoSpace), its message "<what>: <sqlite3_errmsg>".
Status status_of(sqlite3* db, std::string_view what);
// The code a SQLite result code stands for.
StatusCode code_of(int sqlite_result);

// "no space left for telemetry store PATH (DETAIL): ..." with what to do about it.
std::string no_space_message(const std::filesystem::path& path, std::string_view detail);

// Prepares a statement meant to be reused many times (SQLITE_PREPARE_PERSISTENT).
// On failure returns null and fills *error.
Statement prepare(sqlite3* db, std::string_view sql, std::string* error);

// Runs one or more statements that return no rows we need. On failure fills *error.
bool exec(sqlite3* db, const char* sql, std::string* error);

// Runs a statement that returns one integer (e.g. "PRAGMA page_count").
std::optional<std::int64_t> query_int(sqlite3* db, const char* sql, std::string* error);

// Creates the database file with mode 0600 when it does not exist yet (SQLite would use 0644 less
// the umask); SQLite gives its -wal and -shm files the mode of the database file. An existing
// file keeps its mode.
bool create_private_file(const std::filesystem::path& path, std::string* error);

// Opens a connection. Read-only connections never create the file.
Connection open_connection(const std::filesystem::path& path, bool read_only, std::string* error);

// Checks that the file is a healthy SQLite database that is ours (or empty). Runs
// PRAGMA integrity_check, or quick_check when the file is larger than quick_check_above_bytes.
// On failure the message names the file and says how to move it aside or salvage it.
bool check_database(sqlite3* db, const std::filesystem::path& path,
                    std::uint64_t quick_check_above_bytes, std::string* error);

// Applies missing migrations in one transaction; refuses a file from a newer build.
bool migrate(sqlite3* db, const std::filesystem::path& path, std::string* error);

// (page_count - freelist_count) * page_size: bytes of live pages, as counted by the disk budget.
std::optional<std::uint64_t> used_bytes(sqlite3* db);

// Size on disk of the database file plus its -wal file (missing files count as 0).
std::uint64_t file_bytes_on_disk(const std::filesystem::path& path);

// Floors ts to a multiple of bucket_ms, also for negative ts.
constexpr std::int64_t bucket_start(std::int64_t ts_ms, std::int64_t bucket_ms) {
  const std::int64_t rem = ts_ms % bucket_ms;
  return rem < 0 ? ts_ms - rem - bucket_ms : ts_ms - rem;
}

}  // namespace gridlet::store::detail
