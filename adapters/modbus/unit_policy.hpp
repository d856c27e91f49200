// How a bus treats one unit id: its response timeout, when it is online, and how it backs off.
// Pure: every call takes the time, nothing here reads a clock, sleeps or does I/O, so the rules
// are unit-tested step by step (tests/unit/modbus_bus_test.cpp).
//
// - Online units get an adaptive timeout: smoothed latency + 4 x its deviation (TCP's RTO, RFC
//   6298) within [timeout_floor, timeout_ceiling]; a timeout doubles it up to the ceiling.
// - Units that never answered are probed with probe_timeout, so a silent unit costs the line at
//   most probe_timeout per attempt, whatever buses.timeout is. Units that answered before and
//   went offline are probed with the timeout their measured latency earned (without the doubling
//   of their last timeouts): a slow device stays reachable.
// - After `failures_before_offline` consecutive failures a unit is offline and backs off
//   exponentially (backoff_initial .. backoff_max); while it backs off, may_send() is false and the
//   bus answers its requests kOffline without touching the line. Any answer (answered() in
//   transport.hpp) brings it back online at once.
// - Online or not, after a request that went unanswered for d (a timeout: its whole timeout; a
//   garbled reply: the time it took) the unit is not polled for quiet_factor x d, so a silent
//   unit never holds more than a fifth of the line (by default), whatever its latency earned or
//   buses.timeout allows. Setpoint writes and keep-alives are not held back by it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "adapters/modbus/transport.hpp"

namespace gridlet::adapters::modbus {

struct UnitPolicySettings {
  std::chrono::milliseconds timeout{1000};  // before the first answer
  std::chrono::milliseconds timeout_floor{100};
  std::chrono::milliseconds timeout_ceiling{5000};
  std::chrono::milliseconds probe_timeout{500};
  std::chrono::milliseconds backoff_initial{2000};
  std::chrono::milliseconds backoff_max{300000};
  int failures_before_offline = 3;
  // After a request that went unanswered for d, the unit is not asked again for quiet_factor x d:
  // a silent unit holds at most 1 / (1 + quiet_factor) of the line, whatever its timeout.
  int quiet_factor = 4;
};

class UnitPolicy {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class State : std::uint8_t { kUnknown, kOnline, kOffline };

  explicit UnitPolicy(const UnitPolicySettings& settings);

  // False while the unit backs off, or while it is left quiet after an unanswered request: a
  // request now would not be sent. `urgent` work (setpoint writes, keep-alives, releases) is held
  // back by the backoff of an offline unit only, never by the quiet period.
  bool may_send(TimePoint now, bool urgent = false) const {
    return now >= backoff_until_ && (urgent || now >= quiet_until_);
  }
  // When polls may be sent again.
  TimePoint send_after() const { return std::max(backoff_until_, quiet_until_); }
  // The response timeout of the next request.
  std::chrono::milliseconds timeout() const;
  // Whether the next request is a probe (the unit is not known to be online).
  bool probing() const { return state_ != State::kOnline; }

  // What became of a request that went on the line. `held`: how long it held the line (a
  // timeout is charged its whole timeout).
  void on_answer(std::chrono::microseconds latency);
  void on_silence(Outcome outcome, TimePoint now, std::chrono::microseconds held = {});

  State state() const { return state_; }
  TimePoint backoff_until() const { return backoff_until_; }
  std::chrono::milliseconds backoff() const { return backoff_; }
  std::chrono::milliseconds adaptive_timeout() const { return timeout_; }

 private:
  const UnitPolicySettings* settings_;
  State state_ = State::kUnknown;
  int consecutive_failures_ = 0;
  std::chrono::milliseconds backoff_{0};
  TimePoint backoff_until_{};
  TimePoint quiet_until_{};
  double srtt_ms_ = -1;
  double rttvar_ms_ = 0;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds rto_{0};  // from the measured latency alone (no doubling)
};

}  // namespace gridlet::adapters::modbus
