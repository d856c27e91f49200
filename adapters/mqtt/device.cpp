#include "adapters/mqtt/device.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace gridlet::adapters::mqtt {

using std::chrono::milliseconds;

MqttDevice::MqttDevice(std::string id, std::string bus, DeviceBinding binding, ReadingSink& readings,
                       ControlSink* controls, const Clock& clock, const Clock& monotonic, Publish publish)
    : id_(std::move(id)),
      bus_(std::move(bus)),
      binding_(std::move(binding)),
      readings_(readings),
      controls_(controls),
      clock_(clock),
      monotonic_(monotonic),
      publish_(std::move(publish)),
      holder_(SetpointHolderSettings{}, monotonic) {
  status_.id = id_;
  status_.bus = bus_;
  status_.profile = binding_.profile ? binding_.profile->name : "";
}

// The filters of subscriptions(), read in place: this runs for every device on the bus for every
// message, and building that list (a vector and a set of strings) cost more than the matching.
// Most points of a profile share one topic: a filter equal to the one before was just refused.
bool MqttDevice::wants(std::string_view topic) const {
  if (topic_matches(binding_.availability_topic, topic)) return true;  // false when empty
  const std::string* previous = nullptr;
  for (const auto* filters : {&binding_.point_filters, &binding_.state_filters}) {
    for (const auto& f : *filters) {
      if (previous != nullptr && f == *previous) continue;
      if (topic_matches(f, topic)) return true;
      previous = &f;
    }
  }
  return false;
}

void MqttDevice::note_rejection(const Rejection& r) {
  ++status_.rejected[std::string(to_string(r.reason))];
  status_.last_error = r.point.empty() ? r.message : r.point + ": " + r.message;
  std::uint64_t held = 0;
  if (rejection_log_.allow(clock_.now_ms(), held)) {
    spdlog::warn("device {}: message not used: {}: {}{}", id_, to_string(r.reason), status_.last_error,
                 held > 0 ? fmt::format(" ({} more not logged)", held) : std::string());
  }
}

void MqttDevice::on_message(const Message& message) {
  const Interpretation in = interpret(binding_, message.topic, message.payload);
  for (const auto& r : in.rejections) note_rejection(r);
  if (!in.used()) return;
  const std::int64_t now = clock_.now_ms();
  ++status_.messages;
  status_.last_message_ms = now;
  if (in.online) {
    const bool was = status_.available.value_or(false);
    status_.available = *in.online;
    if (!*in.online) {
      holder_.on_contact(false);
      publish_errors("the device says it is offline");
    } else if (!was) {
      holder_.on_contact(true);  // back: what it held may be gone (re-asserted at the next tick)
    }
  }
  if (!in.readings.empty() || !in.observations.empty()) holder_.on_contact(true);
  for (const auto& pv : in.readings) {
    last_[pv.point] = pv;
    readings_.publish(to_reading(pv, id_, now));
  }
  for (const auto& obs : in.observations) observe(obs);
}

void MqttDevice::publish_errors(const std::string& why) {
  (void)why;
  const std::int64_t now = clock_.now_ms();
  for (const auto& [name, pv] : last_) {
    Reading r = to_reading(pv, id_, now);
    r.quality = Quality::kError;
    r.timestamp_ms = now;
    readings_.publish(std::move(r));
  }
}

void MqttDevice::on_broker(bool connected) {
  if (connected) return;  // the device's own messages (and its retained state) tell the rest
  holder_.on_contact(false);
  publish_errors("the broker connection was lost");
}

std::vector<ControlInfo> MqttDevice::controls() const {
  std::vector<ControlInfo> out;
  for (const auto& c : binding_.profile->controls) out.push_back(c.info());
  return out;
}

ControlEvent MqttDevice::event(const Pending& p) const {
  ControlEvent ev;
  ev.timestamp_ms = clock_.now_ms();
  ev.device = id_;
  ev.point = p.control;
  ev.action = p.action;
  ev.value = p.value;
  ev.actor = p.actor;
  ev.reason = p.reason;
  return ev;
}

void MqttDevice::report(const ControlEvent& ev) {
  if (ev.alarm()) {
    spdlog::warn("device {}: {} {}: {} ({})", id_, to_string(ev.action), ev.point, to_string(ev.outcome),
                 ev.detail);
  }
  if (controls_ != nullptr) controls_->on_control(ev);
}

void MqttDevice::finish(Pending& p, ControlOutcome outcome, std::string detail) {
  ControlEvent ev = event(p);
  ev.outcome = outcome;
  ev.readback = p.reported;
  ev.detail = std::move(detail);
  switch (p.action) {
    case ControlAction::kSet:
      holder_.on_set(p.command, ev, milliseconds(0));
      break;
    case ControlAction::kRelease:
      if (p.write) {
        holder_.on_written(*p.write, ev);
      } else {
        holder_.on_release(p.control, ev);
      }
      break;
    default:
      if (p.write) holder_.on_written(*p.write, ev);
      break;
  }
  report(ev);
  if (p.done) p.done(ev);
}

void MqttDevice::command(Pending p) {
  const Control* control = binding_.profile->find_control(p.control);
  const CommandResult rendered = render_command(binding_, p.control, p.value);
  if (control == nullptr || !rendered.command) {
    const std::string why = rendered.rejection ? rendered.rejection->message : "no such control";
    finish(p, ControlOutcome::kRejected, why);
    return;
  }
  // One command per control at a time: a newer one replaces the one still waiting, which is
  // answered as superseded (the device is asked for the newer value).
  if (auto it = pending_.find(p.control); it != pending_.end()) {
    Pending old = std::move(it->second);
    pending_.erase(it);
    ControlEvent ev = event(old);  // answered, but the holder only learns the newer one's fate
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = "superseded by a newer command";
    report(ev);
    if (old.done) old.done(ev);
  }
  if (!publish_({rendered.command->topic, rendered.command->payload, 1, false})) {
    finish(p, ControlOutcome::kFailed, "the broker is not connected");
    return;
  }
  if (!control->state) {
    finish(p, ControlOutcome::kApplied, "sent; this device does not report the state back");
    return;
  }
  p.deadline = monotonic_.now() + control->confirm_timeout;
  pending_.emplace(p.control, std::move(p));
}

void MqttDevice::observe(const ControlObservation& obs) {
  const auto it = pending_.find(obs.control);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  p.reported = obs.value;
  const Control* control = binding_.profile->find_control(obs.control);
  if (control != nullptr && confirms(*control, p.value, obs.value)) {
    Pending done = std::move(p);
    pending_.erase(it);
    finish(done, ControlOutcome::kApplied, "confirmed by the device's state");
  }
  // A state that does not confirm may predate the command: wait for the deadline.
}

void MqttDevice::set(SetpointCommand command, ControlCallback done) {
  Pending p;
  p.control = command.point;
  p.value = command.value;
  p.action = ControlAction::kSet;
  p.actor = command.actor;
  p.reason = command.reason;
  p.command = std::move(command);
  p.done = std::move(done);
  this->command(std::move(p));
}

void MqttDevice::release(const std::string& point, const std::string& actor, const std::string& reason,
                         ControlCallback done) {
  const Control* control = binding_.profile->find_control(point);
  Pending p;
  p.control = point;
  p.action = ControlAction::kRelease;
  p.actor = actor;
  p.reason = reason;
  p.done = std::move(done);
  if (control == nullptr) {
    finish(p, ControlOutcome::kRejected, "no such control");
    return;
  }
  if (!control->failsafe) {
    // Nothing to write: the device keeps what it has; the gateway no longer holds it.
    finish(p, ControlOutcome::kApplied, "no fail-safe: the device keeps its present value");
    return;
  }
  p.value = *control->failsafe;
  command(std::move(p));
}

void MqttDevice::tick() {
  const TimePoint now = monotonic_.now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    Pending p = std::move(it->second);
    it = pending_.erase(it);
    const auto secs = std::chrono::duration_cast<milliseconds>(
                          binding_.profile->find_control(p.control)->confirm_timeout)
                          .count() /
                      1000.0;
    if (p.reported) {
      finish(p, ControlOutcome::kMismatch,
             fmt::format("the device reports {} after {:g} s, not {}", *p.reported, secs, p.value));
    } else {
      finish(p, ControlOutcome::kMismatch, fmt::format("not confirmed by the device within {:g} s", secs));
    }
  }
  for (auto& write : holder_.due()) {
    if (pending_.contains(write.point)) continue;  // one at a time
    const Control* control = binding_.profile->find_control(write.point);
    if (control == nullptr) continue;
    Pending p;
    p.control = write.point;
    p.action = write.action;
    p.actor = write.actor;
    p.reason = write.reason;
    if (write.value) {
      p.value = *write.value;
    } else if (control->failsafe) {
      p.value = *control->failsafe;
    } else {
      ControlEvent ev = event(p);
      ev.detail = "no fail-safe: the device keeps its present value";
      holder_.on_written(write, ev);
      report(ev);
      continue;
    }
    p.write = write;
    command(std::move(p));
  }
}

void MqttDevice::release_all(const std::string& reason) {
  for (const auto& [point, actor] : holder_.holders()) {
    const Control* control = binding_.profile->find_control(point);
    if (control == nullptr || !control->failsafe) continue;
    const CommandResult rendered = render_command(binding_, point, *control->failsafe);
    if (!rendered.command) continue;
    const bool sent = publish_({rendered.command->topic, rendered.command->payload, 1, false});
    Pending p;
    p.control = point;
    p.value = *control->failsafe;
    p.action = ControlAction::kRelease;
    p.actor = "gateway";
    p.reason = reason;
    ControlEvent ev = event(p);
    ev.outcome = sent ? ControlOutcome::kApplied : ControlOutcome::kFailed;
    ev.detail = sent ? "sent at shutdown; not awaited" : "the broker is not connected";
    report(ev);
  }
}

MqttDeviceStatus MqttDevice::status() const {
  MqttDeviceStatus s = status_;
  if (binding_.availability_topic.empty()) {
    // No availability topic: online while something came within the longest max age.
    std::int64_t max_age = 0;
    for (const auto& p : binding_.profile->points) max_age = std::max<std::int64_t>(max_age, p.max_age.count());
    s.online = s.last_message_ms > 0 && (max_age == 0 || clock_.now_ms() - s.last_message_ms <= max_age);
  } else {
    s.online = s.available.value_or(false);
  }
  return s;
}

}  // namespace gridlet::adapters::mqtt
