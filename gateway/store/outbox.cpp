#include "gateway/store/outbox.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "adapters/thread_safety.hpp"
#include "gateway/store/database.hpp"

namespace gridlet::store {
namespace {

// A writer pass that fails (the database busy, an I/O error) is tried again after 100, 200, 400
// and 800 ms; then its changes are given up on disk (the messages stay in memory and are sent).
constexpr int kMaxWriteAttempts = 5;
constexpr std::chrono::milliseconds kFirstRetryPause{100};

std::uint64_t size_of(const OutboxMessage& m) { return m.topic.size() + m.payload.size(); }

}  // namespace

struct Outbox::Impl : std::enable_shared_from_this<Impl> {
  TelemetryStore* store = nullptr;
  std::uint64_t max_bytes = 0;

  // The event loop's.
  struct Entry {
    OutboxMessage message;
    bool in_flight = false;
  };
  std::map<std::uint64_t, Entry> entries;
  std::uint64_t next_seq = 1;
  std::size_t in_flight = 0;
  std::uint64_t bytes = 0;

  // Shared with the writer thread.
  adapters::Mutex mu;
  adapters::CondVar cv;
  std::vector<OutboxMessage> to_insert GUARDED_BY(mu);
  std::vector<std::uint64_t> to_delete GUARDED_BY(mu);
  std::uint64_t highest_seq GUARDED_BY(mu) = 0;  // persisted as next_seq = highest_seq + 1
  std::uint64_t requested GUARDED_BY(mu) = 0;    // changes asked for
  std::uint64_t processed GUARDED_BY(mu) = 0;    // changes a writer pass dealt with
  bool last_ok GUARDED_BY(mu) = true;
  bool job_scheduled GUARDED_BY(mu) = false;

  // The writer thread's.
  int attempts = 0;
  std::uint64_t written_next_seq = 0;

  std::atomic<std::uint64_t> enqueued{0}, delivered{0}, dropped{0}, dropped_bytes{0}, rows_written{0},
      write_failures{0}, pending{0}, pending_bytes{0}, in_flight_count{0}, loaded{0};

  void changed(std::vector<OutboxMessage> insert, std::vector<std::uint64_t> erase) EXCLUDES(mu);
  void drain(sqlite3* db) EXCLUDES(mu);
  bool write(sqlite3* db, const std::vector<OutboxMessage>& insert, const std::vector<std::uint64_t>& erase,
             std::uint64_t next);
  void erase(std::map<std::uint64_t, Entry>::iterator it, std::vector<std::uint64_t>& gone);
  void publish_counts() {
    pending = entries.size();
    pending_bytes = bytes;
    in_flight_count = in_flight;
  }
};

std::unique_ptr<Outbox> Outbox::open(TelemetryStore& store, std::uint64_t max_bytes, OpenError* error) {
  auto impl = std::make_shared<Impl>();
  impl->store = &store;
  impl->max_bytes = max_bytes;
  std::string err;
  detail::Connection db = detail::open_connection(store.path(), /*read_only=*/true, &err);
  auto fail = [&](const std::string& why) {
    if (error) error->message = fmt::format("MQTT outbox in {}: {}", store.path().string(), why);
    return nullptr;
  };
  if (!db) return fail(err);
  const auto stored_next = detail::query_int(db.get(), "SELECT coalesce(max(next_seq), 0) FROM outbox_state", &err);
  if (!stored_next) return fail(err);
  detail::Statement rows = detail::prepare(
      db.get(), "SELECT seq, created_ms, topic, payload, qos, retained FROM outbox ORDER BY seq", &err);
  if (!rows) return fail(err);
  std::uint64_t last = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
    sqlite3_stmt* s = rows.get();
    OutboxMessage m;
    m.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    m.created_ms = sqlite3_column_int64(s, 1);
    const auto text = [&](int i) {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
      return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
    };
    m.topic = text(2);
    m.payload = text(3);
    m.qos = sqlite3_column_int(s, 4);
    m.retained = sqlite3_column_int(s, 5) != 0;
    last = m.seq;
    impl->bytes += size_of(m);
    impl->entries.emplace(m.seq, Impl::Entry{std::move(m), false});
  }
  if (rc != SQLITE_DONE) return fail(detail::error_message(db.get()));
  impl->loaded = impl->entries.size();
  // A file that has been used jumps ahead: numbers handed out after the last write may have
  // reached a subscriber.
  const auto used = std::max<std::uint64_t>(static_cast<std::uint64_t>(*stored_next), last + 1);
  impl->next_seq = used > 1 ? used + kRestartGap : 1;
  {
    adapters::MutexLock lock(impl->mu);
    impl->highest_seq = impl->next_seq - 1;
  }
  auto outbox = std::unique_ptr<Outbox>(new Outbox(std::move(impl)));
  // The new starting point is on disk before any number is handed out.
  outbox->impl_->changed({}, {});
  if (!outbox->flush()) return fail("cannot write its sequence number");
  outbox->impl_->publish_counts();
  if (outbox->impl_->loaded > 0) {
    spdlog::info("MQTT outbox: {} messages from the previous run wait for the broker", outbox->impl_->loaded.load());
  }
  return outbox;
}

Outbox::Outbox(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Outbox::~Outbox() { flush(); }

void Outbox::Impl::changed(std::vector<OutboxMessage> insert, std::vector<std::uint64_t> gone) {
  bool schedule = false;
  {
    adapters::MutexLock lock(mu);
    for (auto& m : insert) {
      highest_seq = std::max(highest_seq, m.seq);
      to_insert.push_back(std::move(m));
    }
    to_delete.insert(to_delete.end(), gone.begin(), gone.end());
    ++requested;
    schedule = !job_scheduled;
    job_scheduled = true;
  }
  // The delay lets the broker acknowledge first: such a message is never written at all.
  if (schedule) store->run_on_writer_after(kWriteDelay, [self = shared_from_this()](sqlite3* db) { self->drain(db); });
}

void Outbox::Impl::erase(std::map<std::uint64_t, Entry>::iterator it, std::vector<std::uint64_t>& gone) {
  bytes -= size_of(it->second.message);
  if (it->second.in_flight) --in_flight;
  gone.push_back(it->first);
  entries.erase(it);
}

std::uint64_t Outbox::push(std::string topic, const MakePayload& payload, int qos, bool retained,
                           std::int64_t now_ms) {
  Impl& d = *impl_;
  OutboxMessage m;
  m.seq = d.next_seq++;
  m.created_ms = now_ms;
  m.topic = std::move(topic);
  m.payload = payload(m.seq);
  m.qos = qos;
  m.retained = retained;
  d.bytes += size_of(m);
  const std::uint64_t seq = m.seq;
  d.entries.emplace(seq, Impl::Entry{m, false});
  ++d.enqueued;
  // Over the budget: the oldest waiting messages go (those in flight cannot be taken back).
  std::vector<std::uint64_t> gone;
  for (auto it = d.entries.begin(); d.bytes > d.max_bytes && it != d.entries.end();) {
    if (it->second.in_flight) {
      ++it;
      continue;
    }
    d.dropped_bytes += size_of(it->second.message);
    ++d.dropped;
    const auto next = std::next(it);
    d.erase(it, gone);
    it = next;
  }
  if (!gone.empty()) {
    spdlog::warn("MQTT outbox: over its budget of {} bytes, dropped the {} oldest messages", d.max_bytes,
                 gone.size());
  }
  d.publish_counts();
  std::vector<OutboxMessage> insert;
  insert.push_back(std::move(m));
  d.changed(std::move(insert), std::move(gone));
  return seq;
}

std::vector<OutboxMessage> Outbox::take(std::size_t max) {
  std::vector<OutboxMessage> out;
  for (auto& [seq, e] : impl_->entries) {
    if (out.size() >= max) break;
    if (e.in_flight) continue;
    e.in_flight = true;
    ++impl_->in_flight;
    out.push_back(e.message);
  }
  impl_->publish_counts();
  return out;
}

void Outbox::delivered(std::uint64_t seq) {
  const auto it = impl_->entries.find(seq);
  if (it == impl_->entries.end()) return;
  std::vector<std::uint64_t> gone;
  impl_->erase(it, gone);
  ++impl_->delivered;
  impl_->publish_counts();
  impl_->changed({}, std::move(gone));
}

void Outbox::requeue() {
  for (auto& [seq, e] : impl_->entries) e.in_flight = false;
  impl_->in_flight = 0;
  impl_->publish_counts();
}

std::size_t Outbox::in_flight() const { return impl_->in_flight; }
std::size_t Outbox::waiting() const { return impl_->entries.size() - impl_->in_flight; }

bool Outbox::flush() {
  Impl& d = *impl_;
  std::uint64_t target = 0;
  {
    adapters::MutexLock lock(d.mu);
    target = d.requested;
    if (d.processed >= target) return d.last_ok;
  }
  d.store->run_on_writer([self = impl_](sqlite3* db) { self->drain(db); });
  adapters::MutexLock lock(d.mu);
  while (d.processed < target) d.cv.wait(lock);
  return d.last_ok;
}

OutboxStats Outbox::stats() const {
  const Impl& d = *impl_;
  OutboxStats s;
  s.enqueued = d.enqueued;
  s.delivered = d.delivered;
  s.dropped = d.dropped;
  s.dropped_bytes = d.dropped_bytes;
  s.rows_written = d.rows_written;
  s.write_failures = d.write_failures;
  s.pending = d.pending;
  s.pending_bytes = d.pending_bytes;
  s.in_flight = d.in_flight_count;
  s.loaded = d.loaded;
  return s;
}

// One writer pass: what was pushed and not delivered meanwhile is inserted, what was delivered or
// dropped after an earlier pass wrote it is deleted, and the sequence number is kept, in one
// transaction.
void Outbox::Impl::drain(sqlite3* db) {
  std::vector<OutboxMessage> insert;
  std::vector<std::uint64_t> gone;
  std::uint64_t target = 0, next = 0;
  {
    adapters::MutexLock lock(mu);
    insert.swap(to_insert);
    gone.swap(to_delete);
    target = requested;
    next = highest_seq + 1;
    job_scheduled = false;
  }
  std::vector<std::uint64_t> sorted_gone = gone;
  std::sort(sorted_gone.begin(), sorted_gone.end());
  std::vector<OutboxMessage> rows;
  std::vector<std::uint64_t> inserted;
  for (const auto& m : insert) {
    if (!std::binary_search(sorted_gone.begin(), sorted_gone.end(), m.seq)) rows.push_back(m);
    inserted.push_back(m.seq);
  }
  std::sort(inserted.begin(), inserted.end());
  std::vector<std::uint64_t> deletes;
  for (const auto seq : sorted_gone) {
    if (!std::binary_search(inserted.begin(), inserted.end(), seq)) deletes.push_back(seq);
  }
  bool ok = true;
  if (!rows.empty() || !deletes.empty() || next != written_next_seq) {
    ok = write(db, rows, deletes, next);
    if (ok) {
      written_next_seq = next;
      rows_written += rows.size();
    } else {
      ++write_failures;
    }
  }
  if (!ok && ++attempts < kMaxWriteAttempts) {
    // Back to the front, in order, and once more after a pause; the writer goes on meanwhile.
    {
      adapters::MutexLock lock(mu);
      to_insert.insert(to_insert.begin(), std::make_move_iterator(insert.begin()),
                       std::make_move_iterator(insert.end()));
      to_delete.insert(to_delete.begin(), gone.begin(), gone.end());
    }
    store->run_on_writer_after(kFirstRetryPause * (1 << (attempts - 1)),
                               [self = shared_from_this()](sqlite3* conn) { self->drain(conn); });
    return;
  }
  if (!ok) spdlog::error("MQTT outbox: gave up writing {} messages to disk; they are kept in memory", rows.size());
  attempts = 0;
  adapters::MutexLock lock(mu);
  processed = std::max(processed, target);
  last_ok = ok;
  cv.notify_all();
}

bool Outbox::Impl::write(sqlite3* db, const std::vector<OutboxMessage>& insert,
                         const std::vector<std::uint64_t>& erase_seqs, std::uint64_t next) {
  std::string err;
  detail::Statement ins = detail::prepare(
      db, "INSERT OR REPLACE INTO outbox(seq, created_ms, topic, payload, qos, retained) VALUES(?,?,?,?,?,?)",
      &err);
  detail::Statement del = detail::prepare(db, "DELETE FROM outbox WHERE seq = ?", &err);
  detail::Statement state =
      detail::prepare(db, "INSERT OR REPLACE INTO outbox_state(id, next_seq) VALUES(1, ?)", &err);
  if (!ins || !del || !state) {
    spdlog::error("MQTT outbox: {}", err);
    return false;
  }
  if (!detail::exec(db, "BEGIN IMMEDIATE", &err)) {
    spdlog::error("MQTT outbox: cannot begin a transaction: {}", err);
    return false;
  }
  bool ok = true;
  for (const auto& m : insert) {
    sqlite3_stmt* s = ins.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(m.seq));
    sqlite3_bind_int64(s, 2, m.created_ms);
    sqlite3_bind_text(s, 3, m.topic.data(), static_cast<int>(m.topic.size()), SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, m.payload.data(), static_cast<int>(m.payload.size()), SQLITE_STATIC);
    sqlite3_bind_int(s, 5, m.qos);
    sqlite3_bind_int(s, 6, m.retained ? 1 : 0);
    ok = ok && sqlite3_step(s) == SQLITE_DONE;
  }
  for (const auto seq : erase_seqs) {
    sqlite3_stmt* s = del.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
    ok = ok && sqlite3_step(s) == SQLITE_DONE;
  }
  sqlite3_bind_int64(state.get(), 1, static_cast<sqlite3_int64>(next));
  ok = ok && sqlite3_step(state.get()) == SQLITE_DONE;
  if (!ok) {
    spdlog::error("MQTT outbox: write failed: {}", detail::error_message(db));
    detail::exec(db, "ROLLBACK", nullptr);
    return false;
  }
  if (!detail::exec(db, "COMMIT", &err)) {
    spdlog::error("MQTT outbox: commit failed: {}", err);
    detail::exec(db, "ROLLBACK", nullptr);
    return false;
  }
  return true;
}

}  // namespace gridlet::store
