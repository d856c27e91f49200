// Ingest throughput of the telemetry store against raw SQLite inserts of the same rows.
//
// BM_RawSqliteInsert is the baseline: the same samples table and insert statement, the same
// pragmas (WAL, synchronous=FULL, auto_vacuum=INCREMENTAL) and the same rows per transaction, but
// raw sample inserts only: no rollup upserts, no queue, no writer thread. BM_StoreIngest does all
// of that through TelemetryStore. Both write files on the real disk (not tmpfs), because fsync
// cost is part of the answer. The target: store >= 0.8x baseline and >= 300k samples/s.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "gateway/store/telemetry_store.hpp"

namespace {

namespace fs = std::filesystem;
using gridlet::store::Sample;

constexpr std::int64_t kSamples = 200'000;
constexpr std::int64_t kSeriesCount = 10;
constexpr std::size_t kBatch = 20'000;  // StoreOptions::max_batch_samples default
constexpr std::size_t kAppendChunk = 1000;

fs::path bench_dir() {
  // /var/tmp is disk-backed on every distribution we ship on; /tmp may be tmpfs.
  fs::path dir = fs::path("/var/tmp") / ("gridlet_store_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

std::vector<Sample> make_rows() {
  std::vector<Sample> rows;
  rows.reserve(kSamples);
  const std::int64_t t0 = 1'700'000'000'000;
  for (std::int64_t i = 0; i < kSamples; ++i) {
    rows.push_back({1 + i % kSeriesCount, t0 + i / kSeriesCount * 1000,
                    static_cast<double>(i % 1000) * 0.1});
  }
  return rows;
}

std::uint64_t disk_bytes(const fs::path& db) {
  std::error_code ec;
  std::uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    fs::path p = db;
    p += suffix;
    const auto n = fs::file_size(p, ec);
    if (!ec) total += n;
  }
  return total;
}

void remove_db(const fs::path& db) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path p = db;
    p += suffix;
    fs::remove(p);
  }
}

void BM_RawSqliteInsert(benchmark::State& state) {
  const auto rows = make_rows();
  const fs::path db_path = bench_dir() / "raw.db";
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    remove_db(db_path);
    sqlite3* db = nullptr;
    sqlite3_open(db_path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;"
                 "PRAGMA synchronous = FULL; PRAGMA cache_size = -16384;"
                 "CREATE TABLE samples(series_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, "
                 "value REAL NOT NULL, PRIMARY KEY(series_id, ts_ms)) WITHOUT ROWID;",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v3(db,
                       "INSERT INTO samples(series_id, ts_ms, value) VALUES(?1, ?2, ?3) "
                       "ON CONFLICT(series_id, ts_ms) DO NOTHING",
                       -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr);
    state.ResumeTiming();
    for (std::size_t start = 0; start < rows.size(); start += kBatch) {
      sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      const std::size_t end = std::min(rows.size(), start + kBatch);
      for (std::size_t i = start; i < end; ++i) {
        sqlite3_bind_int64(insert, 1, rows[i].series);
        sqlite3_bind_int64(insert, 2, rows[i].timestamp_ms);
        sqlite3_bind_double(insert, 3, rows[i].value);
        sqlite3_step(insert);
        sqlite3_reset(insert);
      }
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    state.PauseTiming();
    sqlite3_finalize(insert);
    sqlite3_close(db);  // checkpoints and removes the WAL
    bytes = disk_bytes(db_path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["bytes_per_sample"] = static_cast<double>(bytes) / kSamples;
  remove_db(db_path);
  fs::remove(db_path.parent_path());
}
BENCHMARK(BM_RawSqliteInsert)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StoreIngest(benchmark::State& state) {
  const auto rows = make_rows();
  const fs::path db_path = bench_dir() / "store.db";
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    remove_db(db_path);
    gridlet::store::StoreOptions options;
    options.path = db_path;
    options.max_batch_samples = kBatch;
    options.raw_retention = options.rollup_1m_retention = std::chrono::milliseconds(0);
    gridlet::store::OpenError error;
    auto store = gridlet::store::TelemetryStore::open(options, &error);
    if (!store) {
      state.SkipWithError(error.message.c_str());
      return;
    }
    state.ResumeTiming();
    for (std::size_t start = 0; start < rows.size(); start += kAppendChunk) {
      const std::size_t n = std::min(kAppendChunk, rows.size() - start);
      while (!store->append(std::span(rows).subspan(start, n))) {
      }
    }
    store->flush();
    state.PauseTiming();
    store.reset();  // checkpoints and removes the WAL
    bytes = disk_bytes(db_path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["bytes_per_sample"] = static_cast<double>(bytes) / kSamples;
  remove_db(db_path);
  fs::remove(db_path.parent_path());
}
BENCHMARK(BM_StoreIngest)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
