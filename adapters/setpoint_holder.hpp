// The setpoint state machine of one device, with no I/O: what is held, when a keep-alive is due,
// when a device that was silent must get its setpoints again, when a setpoint expires, which
// releases the device missed and must be tried again, and when the controller heartbeat beats.
//
// Pure and on an injected Clock: the adapter asks due() for the writes to make now, makes them
// (plan, write, read back) and reports each outcome back; tests step it on a ManualClock. Any
// adapter (Modbus, MQTT) and the DR engine use the same holder. Not thread-safe: the owner
// serialises calls (the Modbus poller calls it on its bus thread, under its own lock for readers).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/clock.hpp"
#include "adapters/device.hpp"

namespace gridlet::adapters {

struct SetpointHolderSettings {
  std::chrono::milliseconds retry{5000};      // a failed write (or release) is tried again after this
  std::chrono::milliseconds heartbeat{0};     // controller heartbeat period; 0 = none
  // Keep-alives are written up to this much early, so that a check every `tick` never lets a
  // revert timer run out: half the period of the owner's checks.
  std::chrono::milliseconds early{500};
};

// One write the holder wants made now.
struct DueWrite {
  std::string point;
  std::optional<double> value;  // nullopt: a release to the fail-safe
  ControlAction action = ControlAction::kKeepAlive;  // kKeepAlive, kReassert or kRelease
  std::string actor;
  std::string reason;
};

class SetpointHolder {
 public:
  SetpointHolder(SetpointHolderSettings settings, const Clock& clock);

  // A command's outcome. Applied: held, kept alive every `keepalive` (0: never). Failed (the device
  // did not answer): held, written again when it answers. Rejected, refused or mismatched: nothing
  // changes (what was held before, if anything, is still what the device holds).
  void on_set(const SetpointCommand& command, const ControlEvent& outcome, std::chrono::milliseconds keepalive);
  // A release's outcome: forgotten, or (the device did not answer) kept and retried until it takes it.
  void on_release(const std::string& point, const ControlEvent& outcome);
  // The outcome of a write that due() asked for.
  void on_written(const DueWrite& write, const ControlEvent& outcome);
  // Whether the device answered a request (of any kind). Answering after silence means it may
  // have restarted and forgotten: every held setpoint is re-asserted at the next due().
  void on_contact(bool answered);

  // The writes to make now, in point order: expiries and release retries (kRelease), keep-alives
  // and retries (kKeepAlive), and everything after the device came back (kReassert).
  std::vector<DueWrite> due();
  // The heartbeat counter to write now, if a beat is due (the schedule moves on).
  std::optional<std::uint32_t> heartbeat_due();
  // Every held point with the actor that holds it (releases at shutdown).
  std::vector<std::pair<std::string, std::string>> holders() const;

  std::vector<ActiveSetpoint> held() const;
  bool holding(const std::string& point) const { return held_.contains(point); }

 private:
  struct Held {
    ActiveSetpoint sp;
    TimePoint next_write = TimePoint::max();  // keep-alive or retry
    // When it is released, on this holder's clock: the command's end (Unix ms on the system
    // clock) turned into a time from now, so a wall-clock step neither ends it early nor holds
    // it forever.
    TimePoint expires = TimePoint::max();
  };
  void after_write(Held& h, const ControlEvent& outcome);

  SetpointHolderSettings settings_;
  const Clock& clock_;
  std::map<std::string, Held> held_;
  bool contact_lost_ = false;
  bool reassert_due_ = false;
  std::uint32_t heartbeat_counter_ = 0;
  TimePoint next_heartbeat_{};
};

}  // namespace gridlet::adapters
