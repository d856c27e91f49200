// Crash test of the store's durability promise: a writer process is killed with SIGKILL at an
// arbitrary moment; every sample it reported committed must be in the reopened, intact file.
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "gateway/store/telemetry_store.hpp"

#ifndef GRIDLET_STORE_CRASH_WRITER_PATH
#error "GRIDLET_STORE_CRASH_WRITER_PATH must name the store_crash_writer binary"
#endif

namespace {

namespace fs = std::filesystem;
// Must match store_crash_writer.cpp.
constexpr std::int64_t kSeries = 4;
constexpr std::int64_t kSeriesBase = 1;
constexpr std::int64_t kBaseTs = 1'700'000'000'000;

struct Writer {
  pid_t pid = -1;
  int out_fd = -1;
};

Writer spawn_writer(const fs::path& db, std::int64_t first_seq) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string first = std::to_string(first_seq);
    execl(GRIDLET_STORE_CRASH_WRITER_PATH, GRIDLET_STORE_CRASH_WRITER_PATH, db.c_str(),
          first.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Reads "committed N" lines until `lines_wanted` lines were seen and N >= min_committed, or the
// deadline passes. Returns the last N seen (-1 if none).
std::int64_t read_commits(int fd, int lines_wanted, std::int64_t min_committed,
                          std::chrono::steady_clock::time_point deadline, std::string* buffer) {
  std::int64_t last = -1;
  int lines = 0;
  while (lines < lines_wanted || last < min_committed) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[4096];
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;  // the writer died
    buffer->append(chunk, static_cast<std::size_t>(n));
    std::size_t eol;
    while ((eol = buffer->find('\n')) != std::string::npos) {
      const std::string line = buffer->substr(0, eol);
      buffer->erase(0, eol + 1);
      if (line.rfind("committed ", 0) == 0) {
        last = std::stoll(line.substr(10));
        ++lines;
      }
    }
  }
  return last;
}

TEST(StoreCrashTest, CommittedSamplesSurviveSigkill) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("gridlet_store_crash_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path db_path = dir / "telemetry.db";

  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::cout << "seed " << seed << "\n";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);

  std::int64_t first_seq = 0;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Writer w = spawn_writer(db_path, first_seq);
    ASSERT_GT(w.pid, 0);
    std::string buffer;
    // At least 3 commits and 50k samples, then a random number of further commits, and a random
    // number of microseconds more: the kill lands anywhere in a batch, even mid-fsync.
    std::int64_t committed = read_commits(w.out_fd, 3, first_seq + 50'000, deadline, &buffer);
    const int extra = std::uniform_int_distribution<int>(0, 5)(rng);
    if (extra > 0) {
      const auto more = read_commits(w.out_fd, extra, 0, deadline, &buffer);
      committed = std::max(committed, more);
    }
    usleep(std::uniform_int_distribution<useconds_t>(0, 20'000)(rng));
    // Lines written before the kill that we have not read yet still count: drain them after.
    kill(w.pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(w.pid, &status, 0), w.pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer exited early";
    committed = std::max(committed, read_commits(w.out_fd, 1 << 30, 0, deadline, &buffer));
    close(w.out_fd);
    ASSERT_GE(committed, first_seq + 50'000) << "the writer did not report enough commits";

    // The store opens (it runs integrity_check itself) ...
    {
      gridlet::store::StoreOptions options;
      options.path = db_path;
      options.raw_retention = options.rollup_1m_retention = options.rollup_15m_retention =
          std::chrono::milliseconds(0);
      gridlet::store::OpenError error;
      auto store = gridlet::store::TelemetryStore::open(options, &error);
      ASSERT_NE(store, nullptr) << error.message;
    }
    // ... and every sample below `committed` is there with its exact value.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "ok");
    sqlite3_finalize(stmt);

    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT series_id, ts_ms, value FROM samples "
                                 "WHERE series_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    std::int64_t found = 0, wrong = 0;
    for (std::int64_t s = 0; s < kSeries; ++s) {
      // Sequences of series s below `committed`: s, s + kSeries, ... ; ts = base + n / kSeries * 10.
      const std::int64_t count = committed > s ? (committed - s + kSeries - 1) / kSeries : 0;
      sqlite3_bind_int64(stmt, 1, kSeriesBase + s);
      sqlite3_bind_int64(stmt, 2, kBaseTs + count * 10);
      std::int64_t k = 0;
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        const std::int64_t n = k * kSeries + s;
        if (sqlite3_column_int64(stmt, 1) != kBaseTs + k * 10 ||
            sqlite3_column_double(stmt, 2) != static_cast<double>(n) * 0.5) {
          ++wrong;
        }
        ++k;
      }
      sqlite3_reset(stmt);
      found += k;
    }
    sqlite3_finalize(stmt);
    EXPECT_EQ(found, committed) << "samples below the last reported commit are missing";
    EXPECT_EQ(wrong, 0);

    // Rollups commit in the same transaction as raw samples: their counts agree exactly.
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT (SELECT count(*) FROM samples), "
                                 "(SELECT sum(sample_count) FROM rollup_1m), "
                                 "(SELECT sum(sample_count) FROM rollup_15m)",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1));
    EXPECT_EQ(sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 2));
    EXPECT_GE(sqlite3_column_int64(stmt, 0), committed);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    std::cout << "round " << round << ": committed " << committed << " verified\n";
    first_seq = committed;  // the next writer continues; re-sent samples are identical
  }
  fs::remove_all(dir);
}

}  // namespace
