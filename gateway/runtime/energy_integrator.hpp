// Battery energy the device does not count. Home Assistant's Energy dashboard takes a battery as
// two energy counters (charged, discharged); many batteries only report their power. For each
// battery (kind = "battery") the gateway integrates its power point into two counters, published
// as points of the device like any other:
//   integrated.charge_energy     Wh, from negative power (SunSpec's sign: charging < 0)
//   integrated.discharge_energy  Wh, from positive power
// The power point is the battery's W point named "W" (or "<model>.W"), "power", "power_w" or
// "apower". Between two good readings at most kMaxGapMs apart the energy is the trapezoid under
// them (split where the power crosses zero); a longer gap, or a reading that is not good, adds
// nothing, so missing data never invents energy. The counters start at 0 with each run (Home
// Assistant reads a counter that starts again as a meter reset, so no energy is counted twice).
// Pure: no clock (readings carry their time), no I/O. Thread: one (the event loop).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "adapters/device.hpp"

namespace gridlet::runtime {

class EnergyIntegrator {
 public:
  static constexpr std::int64_t kMaxGapMs = 5 * 60 * 1000;
  static constexpr const char* kChargePoint = "integrated.charge_energy";
  static constexpr const char* kDischargePoint = "integrated.discharge_energy";

  // Integrates this device's power.
  void watch(const std::string& device) { devices_.insert(device); }
  static bool is_power_point(const adapters::Reading& r);

  // A reading of any device: the two counters (good, at the reading's time) when it advanced
  // them, else nothing.
  std::vector<adapters::Reading> offer(const adapters::Reading& r);

 private:
  struct State {
    std::string point;  // the power point, once seen
    bool has_last = false;
    std::int64_t last_ms = 0;
    double last_w = 0;
    double charge_wh = 0;
    double discharge_wh = 0;
  };
  std::set<std::string> devices_;
  std::map<std::string, State> states_;
};

}  // namespace gridlet::runtime
