// The setpoint state machine step by step on a manual clock: hold, keep-alive, retry, re-assert
// after silence, expiry, release and its retries, heartbeats. No device, no bus, no sleeping.
#include "adapters/setpoint_holder.hpp"

#include <gtest/gtest.h>

namespace gridlet::adapters {
namespace {

using namespace std::chrono_literals;

ControlEvent outcome(ControlOutcome o, const ManualClock& clock, std::optional<double> value = std::nullopt) {
  ControlEvent ev;
  ev.outcome = o;
  ev.value = value;
  ev.timestamp_ms = clock.now_ms();
  ev.actor = "manager:alice";
  ev.reason = "peak";
  return ev;
}

SetpointCommand command(double value, std::int64_t until_ms = 0) {
  return SetpointCommand{"limit", value, "manager:alice", "peak", until_ms};
}

struct HolderTest : ::testing::Test {
  ManualClock clock;
  SetpointHolderSettings settings{5000ms, 0ms, 500ms};
  SetpointHolder holder{settings, clock};
};

TEST_F(HolderTest, AnAppliedSetpointIsKeptAliveBeforeTheRevertTimer) {
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 3000ms);
  ASSERT_TRUE(holder.holding("limit"));
  EXPECT_TRUE(holder.due().empty());
  clock.advance(2400ms);
  EXPECT_TRUE(holder.due().empty());
  clock.advance(100ms);  // 500 ms early: due
  auto due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kKeepAlive);
  EXPECT_EQ(due[0].value, 40.0);
  EXPECT_EQ(due[0].actor, "manager:alice");
  holder.on_written(due[0], outcome(ControlOutcome::kApplied, clock, 40.0));
  EXPECT_TRUE(holder.due().empty());
  clock.advance(2500ms);
  EXPECT_EQ(holder.due().size(), 1u);
}

TEST_F(HolderTest, WithoutARevertTimerNothingIsRewritten) {
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 0ms);
  clock.advance(24h);
  EXPECT_TRUE(holder.due().empty());
  EXPECT_EQ(holder.held()[0].keepalive_ms, 0);
}

TEST_F(HolderTest, RejectedRefusedOrIgnoredCommandsChangeNothing) {
  for (auto o : {ControlOutcome::kRejected, ControlOutcome::kRefused, ControlOutcome::kMismatch}) {
    holder.on_set(command(40), outcome(o, clock), 3000ms);
    EXPECT_FALSE(holder.holding("limit")) << to_string(o);
  }
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 3000ms);
  holder.on_set(command(20), outcome(ControlOutcome::kMismatch, clock), 3000ms);
  EXPECT_EQ(holder.held()[0].value, 40.0) << "the device still holds what it took before";
}

TEST_F(HolderTest, ACommandTheDeviceDidNotAnswerIsHeldAndRetried) {
  holder.on_set(command(40), outcome(ControlOutcome::kFailed, clock), 3000ms);
  ASSERT_TRUE(holder.holding("limit"));
  clock.advance(4499ms);
  EXPECT_TRUE(holder.due().empty());
  clock.advance(1ms);
  auto due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kReassert);
  EXPECT_EQ(due[0].value, 40.0);
}

TEST_F(HolderTest, AnsweringAfterSilenceReassertsEverythingAtOnce) {
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 0ms);
  holder.on_contact(true);
  EXPECT_TRUE(holder.due().empty()) << "no silence, nothing to re-assert";
  holder.on_contact(false);
  holder.on_contact(false);
  EXPECT_TRUE(holder.due().empty()) << "silent: nothing reaches it anyway";
  holder.on_contact(true);
  auto due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kReassert);
  EXPECT_TRUE(holder.due().empty()) << "once";
}

TEST_F(HolderTest, ASetpointWithAnEndIsReleasedThen) {
  holder.on_set(command(40, clock.now_ms() + 10000), outcome(ControlOutcome::kApplied, clock, 40.0), 0ms);
  clock.advance(9999ms);
  EXPECT_TRUE(holder.due().empty());
  clock.advance(1ms);
  auto due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kRelease);
  EXPECT_FALSE(due[0].value);
  EXPECT_EQ(due[0].reason, "the setpoint's time ended");
  holder.on_written(due[0], outcome(ControlOutcome::kApplied, clock));
  EXPECT_FALSE(holder.holding("limit"));
}

TEST(SetpointHolderExpiry, AWallClockStepNeitherEndsASetpointEarlyNorHoldsItForever) {
  // The holder runs on a monotonic clock; the command's end is Unix time from the API. The
  // system clock jumps a day ahead (NTP on a Pi without a real-time clock) right after the set.
  ManualClock monotonic;
  SetpointHolder holder({5000ms, 0ms, 500ms}, monotonic);
  const std::int64_t wall_now = 1'800'000'000'000;  // not the monotonic clock's reading
  ControlEvent ev;
  ev.outcome = ControlOutcome::kApplied;
  ev.value = 40.0;
  ev.timestamp_ms = wall_now;
  holder.on_set({"limit", 40, "manager:alice", "peak", wall_now + 10'000}, ev, 0ms);
  monotonic.advance(9999ms);
  EXPECT_TRUE(holder.due().empty());
  monotonic.advance(1ms);
  ASSERT_EQ(holder.due().size(), 1u);
}

TEST_F(HolderTest, AReleaseTheDeviceMissesIsRetriedUntilItTakesIt) {
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 0ms);
  holder.on_release("limit", outcome(ControlOutcome::kFailed, clock));
  ASSERT_TRUE(holder.holding("limit"));
  EXPECT_TRUE(holder.held()[0].releasing);
  EXPECT_TRUE(holder.due().empty());
  clock.advance(5000ms);
  auto due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kRelease);
  holder.on_written(due[0], outcome(ControlOutcome::kFailed, clock));
  EXPECT_TRUE(holder.holding("limit"));
  // The device comes back: the release goes at once, not after the retry pause.
  holder.on_contact(false);
  holder.on_contact(true);
  due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kRelease);
  holder.on_written(due[0], outcome(ControlOutcome::kApplied, clock));
  EXPECT_FALSE(holder.holding("limit"));
}

TEST_F(HolderTest, AKeepAliveThatCanNeverBeWrittenStopsHolding) {
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 3000ms);
  clock.advance(3000ms);
  auto due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  holder.on_written(due[0], outcome(ControlOutcome::kRejected, clock));
  EXPECT_FALSE(holder.holding("limit"));
}

TEST_F(HolderTest, AMismatchedKeepAliveIsRetriedAsAReassertion) {
  holder.on_set(command(40), outcome(ControlOutcome::kApplied, clock, 40.0), 3000ms);
  clock.advance(3000ms);
  auto due = holder.due();
  holder.on_written(due[0], outcome(ControlOutcome::kMismatch, clock));
  EXPECT_EQ(holder.held()[0].last_outcome, ControlOutcome::kMismatch);
  clock.advance(5000ms);
  due = holder.due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, ControlAction::kReassert);
}

TEST(SetpointHolderHeartbeat, BeatsOnItsPeriodWithAGrowingCounter) {
  ManualClock clock;
  SetpointHolder holder({5000ms, 10000ms, 500ms}, clock);
  EXPECT_EQ(holder.heartbeat_due(), 1u);
  EXPECT_FALSE(holder.heartbeat_due());
  clock.advance(9999ms);
  EXPECT_FALSE(holder.heartbeat_due());
  clock.advance(1ms);
  EXPECT_EQ(holder.heartbeat_due(), 2u);
  SetpointHolder off({5000ms, 0ms, 500ms}, clock);
  EXPECT_FALSE(off.heartbeat_due());
}

}  // namespace
}  // namespace gridlet::adapters
