#include "gateway/runtime/audit_sink.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

namespace gridlet::runtime {

void AuditSink::on_control(const adapters::ControlEvent& ev) {
  using adapters::ControlAction;
  store::AuditRecord a;
  a.timestamp_ms = ev.timestamp_ms;
  a.device = ev.device;
  a.point = ev.point;
  a.action = std::string(adapters::to_string(ev.action));
  a.value = ev.value;
  a.readback = ev.readback;
  a.outcome = std::string(adapters::to_string(ev.outcome));
  a.actor = ev.actor;
  a.reason = ev.reason;
  a.detail = ev.detail;
  std::optional<store::EventRecord> e;
  const bool notable = ev.action == ControlAction::kSet || ev.action == ControlAction::kRelease ||
                       ev.action == ControlAction::kHeartbeat;
  if (ev.alarm() || notable) {
    e = store::EventRecord{};
    e->timestamp_ms = ev.timestamp_ms;
    e->severity = ev.alarm() ? "alarm" : "info";
    e->kind = ev.action == ControlAction::kHeartbeat ? "heartbeat" : "setpoint";
    e->device = ev.device;
    e->point = ev.point;
    e->message = fmt::format("{} {}{}: {}{}{}", adapters::to_string(ev.action), ev.point,
                             ev.value ? fmt::format(" = {}", *ev.value) : std::string(),
                             adapters::to_string(ev.outcome), ev.detail.empty() ? "" : ": ", ev.detail);
  }
  if (e && on_event_) on_event_(*e);
  log_.append(std::move(a), std::move(e));
}

}  // namespace gridlet::runtime
