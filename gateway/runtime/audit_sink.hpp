// Every write to a device goes to the audit log; alarms and notable successes (a setpoint set or
// released, a heartbeat) also to the event log. Called on bus threads; it only enqueues.
#pragma once

#include "adapters/device.hpp"
#include "gateway/store/event_log.hpp"

namespace gridlet::runtime {

class AuditSink final : public adapters::ControlSink {
 public:
  explicit AuditSink(store::EventLog& log) : log_(log) {}
  void on_control(const adapters::ControlEvent& ev) override;

 private:
  store::EventLog& log_;
};

}  // namespace gridlet::runtime
