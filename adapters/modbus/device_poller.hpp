// Polls one device on a bus and publishes its readings: a profile device (a register map from
// configs/profiles/) or a SunSpec device (discovered at start, then read model by model).
//
// Everything runs on the bus's thread: each poll is a task of the bus, so a device never polls two
// things at once and other devices on the bus take turns with it; setpoint writes queued on the
// bus go between devices' polls. Values and their scale factors always come from one request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/profile.hpp"

namespace gridlet::adapters::modbus {

struct PollPeriods {
  std::chrono::milliseconds fast{1000};
  std::chrono::milliseconds normal{10000};
  std::chrono::milliseconds slow{300000};
  std::chrono::milliseconds of(PollClass c) const {
    return c == PollClass::kFast ? fast : c == PollClass::kNormal ? normal : slow;
  }
};

// Turns a counter that resets or wraps into one that only grows: a drop is never published as a
// huge negative or positive jump. A drop by more than half the counter's range is a wrap (the
// range is added); a drop to at most 10 % of the last value is a reset (the counter continues
// from the last value); a smaller step back is a glitch (the last value is held).
class CounterTracker {
 public:
  // range: 2^bits of the raw counter, times its scale (0 = unknown, every drop is a reset).
  explicit CounterTracker(double range = 0) : range_(range) {}
  static constexpr double kResetFraction = 0.1;
  struct Result {
    double value;          // continuous value to publish
    bool discontinuity;    // a reset or wrap was absorbed
  };
  Result update(double raw);

 private:
  double range_;
  std::optional<double> last_raw_;
  double offset_ = 0;
};

// How a device's setpoints are held (see adapters/device.hpp for the promises).
struct ControlSettings {
  std::chrono::seconds revert{60};  // revert timer asked of SunSpec devices; kept alive at 1/3
  std::chrono::milliseconds heartbeat{10000};  // 715 ControllerHb / 802 CtrlHb period; 0 = off
  std::chrono::milliseconds retry{5000};       // a failed write is tried again after this
  std::map<std::string, double> failsafe;      // per point, overrides the profile/catalogue
};

struct DeviceStatus {
  std::string id;
  std::uint8_t unit = 0;
  std::string profile;
  bool discovered = false;  // SunSpec: chain found
  std::vector<std::uint16_t> models;  // SunSpec: models in chain order
  std::uint64_t polls = 0;
  std::uint64_t poll_failures = 0;
  std::uint64_t counter_discontinuities = 0;
  std::uint64_t out_of_range = 0;
  std::string last_error;
};

class DevicePoller {
 public:
  // profile: a register map; or nullptr for SunSpec (discovered on the bus).
  DevicePoller(Bus& bus, std::string device_id, std::uint8_t unit,
               std::shared_ptr<const Profile> profile, ReadingSink& sink, PollPeriods periods = {});
  ~DevicePoller();
  DevicePoller(const DevicePoller&) = delete;
  DevicePoller& operator=(const DevicePoller&) = delete;

  // Adds the poll loop to the bus. Call once. The destructor removes it (waiting for a poll in
  // progress), so a poller may die before its bus; the bus must outlive the poller.
  void start();
  DeviceStatus status() const;
  // Polls everything once, now, on the calling thread (through Bus::execute_now): for tools and
  // benchmarks with a bus that has no worker. Not with start().
  void poll_once();
  const std::string& bus_id() const;

  // ---- Setpoints (all thread-safe; the work runs on the bus thread) ----
  using ControlCallback = std::function<void(const ControlEvent&)>;
  // Call before start(). Every write is reported to `sink` (may be null).
  void set_control(ControlSink* sink, ControlSettings settings);
  // Range-checks, writes, reads back, then holds the point (keep-alive, re-assert) until it is
  // released or expires. `done` (optional) gets the outcome on the bus thread. A command that
  // cannot be queued (bus stopped) is answered at once with kFailed.
  void set(SetpointCommand command, ControlCallback done);
  // Releases one held point to its fail-safe. A point not held is released all the same.
  void release(std::string point, std::string actor, std::string reason, ControlCallback done);
  // Releases every held point (for shutdown); the future is ready when the writes are done (or
  // the bus stopped before doing them). Wait for it with a deadline.
  std::future<void> release_all(const std::string& reason);
  std::vector<ActiveSetpoint> setpoints() const;
  std::vector<ControlInfo> controls() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How often a SunSpec model is read: identity and nameplate (1, 120, 121) slow; settings and
// controls (122-124, 702-712, 715) normal; measurements fast.
PollClass sunspec_poll_class(std::uint16_t model_id);

}  // namespace gridlet::adapters::modbus
