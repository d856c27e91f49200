// Unit tests of gateway/store: a real SQLite file in a private temp directory per test.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <span>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/store/event_log.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::store {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kQuarter = 15 * kMinute;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The rows of a query that must succeed.
HistoryResult history(const TelemetryStore& store, const HistoryQuery& q) {
  auto result = store.history(q);
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  return result.is_ok() ? std::move(result).value() : HistoryResult{};
}

// A fresh directory per test, removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("gridlet_store_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.path = dir_ / "telemetry.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<TelemetryStore> open_store() {
    OpenError error;
    auto store = TelemetryStore::open(options_, &error);
    EXPECT_NE(store, nullptr) << error.message;
    return store;
  }

  // A side connection to look at the file directly.
  std::int64_t query_int(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(options_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      v = sqlite3_column_int64(stmt, 0);
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
  }

  void exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* msg = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg), SQLITE_OK) << msg;
    sqlite3_free(msg);
    sqlite3_close(db);
  }

  fs::path dir_;
  StoreOptions options_;
};

// Reference aggregation of (ts, value) pairs into buckets of step_ms.
struct RefBucket {
  double min = 0, max = 0, sum = 0, last = 0;
  std::int64_t count = 0, last_ts = 0;
};
std::map<std::int64_t, RefBucket> reference(const std::vector<Sample>& samples,
                                            std::int64_t step_ms) {
  std::map<std::int64_t, RefBucket> out;
  for (const auto& s : samples) {
    auto& b = out[s.timestamp_ms - s.timestamp_ms % step_ms];
    if (b.count == 0) {
      b.min = b.max = b.last = s.value;
      b.last_ts = s.timestamp_ms;
    }
    b.min = std::min(b.min, s.value);
    b.max = std::max(b.max, s.value);
    b.sum += s.value;
    ++b.count;
    if (s.timestamp_ms >= b.last_ts) {
      b.last_ts = s.timestamp_ms;
      b.last = s.value;
    }
  }
  return out;
}

void expect_matches(const HistoryResult& result, const std::map<std::int64_t, RefBucket>& ref) {
  ASSERT_EQ(result.rows.size(), ref.size());
  auto it = ref.begin();
  for (const auto& row : result.rows) {
    SCOPED_TRACE(row.timestamp_ms);
    EXPECT_EQ(row.timestamp_ms, it->first);
    EXPECT_DOUBLE_EQ(row.min, it->second.min);
    EXPECT_DOUBLE_EQ(row.max, it->second.max);
    EXPECT_EQ(row.count, it->second.count);
    EXPECT_NEAR(row.mean, it->second.sum / static_cast<double>(it->second.count), 1e-9);
    EXPECT_DOUBLE_EQ(row.last, it->second.last);
    ++it;
  }
}

TEST_F(StoreTest, AppendFlushHistoryRaw) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const SeriesId id = store->series("inverter1", "ac_power", "W");
  const std::int64_t t0 = now_ms() - kHour;
  std::vector<Sample> samples;
  for (int i = 0; i < 100; ++i) samples.push_back({id, t0 + i * 1000, 10.0 * i});
  ASSERT_TRUE(store->append(samples));
  store->flush();

  const auto result = history(*store, {id, t0, t0 + 100'000, 0});
  EXPECT_EQ(result.tier, Tier::kRaw);
  EXPECT_EQ(result.step_ms, 0);
  ASSERT_EQ(result.rows.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(result.rows[i].timestamp_ms, t0 + i * 1000);
    EXPECT_EQ(result.rows[i].last, 10.0 * i);
    EXPECT_EQ(result.rows[i].min, 10.0 * i);
    EXPECT_EQ(result.rows[i].count, 1);
  }
  // to is exclusive, from inclusive.
  EXPECT_EQ(history(*store, {id, t0 + 1000, t0 + 3000, 0}).rows.size(), 2u);
  const auto stats = store->stats();
  EXPECT_EQ(stats.samples_enqueued, 100u);
  EXPECT_EQ(stats.samples_committed, 100u);
  EXPECT_GE(stats.batches_committed, 1u);
  EXPECT_EQ(stats.status, "ok");
  EXPECT_GT(stats.file_bytes, 0u);
  EXPECT_GT(stats.last_commit_ms, 0);
}

TEST_F(StoreTest, RollupsCorrectWithOutOfOrderSamplesAndManyBatches) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const SeriesId a = store->series("meter", "p", "W");
  const SeriesId b = store->series("meter", "q", "var");
  // Three hours of 7-second samples from an hour boundary five hours ago: within every retention.
  const std::int64_t t0 = (now_ms() - 5 * kHour) / kHour * kHour;
  std::vector<Sample> sa, sb;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> dist(-500, 500);
  for (std::int64_t t = t0; t < t0 + 3 * kHour; t += 7000) {
    sa.push_back({a, t, std::round(dist(rng) * 8) / 8});
    sb.push_back({b, t + 3, std::round(dist(rng) * 8) / 8});
  }
  std::vector<Sample> all = sa;
  all.insert(all.end(), sb.begin(), sb.end());
  std::shuffle(all.begin(), all.end(), rng);
  // Several batches, flushed in between, so buckets are combined by the upserts too.
  for (std::size_t i = 0; i < all.size(); i += 211) {
    const std::size_t n = std::min<std::size_t>(211, all.size() - i);
    ASSERT_TRUE(store->append(std::span(all).subspan(i, n)));
    if (i % 5 == 0) store->flush();
  }
  store->flush();

  const std::int64_t from = t0, to = t0 + 3 * kHour;
  {
    const auto r = history(*store, {a, from, to, kMinute});
    EXPECT_EQ(r.tier, Tier::kMinute);
    EXPECT_EQ(r.step_ms, kMinute);
    expect_matches(r, reference(sa, kMinute));
  }
  {
    const auto r = history(*store, {b, from, to, 5 * kMinute});  // 1m tier, 5-minute steps
    EXPECT_EQ(r.tier, Tier::kMinute);
    EXPECT_EQ(r.step_ms, 5 * kMinute);
    expect_matches(r, reference(sb, 5 * kMinute));
  }
  {
    const auto r = history(*store, {a, from, to, kQuarter});
    EXPECT_EQ(r.tier, Tier::kQuarterHour);
    EXPECT_EQ(r.step_ms, kQuarter);
    expect_matches(r, reference(sa, kQuarter));
  }
  {
    const auto r = history(*store, {b, from, to, kHour});  // 15m tier, aggregated to hours
    EXPECT_EQ(r.tier, Tier::kQuarterHour);
    EXPECT_EQ(r.step_ms, kHour);
    expect_matches(r, reference(sb, kHour));
  }
  {
    const auto r = history(*store, {a, from, to, 10'000});  // raw, aggregated to 10 s
    EXPECT_EQ(r.tier, Tier::kRaw);
    EXPECT_EQ(r.step_ms, 10'000);
    expect_matches(r, reference(sa, 10'000));
  }
}

TEST_F(StoreTest, DuplicateSampleIsIgnoredAndNotCountedTwice) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const SeriesId id = store->series("d", "p", "");
  const std::int64_t t = (now_ms() - kHour) / kMinute * kMinute;
  const Sample first[] = {{id, t, 1.0}, {id, t + 1000, 2.0}};
  const Sample dup[] = {{id, t, 99.0}};
  ASSERT_TRUE(store->append(first));
  store->flush();
  ASSERT_TRUE(store->append(dup));
  ASSERT_TRUE(store->append(dup));  // also within one batch
  store->flush();
  const auto raw = history(*store, {id, t, t + kMinute, 0});
  ASSERT_EQ(raw.rows.size(), 2u);
  EXPECT_EQ(raw.rows[0].last, 1.0);  // first write wins
  const auto minute = history(*store, {id, t, t + kMinute, kMinute});
  ASSERT_EQ(minute.rows.size(), 1u);
  EXPECT_EQ(minute.rows[0].count, 2);
  EXPECT_EQ(minute.rows[0].max, 2.0);
}

TEST_F(StoreTest, TierChoiceFollowsStepAndRetention) {
  options_.raw_retention = std::chrono::hours(1);
  options_.rollup_1m_retention = std::chrono::hours(24);
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const std::int64_t now = now_ms();
  EXPECT_EQ(history(*store, {1, now - 10 * kMinute, now, 0}).tier, Tier::kRaw);
  EXPECT_EQ(history(*store, {1, now - 10 * kMinute, now, 59'999}).tier, Tier::kRaw);
  EXPECT_EQ(history(*store, {1, now - 10 * kMinute, now, kMinute}).tier, Tier::kMinute);
  EXPECT_EQ(history(*store, {1, now - 10 * kMinute, now, kQuarter - 1}).tier, Tier::kMinute);
  EXPECT_EQ(history(*store, {1, now - 10 * kMinute, now, kQuarter}).tier, Tier::kQuarterHour);
  // Starts before the raw horizon: 1-minute rows even for a fine step.
  const auto r = history(*store, {1, now - 2 * kHour, now, 0});
  EXPECT_EQ(r.tier, Tier::kMinute);
  EXPECT_EQ(r.step_ms, kMinute);
  // Starts before the 1-minute horizon: 15-minute rows.
  EXPECT_EQ(history(*store, {1, now - 2 * kDay, now, kMinute}).tier, Tier::kQuarterHour);
  // 20 minutes on the 15-minute tier is rounded up to whole buckets.
  EXPECT_EQ(history(*store, {1, now - 2 * kDay, now, 20 * kMinute}).step_ms, 2 * kQuarter);
}

TEST_F(StoreTest, RetentionPerTierWithFixedNow) {
  options_.raw_retention = std::chrono::hours(1);
  options_.rollup_1m_retention = std::chrono::hours(24);
  options_.rollup_15m_retention = std::chrono::hours(24 * 30);
  // A fixed "now" far in the past, so the writer's own retention (system clock) cannot be the one
  // that deletes: data is appended after open, and the periodic pass runs every 10 minutes.
  const std::int64_t now = 1'700'000'000'000 / kQuarter * kQuarter;
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const SeriesId id = store->series("d", "p", "");
  const Sample samples[] = {
      {id, now - 40 * kDay, 1}, {id, now - 10 * kDay, 2}, {id, now - 2 * kHour, 3},
      {id, now - 30 * kMinute, 4}};
  ASSERT_TRUE(store->append(samples));
  store->flush();
  EXPECT_EQ(query_int("SELECT count(*) FROM samples"), 4);
  store->enforce_retention(now);
  EXPECT_EQ(query_int("SELECT count(*) FROM samples"), 1);
  EXPECT_EQ(query_int("SELECT min(ts_ms) FROM samples"), now - 30 * kMinute);
  EXPECT_EQ(query_int("SELECT count(*) FROM rollup_1m"), 2);
  EXPECT_EQ(query_int("SELECT min(bucket_ms) FROM rollup_1m"), now - 2 * kHour);
  EXPECT_EQ(query_int("SELECT count(*) FROM rollup_15m"), 3);
  EXPECT_EQ(query_int("SELECT min(bucket_ms) FROM rollup_15m"), now - 10 * kDay);
}

TEST_F(StoreTest, RetentionDeletesInChunksAcrossManySeries) {
  options_.raw_retention = std::chrono::hours(1);
  const std::int64_t now = 1'700'000'000'000;
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  std::vector<Sample> samples;
  for (SeriesId s = 1; s <= 7; ++s) {
    for (std::int64_t i = 0; i < 30'000; ++i) samples.push_back({s, now - 2 * kHour + i, 1.0});
    samples.push_back({s, now, 2.0});
  }
  ASSERT_TRUE(store->append(samples));
  store->flush();
  store->enforce_retention(now);
  EXPECT_EQ(query_int("SELECT count(*) FROM samples"), 7);
}

TEST_F(StoreTest, DiskBudgetDropsOldestRawFirstAndKeepsQuarterHours) {
  options_.raw_retention = std::chrono::milliseconds(0);
  options_.rollup_1m_retention = std::chrono::milliseconds(0);
  const std::int64_t t0 = (now_ms() - 3 * kDay) / kDay * kDay;
  std::int64_t raw_rows = 0, minute_rows = 0, quarter_rows = 0, used = 0;
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    std::vector<Sample> samples;
    for (SeriesId s = 1; s <= 10; ++s) {
      for (std::int64_t i = 0; i < 20'000; ++i) samples.push_back({s, t0 + i * 10'000, 0.5 * i});
    }
    ASSERT_TRUE(store->append(samples));
    store->flush();
    raw_rows = query_int("SELECT count(*) FROM samples");
    minute_rows = query_int("SELECT count(*) FROM rollup_1m");
    quarter_rows = query_int("SELECT count(*) FROM rollup_15m");
    used = query_int(
        "SELECT (SELECT page_count FROM pragma_page_count) - "
        "(SELECT freelist_count FROM pragma_freelist_count)") *
           4096;
  }
  ASSERT_EQ(raw_rows, 200'000);
  // Half the file: the budget is applied by the writer's first job, which flush() waits for.
  options_.disk_budget_bytes = static_cast<std::uint64_t>(used / 2);
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    store->flush();
    const auto kept_raw = query_int("SELECT count(*) FROM samples");
    EXPECT_GT(kept_raw, 0);
    EXPECT_LT(kept_raw, raw_rows);
    EXPECT_GT(query_int("SELECT min(ts_ms) FROM samples"), t0);
    EXPECT_EQ(query_int("SELECT max(ts_ms) FROM samples"), t0 + 19'999 * 10'000);
    EXPECT_EQ(query_int("SELECT count(*) FROM rollup_1m"), minute_rows);
    EXPECT_EQ(query_int("SELECT count(*) FROM rollup_15m"), quarter_rows);
    EXPECT_LE(query_int("SELECT (SELECT page_count FROM pragma_page_count) - "
                        "(SELECT freelist_count FROM pragma_freelist_count)") * 4096,
              used / 2);
    // incremental_vacuum + checkpoint gave the space back to the file system.
    EXPECT_LE(fs::file_size(options_.path), static_cast<std::uintmax_t>(used / 2 + (1 << 20)));
    // A query of the dropped range now comes from the 1-minute tier.
    EXPECT_EQ(history(*store, {1, t0, t0 + kHour, 0}).tier, Tier::kMinute);
  }
  // A budget nothing fits: raw and 1-minute go, the 15-minute tier stays.
  options_.disk_budget_bytes = 1;
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    store->flush();
    EXPECT_EQ(query_int("SELECT count(*) FROM samples"), 0);
    EXPECT_EQ(query_int("SELECT count(*) FROM rollup_1m"), 0);
    EXPECT_EQ(query_int("SELECT count(*) FROM rollup_15m"), quarter_rows);
  }
}

// Retention at start-up is the writer's first job: open() does not wait for it, flush() does, and
// it runs before anything appended after open() is committed.
TEST_F(StoreTest, StartupRetentionIsTheWritersFirstJob) {
  const std::int64_t now = now_ms();
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    const Sample old[] = {{1, now - 3 * kHour, 1.0}, {1, now - 2 * kHour, 2.0}};
    ASSERT_TRUE(store->append(old));
  }  // the destructor flushes
  options_.raw_retention = std::chrono::hours(1);
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  // Older than raw retention too, but appended after open(): the start-up pass came first.
  const Sample late[] = {{1, now - 90 * kMinute, 3.0}};
  ASSERT_TRUE(store->append(late));
  store->flush();
  EXPECT_EQ(query_int("SELECT count(*) FROM samples"), 1);
  EXPECT_EQ(query_int("SELECT min(ts_ms) FROM samples"), now - 90 * kMinute);
  EXPECT_EQ(store->stats().batches_committed, 1u);
}

TEST_F(StoreTest, StoppedMaintenanceLeavesAResumableStoreAndCommitsEverySample) {
  const std::int64_t now = now_ms();
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    std::vector<Sample> old;
    for (int i = 0; i < 120'000; ++i) old.push_back({1, now - 3 * kHour + i, 1.0});
    ASSERT_TRUE(store->append(old));
  }
  options_.raw_retention = std::chrono::hours(1);
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    store->stop_maintenance();  // as at SIGTERM: the start-up pass ends at its next transaction
    const Sample fresh[] = {{1, now, 7.0}};
    ASSERT_TRUE(store->append(fresh));
    store->flush();
    EXPECT_EQ(query_int("SELECT count(*) FROM samples WHERE ts_ms = " + std::to_string(now)), 1);
    EXPECT_LE(query_int("SELECT count(*) FROM samples"), 120'001);
  }
  // The next start finishes what was left.
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  store->flush();
  EXPECT_EQ(query_int("SELECT count(*) FROM samples"), 1);
}

TEST_F(StoreTest, QueueFullDropsAreCounted) {
  options_.queue_limit_samples = 100;
  options_.commit_interval = std::chrono::hours(1);  // the writer waits for flush()
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const std::int64_t t0 = now_ms() - kHour;
  std::vector<Sample> samples;
  for (int i = 0; i < 60; ++i) samples.push_back({1, t0 + i, 1.0});
  bool called = false;
  EXPECT_TRUE(store->append(samples));
  EXPECT_FALSE(store->append(samples, [&](const Status&) { called = true; }));
  auto stats = store->stats();
  EXPECT_EQ(stats.samples_dropped, 60u);
  EXPECT_EQ(stats.samples_enqueued, 60u);
  EXPECT_EQ(stats.queue_depth, 60u);
  store->flush();
  stats = store->stats();
  EXPECT_EQ(stats.samples_committed, 60u);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_FALSE(called);  // a rejected append never calls back
}

TEST_F(StoreTest, CommitCallbacksReportOutcome) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const std::int64_t t0 = now_ms() - kHour;
  std::atomic<int> ok_calls{0}, failed_calls{0};
  auto cb = [&](const Status& st) { (st.is_ok() ? ok_calls : failed_calls).fetch_add(1); };
  for (int i = 0; i < 10; ++i) {
    const Sample s[] = {{1, t0 + i, 1.0}};
    ASSERT_TRUE(store->append(s, cb));
  }
  store->flush();
  EXPECT_EQ(ok_calls.load(), 10);
  EXPECT_EQ(failed_calls.load(), 0);

  // Fault injection: a trigger makes the insert of value 13 fail, like an I/O error would.
  exec("CREATE TRIGGER fail_13 BEFORE INSERT ON samples WHEN NEW.value = 13 "
       "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  const Sample bad[] = {{1, t0 + 100, 5.0}, {1, t0 + 101, 13.0}};
  ASSERT_TRUE(store->append(bad, cb));
  store->flush();
  EXPECT_EQ(failed_calls.load(), 1);
  EXPECT_NE(store->stats().status.find("injected failure"), std::string::npos);
  // The whole batch was rolled back, rollups included.
  EXPECT_EQ(query_int("SELECT count(*) FROM samples WHERE ts_ms = " + std::to_string(t0 + 100)), 0);
  EXPECT_EQ(query_int("SELECT sum(sample_count) FROM rollup_1m"), 10);

  exec("DROP TRIGGER fail_13");
  const Sample good[] = {{1, t0 + 200, 5.0}};
  ASSERT_TRUE(store->append(good, cb));
  store->flush();
  EXPECT_EQ(ok_calls.load(), 11);
  EXPECT_EQ(store->stats().status, "ok");
}

TEST_F(StoreTest, ReopenKeepsDataAndSchemaVersion) {
  const std::int64_t t0 = now_ms() - kHour;
  SeriesId id = 0;
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    id = store->series("bat", "soc", "%");
    std::vector<Sample> samples;
    for (int i = 0; i < 1000; ++i) samples.push_back({id, t0 + i * 100, i * 0.25});
    ASSERT_TRUE(store->append(samples));
  }  // the destructor flushes
  EXPECT_EQ(query_int("SELECT max(version) FROM schema_version"), 3);
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const auto r = history(*store, {id, t0, t0 + 100'000, 0});
  ASSERT_EQ(r.rows.size(), 1000u);
  EXPECT_EQ(r.rows[999].last, 999 * 0.25);
  EXPECT_EQ(query_int("SELECT count(*) FROM schema_version"), 3);  // no migration ran twice
  EXPECT_EQ(query_int("PRAGMA auto_vacuum"), 2);                    // incremental
  EXPECT_EQ(query_int("PRAGMA application_id"), 0x47524454);
}

TEST_F(StoreTest, DamagedFileIsRefusedWithAWayOut) {
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    std::vector<Sample> samples;
    for (int i = 0; i < 50'000; ++i) samples.push_back({1 + i % 3, 1'700'000'000'000 + i, 1.0 * i});
    ASSERT_TRUE(store->append(samples));
  }
  const auto size = fs::file_size(options_.path);
  ASSERT_GT(size, 64u * 4096);
  {
    std::fstream f(options_.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    const std::string garbage(4096 * 4, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  OpenError error;
  auto store = TelemetryStore::open(options_, &error);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(error.message.find(options_.path.string()), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("damaged"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("mv "), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(".recover"), std::string::npos) << error.message;
}

TEST_F(StoreTest, NonDatabaseFileIsRefused) {
  {
    std::ofstream f(options_.path);
    for (int i = 0; i < 200; ++i) f << "this is a config file, not a database\n";
  }
  OpenError error;
  auto store = TelemetryStore::open(options_, &error);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(error.message.find(options_.path.string()), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("not a SQLite database"), std::string::npos) << error.message;
}

TEST_F(StoreTest, ForeignSqliteDatabaseIsRefused) {
  exec("CREATE TABLE accounts(id INTEGER PRIMARY KEY)");
  OpenError error;
  EXPECT_EQ(TelemetryStore::open(options_, &error), nullptr);
  EXPECT_NE(error.message.find("not a Gridlet telemetry store"), std::string::npos)
      << error.message;
}

TEST_F(StoreTest, SeriesIsIdempotentAndDurable) {
  SeriesId a = 0, b = 0;
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    a = store->series("inv", "p", "W");
    b = store->series("inv", "q", "var");
    EXPECT_GT(a, 0);
    EXPECT_NE(a, b);
    EXPECT_EQ(store->series("inv", "p", "W"), a);
    EXPECT_EQ(store->series("inv", "p", "kW"), a);  // a new unit updates the series
    EXPECT_EQ(store->find_series("inv", "p")->unit, "kW");
  }
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->series("inv", "p", "kW"), a);
  EXPECT_EQ(store->series("inv", "q", "var"), b);
  const auto all = store->list_series();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[0].device, "inv");
  EXPECT_EQ(all[0].unit, "kW");
  EXPECT_FALSE(store->find_series("inv", "nope").has_value());
}

// Telemetry is not for every local user, also where no systemd UMask= narrows the mode.
TEST_F(StoreTest, DatabaseAndItsWalAndShmAreCreatedPrivate) {
  const mode_t old_umask = ::umask(022);
  auto store = open_store();
  ::umask(old_umask);
  ASSERT_NE(store, nullptr);
  const SeriesId id = store->series("inv", "p", "W");
  const Sample s[] = {{id, now_ms(), 1.0}};
  ASSERT_TRUE(store->append(s));
  store->flush();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path p = options_.path.string() + suffix;
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
  }
}

// SQLite answers SQLITE_FULL when the page limit is reached, exactly as on a full disk.
TEST_F(StoreTest, OpeningOnAFullDiskSaysNoSpace) {
  options_.test_max_page_count = 2;  // not even room for the schema
  OpenError error;
  EXPECT_EQ(TelemetryStore::open(options_, &error), nullptr);
  EXPECT_NE(error.message.find("no space left for telemetry store"), std::string::npos)
      << error.message;
  EXPECT_EQ(error.message.find("cannot read"), std::string::npos) << error.message;
}

TEST_F(StoreTest, ABatchOnAFullDiskFailsWithNoSpace) {
  options_.test_max_page_count = 40;  // room for the schema and a little more
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  std::vector<NamedSample> samples;
  const std::int64_t t0 = now_ms() - kHour;
  for (int i = 0; i < 20000; ++i) samples.push_back({"inv", "W", "W", t0 + i, 1.0 * i});
  std::atomic<int> no_space{0};
  ASSERT_TRUE(store->append(std::span<const NamedSample>(samples), [&](const Status& st) {
    if (st.code() == StatusCode::kNoSpace) no_space.fetch_add(1);
  }));
  store->flush();
  EXPECT_EQ(no_space.load(), 1);
  const auto stats = store->stats();
  EXPECT_EQ(stats.status_code, StatusCode::kNoSpace);
  EXPECT_EQ(stats.status.rfind("no space: ", 0), 0u) << stats.status;
  EXPECT_EQ(stats.samples_failed, 20000u);
  EXPECT_EQ(stats.batches_failed, 1u);
}

// A query that cannot run says so; it never looks like a range without data.
TEST_F(StoreTest, AFailedHistoryQueryReturnsItsStatus) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const SeriesId id = store->series("inv", "W", "W");
  ASSERT_NE(id, 0);
  const std::int64_t t0 = now_ms() - kHour;
  EXPECT_TRUE(store->history({id, t0, t0 + kMinute, 0}).is_ok());
  exec("DROP TABLE samples");  // a damaged schema, as a broken file would give
  const auto result = store->history({id, t0, t0 + kMinute, 0});
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.status().message().find("samples"), std::string::npos)
      << result.status().to_string();
}

// Samples named by device and point register their series in the writer's own transaction.
TEST_F(StoreTest, NamedSamplesRegisterTheirSeriesOnTheWriter) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const std::int64_t t0 = now_ms() - kHour;
  const NamedSample samples[] = {{"inv", "W", "W", t0, 1.0}, {"inv", "W", "W", t0 + 1, 2.0},
                                 {"inv", "Hz", "Hz", t0, 50.0}};
  std::atomic<bool> committed{false};
  ASSERT_TRUE(store->append(std::span<const NamedSample>(samples),
                            [&](const Status& st) { committed = st.is_ok(); }));
  store->flush();
  EXPECT_TRUE(committed.load());
  const SeriesId w = store->cached_series("inv", "W", "W");
  ASSERT_NE(w, 0);
  EXPECT_NE(store->cached_series("inv", "Hz", "Hz"), 0);
  EXPECT_EQ(history(*store, {w, t0, t0 + kMinute, 0}).rows.size(), 2u);
  // A new unit updates the series, as series() does.
  const NamedSample kw[] = {{"inv", "W", "kW", t0 + 2, 0.003}};
  ASSERT_TRUE(store->append(std::span<const NamedSample>(kw)));
  store->flush();
  EXPECT_EQ(store->find_series("inv", "W")->unit, "kW");
  EXPECT_EQ(store->find_series("inv", "W")->id, w);
  EXPECT_EQ(store->stats().series, 2u);
}

// One writer for the whole file: samples, new series and the event and audit logs are all
// committed on the store's writer thread, never on the caller's.
TEST_F(StoreTest, SamplesSeriesAndLogsShareTheOneWriterThread) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  OpenError error;
  auto log = EventLog::open(*store, 100, &error);
  ASSERT_NE(log, nullptr) << error.message;
  std::mutex mu;
  std::set<std::thread::id> writers;
  auto note = [&] {
    std::lock_guard lock(mu);
    writers.insert(std::this_thread::get_id());
  };
  const NamedSample s[] = {{"inv", "W", "W", now_ms(), 1.0}};
  ASSERT_TRUE(store->append(std::span<const NamedSample>(s), [&](const Status& st) {
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    note();
  }));
  AuditRecord a;
  a.timestamp_ms = now_ms();
  a.device = "inv";
  a.point = "WMaxLimPct";
  a.action = "set";
  a.outcome = "applied";
  log->append(a, std::nullopt, [&](bool ok) {
    EXPECT_TRUE(ok);
    note();
  });
  EXPECT_TRUE(log->flush());
  store->flush();
  ASSERT_EQ(writers.size(), 1u);
  EXPECT_NE(*writers.begin(), std::this_thread::get_id());
  const auto rows = log->audit({});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows.value()[0].point, "WMaxLimPct");
  EXPECT_NE(store->cached_series("inv", "W", "W"), 0);
}

// An audit record the database refuses (a trigger stands in for an I/O error) on every try.
AuditRecord audit_of(const std::string& point) {
  AuditRecord a;
  a.timestamp_ms = now_ms();
  a.device = "inv";
  a.point = point;
  a.action = "set";
  a.outcome = "applied";
  return a;
}
constexpr const char* kRefuseBadAudit =
    "CREATE TRIGGER refuse_bad BEFORE INSERT ON audit WHEN NEW.point = 'bad' "
    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;";

// A log batch that cannot be written is retried on later writer passes, never by pausing the
// writer: samples appended meanwhile commit at once. Its records are then reported failed, and
// the records appended after it are written after it.
TEST_F(StoreTest, AFailedLogBatchIsRetriedLaterWithoutHoldingUpSamples) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  OpenError error;
  auto log = EventLog::open(*store, 100, &error);
  ASSERT_NE(log, nullptr) << error.message;
  exec(kRefuseBadAudit);
  std::mutex mu;
  std::vector<std::string> outcomes;  // in the order the writer reported them
  auto note = [&](const std::string& what) {
    std::lock_guard lock(mu);
    outcomes.push_back(what);
  };
  log->append(audit_of("bad"), std::nullopt, [&](bool ok) { note(ok ? "bad ok" : "bad failed"); });
  store->flush();  // the writer pass that ran the log's first (failed) try is over
  const Sample s[] = {{1, now_ms(), 1.0}};
  ASSERT_TRUE(store->append(s, [&](const Status& st) { note(st.is_ok() ? "samples ok" : "samples failed"); }));
  store->flush();
  {
    // The log waits 100 + 200 + 400 + 800 ms for its retries; the samples did not.
    std::lock_guard lock(mu);
    EXPECT_EQ(outcomes, std::vector<std::string>{"samples ok"});
  }
  const std::uint64_t before_good = log->appended();
  log->append(audit_of("good"), std::nullopt, [&](bool ok) { note(ok ? "good ok" : "good failed"); });
  EXPECT_TRUE(log->flush(before_good));  // "good" was written (after "bad" was given up)
  EXPECT_FALSE(log->flush());            // "bad" was not
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(outcomes, (std::vector<std::string>{"samples ok", "bad failed", "good ok"}));
  }
  const auto rows = log->audit({});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows.value()[0].point, "good");
}

// A log batch whose write fails only for a while is written by a later retry.
TEST_F(StoreTest, AFailedLogBatchIsWrittenByALaterRetry) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  OpenError error;
  auto log = EventLog::open(*store, 100, &error);
  ASSERT_NE(log, nullptr) << error.message;
  exec(kRefuseBadAudit);
  std::atomic<int> calls{0};
  std::atomic<bool> committed{false};
  log->append(audit_of("bad"), std::nullopt, [&](bool ok) {
    committed = ok;
    calls.fetch_add(1);
  });
  store->flush();  // the first try failed; the retries come 100 ms and more later
  EXPECT_EQ(calls.load(), 0);
  exec("DROP TRIGGER refuse_bad");
  EXPECT_TRUE(log->flush());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(committed.load());
  const auto rows = log->audit({});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows.value()[0].point, "bad");
}

TEST_F(StoreTest, StatsCountSamplesBatchesAndSeries) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const NamedSample s[] = {{"inv", "W", "W", now_ms(), 1.0}, {"inv", "W", "W", now_ms() + 1, 2.0}};
  ASSERT_TRUE(store->append(std::span<const NamedSample>(s)));
  store->flush();
  const auto stats = store->stats();
  EXPECT_EQ(stats.samples_enqueued, 2u);
  EXPECT_EQ(stats.samples_committed, 2u);
  EXPECT_EQ(stats.batches_committed, 1u);
  EXPECT_EQ(stats.samples_failed, 0u);
  EXPECT_EQ(stats.batches_failed, 0u);
  EXPECT_EQ(stats.series, 1u);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_GT(stats.file_bytes, 0u);
  EXPECT_GT(stats.commit_seconds_total, 0.0);
  EXPECT_EQ(stats.status, "ok");
}

}  // namespace
}  // namespace gridlet::store
