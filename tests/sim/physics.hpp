// The simulated building: PV arrays, batteries, a house load and the grid connection, integrated
// on a simulated clock. Deliberately simple physics (clear-sky sine, linear SoC, lossless phases):
// enough for values that move plausibly, energy counters that only grow, and controls whose
// effect shows in every meter. Units are in the names; battery power is positive when
// discharging (it supplies the house), grid power is positive when importing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace gridlet::devsim {

struct PhysicsConfig {
  double pv_peak_w = 5000;            // per inverter, at solar noon
  double battery_capacity_wh = 10000;
  double battery_max_w = 5000;         // charge and discharge
  double house_base_w = 350;
  double start_hour = 12;              // local sim time at start
  std::uint64_t seed = 1;
};

struct PvArray {
  double peak_w = 0;
  double limit_w = std::numeric_limits<double>::infinity();  // from model 123 (after delay/ramp)
  bool connected = true;                                      // model 123 Conn
  double available_w = 0;  // what the sun offers now
  double output_w = 0;     // AC output = min(available, limit)
  double energy_wh = 0;    // lifetime AC energy (monotonic)
};

struct Battery {
  double capacity_wh = 0;
  double max_charge_w = 0;
  double max_discharge_w = 0;
  double soc = 0.5;           // 0..1
  double soc_reserve = 0.10;  // discharge stops here (124 MinRsvPct / 802 SoCRsvMin)
  double soc_max = 1.0;       // charge stops here (802 SocRsvMax)
  // Allowed window for charge power (positive = charging) set by model 124 controls; self-
  // consumption picks the point in this window closest to the PV surplus.
  double window_min_charge_w = -std::numeric_limits<double>::infinity();
  double window_max_charge_w = std::numeric_limits<double>::infinity();
  bool connected = true;  // 802 SetOp
  double power_w = 0;     // positive = discharging
  double charged_wh = 0;
  double discharged_wh = 0;
  double cycles = 0;
};

struct GridPoint {
  double power_w = 0;  // positive = import
  std::array<double, 3> phase_w{};
  std::array<double, 3> phase_v{230, 230, 230};
  double frequency_hz = 50;
  double import_wh = 0;
  double export_wh = 0;
  std::array<double, 3> phase_import_wh{};
  std::array<double, 3> phase_export_wh{};
};

class Building {
 public:
  explicit Building(const PhysicsConfig& config);

  std::size_t add_pv();
  std::size_t add_battery();
  PvArray& pv(std::size_t i) { return pvs_[i]; }
  const PvArray& pv(std::size_t i) const { return pvs_[i]; }
  Battery& battery(std::size_t i) { return batteries_[i]; }
  const Battery& battery(std::size_t i) const { return batteries_[i]; }

  // Moves the simulated clock forward by `dt_s` simulated seconds, integrating energy.
  void advance(double dt_s);

  double sim_seconds() const { return sim_s_; }  // since midnight of day 0
  double load_w() const { return load_w_; }
  const GridPoint& grid() const { return grid_; }

 private:
  void step(double dt_s);
  void solve();  // instantaneous powers for the current time and controls
  double noise(std::uint64_t stream, double period_s) const;  // in [-1, 1], piecewise constant

  PhysicsConfig config_;
  double sim_s_;
  double load_w_ = 0;
  GridPoint grid_;
  std::vector<PvArray> pvs_;
  std::vector<Battery> batteries_;
};

}  // namespace gridlet::devsim
