#include "gateway/store/dr_events.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "gateway/store/database.hpp"

namespace gridlet::store {
namespace {

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

DrEventStore::Outcome write(sqlite3* db, const StoredDrEvent& e) {
  using Outcome = DrEventStore::Outcome;
  std::string err;
  auto fail = [&](const std::string& what) {
    spdlog::error("DR events: {}: {}", what, err.empty() ? detail::error_message(db) : err);
    detail::exec(db, "ROLLBACK", nullptr);
    return Outcome::kFailed;
  };
  detail::Statement find =
      detail::prepare(db, "SELECT modification, body FROM dr_events WHERE source = ? AND event_id = ?", &err);
  detail::Statement upsert = detail::prepare(
      db, "INSERT OR REPLACE INTO dr_events(source, event_id, modification, received_ms, body) VALUES(?,?,?,?,?)",
      &err);
  if (!find || !upsert) return fail("cannot prepare");
  if (!detail::exec(db, "BEGIN IMMEDIATE", &err)) return fail("cannot begin a transaction");
  bind_text(find.get(), 1, e.source);
  bind_text(find.get(), 2, e.event_id);
  const int rc = sqlite3_step(find.get());
  if (rc == SQLITE_ROW) {
    const auto stored = static_cast<std::uint32_t>(sqlite3_column_int64(find.get(), 0));
    const std::string body = column_text(find.get(), 1);
    if (stored > e.modification || (stored == e.modification && body != e.body)) {
      detail::exec(db, "ROLLBACK", nullptr);
      return Outcome::kStale;
    }
    if (stored == e.modification) {
      detail::exec(db, "ROLLBACK", nullptr);
      return Outcome::kUnchanged;
    }
  } else if (rc != SQLITE_DONE) {
    return fail("cannot read");
  }
  bind_text(upsert.get(), 1, e.source);
  bind_text(upsert.get(), 2, e.event_id);
  sqlite3_bind_int64(upsert.get(), 3, e.modification);
  sqlite3_bind_int64(upsert.get(), 4, e.received_ms);
  bind_text(upsert.get(), 5, e.body);
  if (sqlite3_step(upsert.get()) != SQLITE_DONE) return fail("cannot write");
  if (!detail::exec(db, "COMMIT", &err)) return fail("cannot commit");
  return Outcome::kStored;
}

}  // namespace

std::string_view to_string(DrEventStore::Outcome outcome) {
  switch (outcome) {
    case DrEventStore::Outcome::kStored: return "stored";
    case DrEventStore::Outcome::kUnchanged: return "unchanged";
    case DrEventStore::Outcome::kStale: return "stale";
    case DrEventStore::Outcome::kFailed: return "failed";
  }
  return "failed";
}

void DrEventStore::put(StoredDrEvent event, std::function<void(Outcome)> done) {
  store_.run_on_writer([e = std::move(event), done = std::move(done)](sqlite3* db) {
    const Outcome outcome = write(db, e);
    if (done) done(outcome);
  });
}

Result<std::vector<StoredDrEvent>> DrEventStore::list(const std::string& source) const {
  std::string err;
  detail::Connection db = detail::open_connection(store_.path(), /*read_only=*/true, &err);
  if (!db) return Status::error(StatusCode::kIoError, err);
  detail::Statement q = detail::prepare(
      db.get(),
      "SELECT source, event_id, modification, received_ms, body FROM dr_events "
      "WHERE ?1 = '' OR source = ?1 ORDER BY received_ms, source, event_id",
      &err);
  if (!q) return Status::error(StatusCode::kIoError, err);
  bind_text(q.get(), 1, source);
  std::vector<StoredDrEvent> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    StoredDrEvent e;
    e.source = column_text(q.get(), 0);
    e.event_id = column_text(q.get(), 1);
    e.modification = static_cast<std::uint32_t>(sqlite3_column_int64(q.get(), 2));
    e.received_ms = sqlite3_column_int64(q.get(), 3);
    e.body = column_text(q.get(), 4);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return detail::status_of(db.get(), "reading DR events");
  return out;
}

}  // namespace gridlet::store
