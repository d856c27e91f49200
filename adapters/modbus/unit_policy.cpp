#include "adapters/modbus/unit_policy.hpp"

#include <algorithm>
#include <cmath>

namespace gridlet::adapters::modbus {

using std::chrono::milliseconds;

UnitPolicy::UnitPolicy(const UnitPolicySettings& settings)
    : settings_(&settings), timeout_(settings.timeout) {}

milliseconds UnitPolicy::timeout() const {
  if (state_ == State::kOnline) return timeout_;
  // A unit heard before is probed with the timeout its latency earned (a slow device stays
  // reachable); one never heard from with probe_timeout.
  if (srtt_ms_ >= 0) return rto_;
  return std::max(std::min(timeout_, settings_->probe_timeout), milliseconds(1));
}

void UnitPolicy::on_answer(std::chrono::microseconds latency) {
  const double l = static_cast<double>(latency.count()) / 1000.0;
  if (srtt_ms_ < 0) {
    srtt_ms_ = l;
    rttvar_ms_ = l / 2;
  } else {
    rttvar_ms_ = 0.75 * rttvar_ms_ + 0.25 * std::abs(srtt_ms_ - l);
    srtt_ms_ = 0.875 * srtt_ms_ + 0.125 * l;
  }
  const auto rto = milliseconds(static_cast<std::int64_t>(std::ceil(srtt_ms_ + 4 * rttvar_ms_)));
  timeout_ = std::clamp(rto, settings_->timeout_floor, settings_->timeout_ceiling);
  rto_ = timeout_;
  state_ = State::kOnline;
  consecutive_failures_ = 0;
  backoff_ = milliseconds(0);
  backoff_until_ = TimePoint{};
  quiet_until_ = TimePoint{};
}

void UnitPolicy::on_silence(Outcome outcome, TimePoint now, std::chrono::microseconds held) {
  // What the failed request cost the line: a timeout its whole timeout, a garbled or refusing
  // reply the time it took.
  const milliseconds spent =
      outcome == Outcome::kTimeout
          ? timeout()
          : std::min(timeout(), std::chrono::ceil<milliseconds>(held));
  if (outcome == Outcome::kTimeout) timeout_ = std::min(settings_->timeout_ceiling, timeout_ * 2);
  // A probe that failed is a failure of an offline unit: back off again, longer.
  if (state_ == State::kOffline || ++consecutive_failures_ >= settings_->failures_before_offline) {
    state_ = State::kOffline;
    backoff_ = backoff_.count() == 0 ? settings_->backoff_initial
                                     : std::min(settings_->backoff_max, backoff_ * 2);
    backoff_until_ = now + backoff_;
  }
  // Whatever its state, a unit that held the line for `spent` without an answer leaves it to the
  // others' polls for quiet_factor times as long: its share of the line stays bounded.
  quiet_until_ = now + spent * settings_->quiet_factor;
}

}  // namespace gridlet::adapters::modbus
