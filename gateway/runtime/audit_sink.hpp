// Every write to a device goes to the audit log; alarms and notable successes (a setpoint set or
// released, a heartbeat) also to the event log. Called on bus threads; it only enqueues.
#pragma once

#include <functional>

#include "adapters/device.hpp"
#include "gateway/store/event_log.hpp"

namespace gridlet::runtime {

class AuditSink final : public adapters::ControlSink {
 public:
  // `on_event` (optional) sees every event record as it is appended, on the caller's thread.
  using EventListener = std::function<void(const store::EventRecord&)>;
  explicit AuditSink(store::EventLog& log, EventListener on_event = {})
      : log_(log), on_event_(std::move(on_event)) {}
  void on_control(const adapters::ControlEvent& ev) override;

 private:
  store::EventLog& log_;
  EventListener on_event_;
};

}  // namespace gridlet::runtime
