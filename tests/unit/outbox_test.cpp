// The MQTT outbox against a real SQLite file: order, acknowledgement, the size budget, and what a
// restart finds.
#include "gateway/store/outbox.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace gridlet::store {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("gridlet_outbox_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.path = dir_ / "telemetry.db";
    options_.commit_interval = std::chrono::milliseconds(50);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void open(std::uint64_t budget = 1 << 20) {
    OpenError error;
    store_ = TelemetryStore::open(options_, &error);
    ASSERT_NE(store_, nullptr) << error.message;
    outbox_ = Outbox::open(*store_, budget, &error);
    ASSERT_NE(outbox_, nullptr) << error.message;
  }
  void close() {
    outbox_.reset();
    store_.reset();
  }
  std::uint64_t push(const std::string& body) {
    return outbox_->push("gridlet/site/events", [&](std::uint64_t seq) { return body + "#" + std::to_string(seq); },
                         1, false, 1000);
  }
  std::int64_t rows() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(options_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      n = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  }

  fs::path dir_;
  StoreOptions options_;
  std::unique_ptr<TelemetryStore> store_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, HandsOutMessagesInOrderAndForgetsDeliveredOnes) {
  open();
  const auto a = push("a");
  const auto b = push("b");
  const auto c = push("c");
  EXPECT_EQ(a, 1u);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  auto first = outbox_->take(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].seq, a);
  EXPECT_EQ(first[0].payload, "a#" + std::to_string(a));
  EXPECT_EQ(first[1].seq, b);
  EXPECT_EQ(outbox_->in_flight(), 2u);
  auto second = outbox_->take(10);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].seq, c);
  outbox_->delivered(a);
  outbox_->delivered(a);  // a duplicate acknowledgement changes nothing
  // The connection went away: b and c go out again, first and in order.
  outbox_->requeue();
  const auto again = outbox_->take(10);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].seq, b);
  EXPECT_EQ(again[1].seq, c);
  const auto s = outbox_->stats();
  EXPECT_EQ(s.enqueued, 3u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.pending, 2u);
}

TEST_F(OutboxTest, AMessageAcknowledgedAtOnceNeverReachesTheDisk) {
  open();
  for (int i = 0; i < 100; ++i) {
    push("x");
    for (const auto& m : outbox_->take(10)) outbox_->delivered(m.seq);
  }
  ASSERT_TRUE(outbox_->flush());
  EXPECT_EQ(outbox_->stats().rows_written, 0u);
  EXPECT_EQ(rows(), 0);
}

TEST_F(OutboxTest, WaitingMessagesSurviveARestartInOrderAndNumbersNeverRepeat) {
  open();
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 50; ++i) seqs.push_back(push("m" + std::to_string(i)));
  // Two are delivered after they were written: their rows go.
  ASSERT_TRUE(outbox_->flush());
  EXPECT_EQ(rows(), 50);
  for (const auto& m : outbox_->take(2)) outbox_->delivered(m.seq);
  ASSERT_TRUE(outbox_->flush());
  EXPECT_EQ(rows(), 48);
  // Handed out and delivered at once, never written: its number must not come back either.
  const auto unwritten = push("gone");
  close();

  open();
  EXPECT_EQ(outbox_->stats().loaded, 49u);
  const auto left = outbox_->take(100);
  ASSERT_EQ(left.size(), 49u);
  for (std::size_t i = 0; i < 48; ++i) {
    EXPECT_EQ(left[i].seq, seqs[i + 2]);
    EXPECT_EQ(left[i].payload, "m" + std::to_string(i + 2) + "#" + std::to_string(seqs[i + 2]));
    EXPECT_EQ(left[i].topic, "gridlet/site/events");
  }
  EXPECT_EQ(left[48].seq, unwritten);
  const auto next = push("after restart");
  EXPECT_GT(next, unwritten + Outbox::kRestartGap - 1);
}

TEST_F(OutboxTest, TheBudgetDropsTheOldestWaitingMessagesNotThoseInFlight) {
  open(/*budget=*/64 * 1024);
  const std::string body(1000, 'p');
  const auto first = push(body);
  ASSERT_EQ(outbox_->take(1).size(), 1u);  // in flight: kept
  for (int i = 0; i < 200; ++i) push(body);
  const auto s = outbox_->stats();
  EXPECT_LE(s.pending_bytes, 64u * 1024);
  EXPECT_GT(s.dropped, 130u);
  EXPECT_EQ(s.dropped + s.pending, 201u);
  outbox_->requeue();
  const auto left = outbox_->take(1000);
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.front().seq, first);
  // The survivors are the newest, still in order.
  for (std::size_t i = 2; i < left.size(); ++i) EXPECT_EQ(left[i].seq, left[i - 1].seq + 1);
  EXPECT_EQ(left.back().seq, first + 200);
  ASSERT_TRUE(outbox_->flush());
  EXPECT_EQ(rows(), static_cast<std::int64_t>(left.size()));
}

}  // namespace
}  // namespace gridlet::store
