#include "adapters/setpoint_holder.hpp"

#include <algorithm>

namespace gridlet::adapters {

using std::chrono::milliseconds;

SetpointHolder::SetpointHolder(SetpointHolderSettings settings, const Clock& clock)
    : settings_(settings), clock_(clock) {}

void SetpointHolder::after_write(Held& h, const ControlEvent& ev) {
  const TimePoint now = clock_.now();
  h.sp.last_write_ms = ev.timestamp_ms;
  h.sp.last_outcome = ev.outcome;
  h.sp.last_detail = ev.detail;
  if (ev.outcome == ControlOutcome::kApplied && !h.sp.releasing) {
    if (ev.value) h.sp.value = *ev.value;
    h.next_write = h.sp.keepalive_ms > 0 ? now + milliseconds(h.sp.keepalive_ms) : TimePoint::max();
  } else {
    h.next_write = now + settings_.retry;  // try again; a mismatch or refusal alarms each time
  }
}

void SetpointHolder::on_set(const SetpointCommand& cmd, const ControlEvent& ev, milliseconds keepalive) {
  if (ev.outcome != ControlOutcome::kApplied && ev.outcome != ControlOutcome::kFailed) return;
  Held h;
  h.sp.point = cmd.point;
  h.sp.value = ev.outcome == ControlOutcome::kApplied && ev.value ? *ev.value : cmd.value;
  h.sp.actor = cmd.actor;
  h.sp.reason = cmd.reason;
  h.sp.since_ms = ev.timestamp_ms;
  h.sp.until_ms = cmd.until_ms;
  h.sp.keepalive_ms = keepalive.count();
  if (cmd.until_ms != 0) {
    h.expires = clock_.now() + milliseconds(std::max<std::int64_t>(0, cmd.until_ms - ev.timestamp_ms));
  }
  Held& slot = held_[cmd.point] = std::move(h);
  after_write(slot, ev);
}

void SetpointHolder::on_release(const std::string& point, const ControlEvent& ev) {
  if (ev.outcome != ControlOutcome::kFailed) {
    held_.erase(point);
    return;
  }
  // The device did not answer: keep trying until it takes the release (or its own timer does).
  Held& h = held_[point];
  h.sp.point = point;
  h.sp.actor = ev.actor;
  h.sp.reason = ev.reason;
  h.sp.releasing = true;
  h.sp.until_ms = 0;
  h.sp.last_write_ms = ev.timestamp_ms;
  h.sp.last_outcome = ev.outcome;
  h.sp.last_detail = ev.detail;
  h.next_write = clock_.now() + settings_.retry;
}

void SetpointHolder::on_written(const DueWrite& write, const ControlEvent& ev) {
  if (write.action == ControlAction::kRelease) {
    on_release(write.point, ev);
    return;
  }
  const auto it = held_.find(write.point);
  if (it == held_.end()) return;
  if (ev.outcome == ControlOutcome::kRejected) {
    // It can never be written (e.g. out of a nameplate learned since): stop, the alarm is out.
    held_.erase(it);
    return;
  }
  after_write(it->second, ev);
}

void SetpointHolder::on_contact(bool answered) {
  if (!answered) {
    contact_lost_ = true;
  } else if (contact_lost_) {
    contact_lost_ = false;
    reassert_due_ = !held_.empty();
  }
}

std::vector<DueWrite> SetpointHolder::due() {
  std::vector<DueWrite> out;
  if (held_.empty()) return out;
  const bool reassert = reassert_due_;
  reassert_due_ = false;
  const TimePoint now = clock_.now();
  for (const auto& [point, h] : held_) {
    if (h.sp.releasing) {
      if (reassert || now >= h.next_write) {
        out.push_back({point, std::nullopt, ControlAction::kRelease, h.sp.actor, h.sp.reason});
      }
      continue;
    }
    if (now >= h.expires) {
      out.push_back({point, std::nullopt, ControlAction::kRelease, h.sp.actor, "the setpoint's time ended"});
      continue;
    }
    // A little early rather than a check late: keep-alives must beat the revert timer.
    if (!reassert && now + settings_.early < h.next_write) continue;
    const ControlAction action = reassert || h.sp.last_outcome != ControlOutcome::kApplied
                                     ? ControlAction::kReassert
                                     : ControlAction::kKeepAlive;
    out.push_back({point, h.sp.value, action, h.sp.actor, h.sp.reason});
  }
  return out;
}

std::optional<std::uint32_t> SetpointHolder::heartbeat_due() {
  if (settings_.heartbeat.count() <= 0) return std::nullopt;
  const TimePoint now = clock_.now();
  if (now < next_heartbeat_) return std::nullopt;
  next_heartbeat_ = now + settings_.heartbeat;
  return ++heartbeat_counter_;
}

std::vector<std::pair<std::string, std::string>> SetpointHolder::holders() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [point, h] : held_) out.emplace_back(point, h.sp.actor);
  return out;
}

std::vector<ActiveSetpoint> SetpointHolder::held() const {
  std::vector<ActiveSetpoint> out;
  for (const auto& [point, h] : held_) out.push_back(h.sp);
  return out;
}

}  // namespace gridlet::adapters
