// Ingest throughput of the telemetry store against raw SQLite inserts of the same rows.
//
// BM_RawSqliteInsert is the baseline: the same samples table and insert statement, the same
// pragmas (WAL, synchronous=FULL, auto_vacuum=INCREMENTAL) and the same rows per transaction, but
// raw sample inserts only: no rollup upserts, no queue, no writer thread. BM_StoreIngest does all
// of that through TelemetryStore. Both write files on the real disk (not tmpfs), because fsync
// cost is part of the answer. The target: store >= 0.8x baseline and >= 300k samples/s.
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string_view>
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

// CPU time of the whole process (every thread: the store's writer included), in seconds.
double process_cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// Bytes this process caused to be sent to the storage layer (/proc/self/io write_bytes): the
// SD-card wear figure, WAL and checkpoint writes included.
std::uint64_t process_write_bytes() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char key[64];
  unsigned long long value = 0;
  std::uint64_t out = 0;
  while (std::fscanf(f, "%63s %llu", key, &value) == 2) {
    if (std::string_view(key) == "write_bytes:") out = value;
  }
  std::fclose(f);
  return out;
}

void remove_db(const fs::path& db) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path p = db;
    p += suffix;
    fs::remove(p);
  }
}

// The counters both benchmarks report, per sample: database size, bytes written to the disk, CPU.
void report(benchmark::State& state, std::uint64_t bytes, std::uint64_t written, double cpu_s) {
  const double samples = static_cast<double>(state.iterations() * kSamples);
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["bytes_per_sample"] = static_cast<double>(bytes) / kSamples;
  state.counters["written_bytes_per_sample"] = static_cast<double>(written) / samples;
  state.counters["cpu_ns_per_sample"] = cpu_s * 1e9 / samples;
}

void BM_RawSqliteInsert(benchmark::State& state) {
  const auto rows = make_rows();
  const fs::path db_path = bench_dir() / "raw.db";
  std::uint64_t bytes = 0;
  double cpu_s = 0;  // process CPU (all threads) inside the timed region
  std::uint64_t written = 0;  // bytes written to storage, through the final checkpoint
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
    const double cpu0 = process_cpu_s();
    const std::uint64_t written0 = process_write_bytes();
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
    cpu_s += process_cpu_s() - cpu0;
    state.PauseTiming();
    sqlite3_finalize(insert);
    sqlite3_close(db);  // checkpoints and removes the WAL
    bytes = disk_bytes(db_path);
    written += process_write_bytes() - written0;
    state.ResumeTiming();
  }
  report(state, bytes, written, cpu_s);
  remove_db(db_path);
  fs::remove(db_path.parent_path());
}
BENCHMARK(BM_RawSqliteInsert)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StoreIngest(benchmark::State& state) {
  const auto rows = make_rows();
  const fs::path db_path = bench_dir() / "store.db";
  std::uint64_t bytes = 0;
  double cpu_s = 0;  // process CPU (all threads) inside the timed region
  std::uint64_t written = 0;  // bytes written to storage, through the final checkpoint
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
    const double cpu0 = process_cpu_s();
    const std::uint64_t written0 = process_write_bytes();
    for (std::size_t start = 0; start < rows.size(); start += kAppendChunk) {
      const std::size_t n = std::min(kAppendChunk, rows.size() - start);
      while (!store->append(std::span(rows).subspan(start, n))) {
      }
    }
    store->flush();
    cpu_s += process_cpu_s() - cpu0;
    state.PauseTiming();
    store.reset();  // checkpoints and removes the WAL
    bytes = disk_bytes(db_path);
    written += process_write_bytes() - written0;
    state.ResumeTiming();
  }
  report(state, bytes, written, cpu_s);
  remove_db(db_path);
  fs::remove(db_path.parent_path());
}
BENCHMARK(BM_StoreIngest)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
