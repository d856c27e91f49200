// One device on an MQTT bus: its profile bound to its topics (mapping.hpp), the readings and
// availability its messages carry, and control through the same transactional setpoints as a
// Modbus device (SetpointHolder): a command counts as applied only when the device's own state
// message confirms it within the control's confirm_timeout; otherwise the outcome is a mismatch,
// as for a Modbus read-back that differs.
//
// Thread: the event loop only (messages arrive there through the Client's executor; the API calls
// set/release there). Publishing goes through a function, so tests need no broker.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/clock.hpp"
#include "adapters/device.hpp"
#include "adapters/log_limiter.hpp"
#include "adapters/mqtt/client.hpp"
#include "adapters/mqtt/mapping.hpp"
#include "adapters/setpoint_holder.hpp"

namespace gridlet::adapters::mqtt {

struct MqttDeviceStatus {
  std::string id;
  std::string bus;
  std::string profile;
  std::optional<bool> available;     // what the availability topic said last; nullopt: nothing yet
  bool online = false;               // available, or (no availability topic) a message within max age
  std::uint64_t messages = 0;        // messages that meant something
  std::map<std::string, std::uint64_t> rejected;  // by reason (to_string(RejectReason))
  std::int64_t last_message_ms = 0;  // Unix ms of the last message used; 0 = never
  std::string last_error;            // the last rejection, in words
};

class MqttDevice {
 public:
  using ControlCallback = std::function<void(const ControlEvent&)>;
  // Publishes a command (QoS 1, not retained); false when the broker is not connected.
  using Publish = std::function<bool(Message)>;

  // `clock`: Unix time for readings and events; `monotonic`: the setpoint holder's and the
  // confirmation deadlines' time, which never steps.
  MqttDevice(std::string id, std::string bus, DeviceBinding binding, ReadingSink& readings,
             ControlSink* controls, const Clock& clock, const Clock& monotonic, Publish publish);

  const std::string& id() const { return id_; }
  const std::string& bus() const { return bus_; }
  // The filters to subscribe to.
  std::vector<std::string> subscriptions() const { return mqtt::subscriptions(binding_); }
  // Whether a message on `topic` is for this device.
  bool wants(std::string_view topic) const;
  // A message for this device: readings, availability and control states.
  void on_message(const Message& message);
  // The broker connection went away (false) or came back (true). While it is away nothing is
  // known of the device: its points go to error quality.
  void on_broker(bool connected);

  // Control (the API, the DR engine): answers through `done`, once.
  std::vector<ControlInfo> controls() const;
  std::vector<ActiveSetpoint> setpoints() const { return holder_.held(); }
  void set(SetpointCommand command, ControlCallback done);
  void release(const std::string& point, const std::string& actor, const std::string& reason,
               ControlCallback done);
  // Every second: confirmation deadlines, keep-alives, re-assertions, expiries, release retries.
  void tick();
  // At shutdown: every held setpoint to its fail-safe (commands published, not awaited).
  void release_all(const std::string& reason);

  MqttDeviceStatus status() const;

 private:
  struct Pending {
    std::string control;
    double value = 0.0;
    ControlAction action = ControlAction::kSet;
    SetpointCommand command;  // kSet only
    std::optional<DueWrite> write;  // keep-alive, re-assertion, release
    std::string actor;
    std::string reason;
    TimePoint deadline;
    std::optional<double> reported;  // the last state seen since the command
    ControlCallback done;
  };

  // Publishes the command of `pending`; it waits for its confirmation, or fails at once.
  void command(Pending pending);
  void finish(Pending& pending, ControlOutcome outcome, std::string detail);
  void observe(const ControlObservation& obs);
  ControlEvent event(const Pending& p) const;
  void report(const ControlEvent& ev);
  void publish_errors(const std::string& why);
  void note_rejection(const Rejection& r);

  const std::string id_;
  const std::string bus_;
  const DeviceBinding binding_;
  ReadingSink& readings_;
  ControlSink* const controls_;
  const Clock& clock_;
  LogLimiter rejection_log_;  // unusable messages are logged at a rate limit
  const Clock& monotonic_;
  const Publish publish_;
  SetpointHolder holder_;
  std::map<std::string, Pending> pending_;  // by control: at most one command in flight each
  std::map<std::string, PointValue> last_;  // each point's last reading (to report errors)
  MqttDeviceStatus status_;
};

}  // namespace gridlet::adapters::mqtt
