// The bus on an in-memory line: one queue with priorities, writes between the requests of a task,
// probes of silent units with short timeouts, late replies charged to the late unit, shutdown
// that interrupts the line. And the unit policy, step by step, on explicit times.
#include <gtest/gtest.h>

#include <optional>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/unit_policy.hpp"
#include "tests/unit/fake_transport.hpp"

namespace gridlet::adapters::modbus {
namespace {

using namespace std::chrono_literals;
using gridlet::testing::FakeTransport;
using TimePoint = UnitPolicy::TimePoint;

// ---- The unit policy ---------------------------------------------------------------------------

TEST(UnitPolicy, AnUnknownUnitIsProbedWithTheShortTimeoutWhateverTheConfiguredOne) {
  UnitPolicySettings s;
  s.timeout = 30s;
  s.timeout_ceiling = 30s;
  s.probe_timeout = 500ms;
  UnitPolicy p(s);
  EXPECT_EQ(p.state(), UnitPolicy::State::kUnknown);
  EXPECT_TRUE(p.probing());
  EXPECT_EQ(p.timeout(), 500ms);
  p.on_answer(20ms);
  EXPECT_EQ(p.state(), UnitPolicy::State::kOnline);
  EXPECT_EQ(p.timeout(), 100ms);  // 20 + 4 x 10 ms, raised to the floor
}

TEST(UnitPolicy, ThreeFailuresTakeAUnitOfflineAndItsBackoffDoublesPerFailedProbe) {
  UnitPolicySettings s;
  s.backoff_initial = 2s;
  s.backoff_max = 10s;
  UnitPolicy p(s);
  const TimePoint t0{};
  p.on_answer(10ms);
  p.on_silence(Outcome::kTimeout, t0);
  p.on_silence(Outcome::kTimeout, t0);
  EXPECT_EQ(p.state(), UnitPolicy::State::kOnline);  // two failures: still online
  EXPECT_EQ(p.timeout(), 400ms);                      // doubled twice from the 100 ms floor
  p.on_silence(Outcome::kTimeout, t0);
  EXPECT_EQ(p.state(), UnitPolicy::State::kOffline);
  EXPECT_FALSE(p.may_send(t0 + 1999ms));
  EXPECT_TRUE(p.may_send(t0 + 2s));
  EXPECT_LE(p.timeout(), s.probe_timeout);
  p.on_silence(Outcome::kTimeout, t0 + 2s);  // the probe failed
  EXPECT_EQ(p.backoff(), 4s);
  p.on_silence(Outcome::kTimeout, t0 + 6s);
  p.on_silence(Outcome::kTimeout, t0 + 14s);
  EXPECT_EQ(p.backoff(), 10s);  // capped
  p.on_answer(10ms);
  EXPECT_EQ(p.state(), UnitPolicy::State::kOnline);
  EXPECT_EQ(p.backoff(), 0ms);
  EXPECT_TRUE(p.may_send(t0 + 14s));
}

TEST(UnitPolicy, AUnitHeardBeforeIsProbedWithTheTimeoutItsLatencyEarned) {
  UnitPolicySettings s;
  s.timeout = 5s;
  s.timeout_ceiling = 5s;
  s.probe_timeout = 500ms;
  UnitPolicy p(s);
  p.on_answer(700ms);  // a slow device: 700 + 4 x 350 ms
  EXPECT_EQ(p.timeout(), 2100ms);
  for (int i = 0; i < 3; ++i) p.on_silence(Outcome::kTimeout, TimePoint{});
  ASSERT_EQ(p.state(), UnitPolicy::State::kOffline);
  EXPECT_EQ(p.timeout(), 2100ms) << "neither the short probe (it would never answer in time) nor the doubled timeout";
}

TEST(UnitPolicy, TimeoutsDoubleUpToTheCeilingAndAnswersBringThemBack) {
  UnitPolicySettings s;
  s.timeout_ceiling = 1000ms;
  UnitPolicy p(s);
  p.on_answer(300ms);
  EXPECT_EQ(p.timeout(), 900ms);
  p.on_silence(Outcome::kTimeout, TimePoint{});
  EXPECT_EQ(p.timeout(), 1000ms);
  for (int i = 0; i < 20; ++i) p.on_answer(300ms);
  EXPECT_LT(p.timeout(), 900ms);
}

// The most line time one silent unit takes in any `window` of an hour, asked as often as
// its policy lets it (a poller that never gives up), every request waiting out its timeout.
// `latency`: how fast it answered before falling silent (nullopt: it never answered).
std::chrono::milliseconds worst_window_of_a_silent_unit(const UnitPolicySettings& s,
                                                        std::optional<std::chrono::milliseconds> latency,
                                                        std::chrono::milliseconds window) {
  UnitPolicy p(s);
  TimePoint now{};
  if (latency) {
    for (int i = 0; i < 8; ++i) p.on_answer(*latency);
  }
  std::vector<std::pair<TimePoint, TimePoint>> busy;  // the line held, [from, to)
  while (now < TimePoint{} + 1h) {
    if (!p.may_send(now)) {
      now = p.send_after();
      continue;
    }
    const auto d = p.timeout();
    busy.emplace_back(now, now + d);
    now += d;
    p.on_silence(Outcome::kTimeout, now);
  }
  std::chrono::milliseconds worst{0};
  for (std::size_t i = 0; i < busy.size(); ++i) {  // windows starting where the line was taken
    const TimePoint end = busy[i].first + window;
    std::chrono::milliseconds held{0};
    for (std::size_t j = i; j < busy.size() && busy[j].first < end; ++j) {
      held += std::chrono::duration_cast<std::chrono::milliseconds>(std::min(busy[j].second, end) - busy[j].first);
    }
    worst = std::max(worst, held);
  }
  return worst;
}

TEST(UnitPolicy, ASilentUnitHoldsAtMostAFifthOfTheLineAtEveryAllowedTimeout) {
  // buses.timeout from its minimum to its maximum (config: 50 ms .. 30 s), the other settings at
  // their defaults (probe_timeout 500 ms, capped at the timeout).
  for (const auto timeout : {50ms, 100ms, 300ms, 1000ms, 2000ms, 5000ms, 10000ms, 30000ms}) {
    UnitPolicySettings s;
    s.timeout = timeout;
    s.timeout_ceiling = timeout;
    s.timeout_floor = std::min(s.timeout_floor, timeout);
    s.probe_timeout = std::min(s.probe_timeout, timeout);
    // Never answered; answered fast before; answered as slowly as the timeout allows.
    for (const auto latency : std::vector<std::optional<std::chrono::milliseconds>>{
             std::nullopt, 20ms, timeout / 2, timeout}) {
      // A unit that never answered, or answered fast, takes at most a fifth of any minute. One
      // that earned a long timeout by answering slowly holds the line that long per request: a
      // fifth of any window of a minute or ten of its timeouts, plus the one request that the
      // window cuts.
      const bool fast = !latency || *latency <= 100ms;
      const std::chrono::milliseconds window = fast ? 60s : std::max<std::chrono::milliseconds>(60s, 10 * timeout);
      const auto held = worst_window_of_a_silent_unit(s, latency, window);
      EXPECT_LE(held, window / 5 + (fast ? 0ms : timeout))
          << "buses.timeout " << timeout.count() << " ms, latency "
          << (latency ? std::to_string(latency->count()) + " ms" : "never answered") << ", window "
          << window.count() << " ms";
    }
  }
}

TEST(UnitPolicy, TheQuietPeriodHoldsBackPollsNotWritesAndChargesWhatTheLineCost) {
  UnitPolicySettings s;
  s.timeout = 5s;
  s.timeout_ceiling = 5s;
  const TimePoint t0{};
  // A slow unit times out once: it stays online, its polls wait 4 x 5 s, its writes do not.
  UnitPolicy slow(s);
  slow.on_answer(2000ms);
  ASSERT_EQ(slow.timeout(), 5s);
  slow.on_silence(Outcome::kTimeout, t0, 5s);
  EXPECT_EQ(slow.state(), UnitPolicy::State::kOnline);
  EXPECT_FALSE(slow.may_send(t0 + 19s));
  EXPECT_TRUE(slow.may_send(t0 + 19s, /*urgent=*/true));
  EXPECT_TRUE(slow.may_send(t0 + 20s));
  // A garbled reply that came back in 3 ms is charged 3 ms, not the timeout.
  UnitPolicy noisy(s);
  noisy.on_answer(20ms);
  noisy.on_silence(Outcome::kMalformed, t0, 3ms);
  EXPECT_FALSE(noisy.may_send(t0 + 11ms));
  EXPECT_TRUE(noisy.may_send(t0 + 12ms));
  // An answer ends the quiet period at once.
  slow.on_answer(2000ms);
  EXPECT_TRUE(slow.may_send(t0 + 1ms));
}

TEST(Answered, OneRuleForEveryCaller) {
  EXPECT_TRUE(answered(Outcome::kOk, 0));
  EXPECT_TRUE(answered(Outcome::kException, 2));   // the unit's own exception
  EXPECT_FALSE(answered(Outcome::kException, 10));  // a gateway's: path unavailable
  EXPECT_FALSE(answered(Outcome::kException, 11));  // a gateway's: target did not respond
  EXPECT_FALSE(answered(Outcome::kTimeout, 0));
  EXPECT_FALSE(answered(Outcome::kMalformed, 0));
  EXPECT_FALSE(answered(Outcome::kIoError, 0));
  EXPECT_FALSE(answered(Outcome::kOffline, 0));
}

// ---- The bus on a fake line ----------------------------------------------------------------------

struct Rig {
  explicit Rig(BusSettings s = {}) {
    auto t = std::make_unique<FakeTransport>();
    line = t.get();
    s.id = "fake";
    bus = std::make_unique<Bus>(s, std::move(t));
  }
  FakeTransport* line;
  std::unique_ptr<Bus> bus;
};

Request read(std::uint8_t unit, std::uint16_t address) {
  Request r;
  r.unit = unit;
  r.address = address;
  r.count = 1;
  return r;
}

Request write(std::uint8_t unit, std::uint16_t address) {
  Request r;
  r.op = Request::Op::kWriteRegisters;
  r.unit = unit;
  r.address = address;
  r.values = {1};
  return r;
}

// Counts callbacks; wait() blocks (bounded) until `n` arrived.
class Latch {
 public:
  void hit() {
    std::lock_guard lock(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool wait(int n, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return n_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

std::vector<std::uint16_t> addresses(const std::vector<FakeTransport::Exchange>& log) {
  std::vector<std::uint16_t> out;
  for (const auto& e : log) out.push_back(e.address);
  return out;
}

TEST(Bus, AWriteWaitsOnlyForTheOneRequestOnTheLineNotForTheRestOfAPoll) {
  Rig rig;
  rig.line->hold_exchange(0);
  Latch done;
  // A poll of five requests (a device's fast class).
  rig.bus->post(Priority::kFast, [&] {
    for (std::uint16_t a = 100; a < 105; ++a) rig.bus->execute_now(read(1, a));
    done.hit();
  });
  ASSERT_TRUE(rig.line->wait_held());
  ASSERT_TRUE(rig.bus->submit(write(1, 900), [&](const Response&) { done.hit(); }));
  rig.line->release();
  ASSERT_TRUE(done.wait(2));
  EXPECT_EQ(addresses(rig.line->log()), (std::vector<std::uint16_t>{100, 900, 101, 102, 103, 104}));
}

TEST(Bus, DueWorkRunsByPriorityWritesFirstProbesLast) {
  Rig rig;
  rig.line->answers(1);
  rig.line->hold_exchange(0);
  Latch done;
  ASSERT_TRUE(rig.bus->submit(read(1, 1), [&](const Response&) { done.hit(); }));  // on the line
  ASSERT_TRUE(rig.line->wait_held());
  // Queued while the line is busy, least urgent first.
  rig.bus->post(Priority::kDiscovery, [&] { rig.bus->execute_now(read(1, 60)); done.hit(); });
  rig.bus->post(Priority::kSlow, [&] { rig.bus->execute_now(read(1, 50)); done.hit(); });
  rig.bus->post(Priority::kNormal, [&] { rig.bus->execute_now(read(1, 40)); done.hit(); });
  rig.bus->post(Priority::kFast, [&] { rig.bus->execute_now(read(1, 30)); done.hit(); });
  rig.bus->post(Priority::kKeepAlive, [&] { rig.bus->execute_now(write(1, 20)); done.hit(); });
  ASSERT_TRUE(rig.bus->submit(write(1, 10), [&](const Response&) { done.hit(); }));
  rig.line->release();
  ASSERT_TRUE(done.wait(7));
  EXPECT_EQ(addresses(rig.line->log()), (std::vector<std::uint16_t>{1, 10, 20, 30, 40, 50, 60}));
}

TEST(Bus, APollOfASilentUnitIsAProbeThatGoesAfterHealthyUnitsAndWaitsOnlyTheProbeTimeout) {
  BusSettings s;
  s.timeout = 30s;
  s.timeout_ceiling = 30s;
  s.probe_timeout = 400ms;
  s.backoff_initial = 1h;  // one round of failures, then it backs off for the rest of the test
  Rig rig(s);
  rig.line->silent(2);
  std::atomic<int> healthy_polls{0};
  Latch offline;
  // Both poll at 5 ms: the silent unit's first request fails, and the unit is left quiet for
  // four times its probe timeout (its next requests fail without touching the line).
  rig.bus->every(5ms, Priority::kFast, 2, [&] {
    const Response r = rig.bus->execute_now(read(2, 2));
    if (r.outcome == Outcome::kOffline) offline.hit();
  });
  rig.bus->every(5ms, Priority::kFast, 1, [&] {
    rig.bus->execute_now(read(1, 1));
    ++healthy_polls;
  });
  ASSERT_TRUE(offline.wait(1));
  const auto h = rig.bus->health();
  EXPECT_FALSE(h.units.at(2).online);
  EXPECT_TRUE(h.units.at(1).online);
  EXPECT_EQ(h.units.at(2).requests, 1u);  // one probe went on the line, no more
  for (const auto& e : rig.line->log()) {
    if (e.unit == 2) {
      EXPECT_EQ(e.timeout, 400ms) << "a silent unit must never get buses.timeout";
    }
  }
  // Its polls are held back; a setpoint write still goes on the line.
  Latch written;
  ASSERT_TRUE(rig.bus->submit(write(2, 7), [&](const Response&) { written.hit(); }));
  ASSERT_TRUE(written.wait(1));
  const auto log = rig.line->log();
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const auto& e) {
    return e.unit == 2 && e.op == Request::Op::kWriteRegisters;
  }));
  rig.bus->stop();
  EXPECT_GT(healthy_polls.load(), 0);
}

TEST(Bus, WorkThatWaitedTooLongOnASaturatedLineRunsAnyway) {
  BusSettings s;
  s.starvation_limit = 50ms;
  Rig rig(s);
  // Fast polls that take longer than their period keep the line busy all the time.
  rig.bus->every(1ms, Priority::kFast, 1, [&] {
    rig.bus->execute_now(read(1, 1));
    std::this_thread::sleep_for(2ms);  // stands for the time the request takes on a real line
  });
  Latch done;
  rig.bus->post(Priority::kDiscovery, [&] { done.hit(); });
  EXPECT_TRUE(done.wait(1, 2s)) << "discovery starved behind the fast polls";
  rig.bus->stop();
}

TEST(Bus, ALateReplyIsChargedToTheLateUnitAndTheInnocentRequestIsTriedAgain) {
  BusSettings serial;  // a serial line: TCP drops the connection instead, so nothing arrives late
  serial.rtu = true;
  serial.frame_gap = 1ms;
  Rig rig(serial);
  rig.line->silent(2);
  rig.line->stale_frames_survive_resync(1);  // the late frame arrives after the resync window
  Latch done;
  Response innocent;
  rig.bus->post(Priority::kFast, [&] {
    rig.bus->execute_now(read(2, 2));  // times out; its answer comes late
    innocent = rig.bus->execute_now(read(1, 7));
    done.hit();
  });
  ASSERT_TRUE(done.wait(1));
  EXPECT_EQ(innocent.outcome, Outcome::kOk);
  const auto h = rig.bus->health();
  EXPECT_EQ(h.units.at(1).failures, 0u);
  EXPECT_EQ(h.units.at(2).failures, 2u);  // its timeout and its late reply
  EXPECT_EQ(h.errors.at("late_reply"), 1u);
  EXPECT_GE(rig.line->resyncs(), 2);
}

TEST(Bus, ATimeoutResynchronisesTheLineBeforeTheNextRequest) {
  Rig rig;
  rig.line->silent(2);
  Latch done;
  Response next;
  rig.bus->post(Priority::kFast, [&] {
    rig.bus->execute_now(read(2, 2));
    next = rig.bus->execute_now(read(1, 7));
    done.hit();
  });
  ASSERT_TRUE(done.wait(1));
  EXPECT_EQ(next.outcome, Outcome::kOk);
  EXPECT_EQ(rig.line->resyncs(), 1);
  EXPECT_EQ(rig.bus->health().errors.count("late_reply"), 0u);
}

TEST(Bus, DrainInterruptsThePollOnTheLineRefusesTheRestAndStillRunsWrites) {
  Rig rig;
  rig.line->hold_exchange(0);
  Latch done;
  std::vector<Outcome> poll;
  rig.bus->post(Priority::kFast, [&] {
    for (std::uint16_t a = 100; a < 103; ++a) poll.push_back(rig.bus->execute_now(read(1, a)).outcome);
    done.hit();
  });
  ASSERT_TRUE(rig.line->wait_held());
  Response release;
  rig.bus->drain();
  rig.bus->post(Priority::kWrite, [&] {
    release = rig.bus->execute_now(write(1, 900));
    done.hit();
  });
  ASSERT_TRUE(done.wait(2));
  EXPECT_EQ(poll, (std::vector<Outcome>{Outcome::kRefused, Outcome::kRefused, Outcome::kRefused}));
  EXPECT_EQ(release.outcome, Outcome::kOk);
  EXPECT_EQ(addresses(rig.line->log()), (std::vector<std::uint16_t>{100, 900}));
  EXPECT_GE(rig.line->interrupts(), 1);
  EXPECT_TRUE(rig.bus->health().units.at(1).failures == 0) << "an interrupted request says nothing of the unit";
}

TEST(Bus, StopInterruptsTheLineAndRefusesQueuedRequests) {
  Rig rig;
  rig.line->hold_exchange(0);
  Latch done;
  std::vector<Outcome> outcomes;
  std::mutex mu;
  auto note = [&](const Response& r) {
    std::lock_guard lock(mu);
    outcomes.push_back(r.outcome);
    done.hit();
  };
  ASSERT_TRUE(rig.bus->submit(read(1, 1), note));
  ASSERT_TRUE(rig.line->wait_held());
  ASSERT_TRUE(rig.bus->submit(read(1, 2), note));
  // interrupt() ends the exchange on the line, so the worker stops at once.
  EXPECT_TRUE(rig.bus->stop(2s));
  ASSERT_TRUE(done.wait(2));
  EXPECT_EQ(outcomes, (std::vector<Outcome>{Outcome::kRefused, Outcome::kRefused}));
  EXPECT_FALSE(rig.bus->submit(read(1, 3), note));
}

}  // namespace
}  // namespace gridlet::adapters::modbus
