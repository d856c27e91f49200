// Polls one device on a bus and publishes its readings: a profile device (a register map from
// configs/profiles/) or a SunSpec device (discovered at start, then read model by model).
//
// Everything runs on the bus's thread: each poll is a task of the bus, so a device never polls two
// things at once and other devices on the bus take turns with it; setpoint writes queued on the
// bus go between devices' polls. Values and their scale factors always come from one request.
#pragma once

#include <chrono>
#include <cstdint>
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How often a SunSpec model is read: identity and nameplate (1, 120, 121) slow; settings and
// controls (122-124, 702-712, 715) normal; measurements fast.
PollClass sunspec_poll_class(std::uint16_t model_id);

}  // namespace gridlet::adapters::modbus
