#include "gateway/runtime/scheduler.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace gridlet::runtime {
namespace {

using adapters::ManualClock;
using adapters::MonotonicClock;
using namespace std::chrono_literals;

TEST(Scheduler, PeriodicTaskRunsOnItsGrid) {
  ManualClock clock;
  Scheduler s(clock);
  int runs = 0;
  s.every(1000ms, [&] { ++runs; }, "tick");
  EXPECT_EQ(s.run_due(), 0u);
  clock.advance(999ms);
  EXPECT_EQ(s.run_due(), 0u);
  clock.advance(1ms);
  EXPECT_EQ(s.run_due(), 1u);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(*s.next_due(), clock.now() + 1000ms);
}

TEST(Scheduler, StalledLoopRunsOnceThenRealigns) {
  ManualClock clock;
  const auto start = clock.now();
  Scheduler s(clock);
  int runs = 0;
  s.every(1000ms, [&] { ++runs; }, "tick");
  clock.advance(5500ms);  // the loop was stuck for 5.5 periods
  EXPECT_EQ(s.run_due(), 1u);  // no burst of five
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(*s.next_due(), start + 6000ms);  // back on the grid, no drift
}

TEST(Scheduler, OneShotOrderAndTiesAreDeterministic) {
  ManualClock clock;
  Scheduler s(clock);
  std::vector<int> order;
  s.after(20ms, [&] { order.push_back(3); }, "c");
  s.after(10ms, [&] { order.push_back(1); }, "a");
  s.after(10ms, [&] { order.push_back(2); }, "b");  // same due time: creation order
  clock.advance(20ms);
  EXPECT_EQ(s.run_due(), 3u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.next_due());
}

TEST(Scheduler, CancelFromInsideATask) {
  ManualClock clock;
  Scheduler s(clock);
  int b_runs = 0;
  Scheduler::TaskId b = 0;
  s.after(10ms, [&] { s.cancel(b); }, "a");
  b = s.after(10ms, [&] { ++b_runs; }, "b");
  clock.advance(10ms);
  s.run_due();
  EXPECT_EQ(b_runs, 0);
  s.cancel(12345);  // unknown: no-op
}

TEST(Scheduler, TaskAddedWhileRunningWaitsForItsTime) {
  ManualClock clock;
  Scheduler s(clock);
  int inner = 0;
  s.after(0ms, [&] { s.after(5ms, [&] { ++inner; }, "inner"); }, "outer");
  EXPECT_EQ(s.run_due(), 1u);
  EXPECT_EQ(inner, 0);
  clock.advance(5ms);
  EXPECT_EQ(s.run_due(), 1u);
  EXPECT_EQ(inner, 1);
}

TEST(Scheduler, CancelPeriodic) {
  ManualClock clock;
  Scheduler s(clock);
  int runs = 0;
  auto id = s.every(10ms, [&] { ++runs; }, "t");
  clock.advance(10ms);
  s.run_due();
  s.cancel(id);
  clock.advance(100ms);
  EXPECT_EQ(s.run_due(), 0u);
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace gridlet::runtime

namespace gridlet::runtime {
namespace {

TEST(Scheduler, WallClockStepBackDelaysTasksSoTheDaemonUsesAMonotonicClock) {
  ManualClock clock;
  Scheduler s(clock);
  int runs = 0;
  s.every(std::chrono::milliseconds(1000), [&] { ++runs; }, "watchdog");
  clock.advance(std::chrono::milliseconds(-60000));  // NTP steps the wall clock back a minute
  clock.advance(std::chrono::milliseconds(1000));
  EXPECT_EQ(s.run_due(), 0u) << "on a stepped wall clock the task would wait a minute";
}

TEST(MonotonicClock, NeverGoesBackwardsAndStartsAtWallTime) {
  MonotonicClock clock;
  const auto wall = std::chrono::system_clock::now();
  auto prev = clock.now();
  EXPECT_LT(std::chrono::abs(prev - wall), std::chrono::seconds(1));
  for (int i = 0; i < 100000; ++i) {
    const auto t = clock.now();
    ASSERT_GE(t, prev);
    prev = t;
  }
}

}  // namespace
}  // namespace gridlet::runtime
