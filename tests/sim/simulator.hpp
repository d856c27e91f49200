// The simulated building as seen from Modbus: devices by unit id, their fault blocks, and the
// one function that answers a request. Transport-neutral: the TCP and RTU servers hand it raw
// ADUs and a Responder that knows how to put an answer on their wire. Thread-safe: one lock
// around everything (two transport threads at most, requests are tiny).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string_view>

#include "tests/sim/device.hpp"
#include "tests/sim/faults.hpp"
#include "tests/sim/physics.hpp"
#include "tests/sim/request.hpp"

namespace gridlet::devsim {

enum class Link : std::uint8_t { kTcp, kRtu };

// How a transport answers. `adu` is the request being answered.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void reply(std::span<const std::uint8_t> adu, modbus_mapping_t* mapping) = 0;
  virtual void exception(std::span<const std::uint8_t> adu, std::uint8_t code) = 0;
  // A reply a client must reject (TCP: inconsistent byte count or function; RTU: bad CRC).
  virtual void malformed(std::span<const std::uint8_t> adu, const Request& request) = 0;
};

struct SimulatorConfig {
  PhysicsConfig physics;
  double speed = 1.0;  // simulated seconds per real second
  std::chrono::milliseconds setpoint_delay{500};
  std::chrono::seconds heartbeat_timeout{30};  // controller heartbeat watchdog, 0 = off
};

class Simulator {
 public:
  Simulator(const SimulatorConfig& config, TimePoint now);

  // False for an unknown kind or a unit id already taken.
  bool add_device(std::uint8_t unit, std::string_view kind);
  // Start state of a unit's fault block (the unit must exist).
  void set_fault(std::uint8_t unit, FaultMode mode, std::uint16_t arg, TimePoint now);
  void set_delay_ms(std::uint8_t unit, std::uint16_t ms);
  // False when the unit has no W scale factor (SDM630 floats).
  bool set_power_sf(std::uint8_t unit, int sf);

  // How long to wait before answering this request (the unit's response delay).
  std::chrono::milliseconds response_delay(std::span<const std::uint8_t> adu, int header_length);
  // Answers (or, like a real device, stays silent) through `out`.
  void answer(std::span<const std::uint8_t> adu, int header_length, Link link, Responder& out, TimePoint now);

 private:
  struct Unit {
    std::unique_ptr<Device> device;
    std::unique_ptr<FaultBlock> faults;
  };

  void advance(TimePoint now);
  void serve(Unit& unit, const Request& request, std::span<const std::uint8_t> adu, bool ignore_writes,
             Responder& out, TimePoint now);

  std::mutex mu_;
  SimulatorConfig config_;
  Building building_;
  std::mt19937_64 rng_;
  std::map<std::uint8_t, Unit> units_;
  TimePoint last_;
};

}  // namespace gridlet::devsim
