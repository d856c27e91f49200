#include "tests/sim/physics.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gridlet::devsim {
namespace {

constexpr double kMaxStepS = 10;           // integration step (simulated seconds)
constexpr double kDaySeconds = 86400;
constexpr std::array<double, 3> kPhaseShare{0.36, 0.33, 0.31};  // house load is never balanced

double bump(double hour, double center, double width) {
  const double x = (hour - center) / width;
  return std::exp(-x * x);
}

}  // namespace

Building::Building(const PhysicsConfig& config)
    : config_(config), sim_s_(config.start_hour * 3600) {
  // A meter that has been in service for a while; per phase in the same shares as the load.
  grid_.import_wh = 2.5e6;
  grid_.export_wh = 1.8e6;
  for (std::size_t p = 0; p < 3; ++p) {
    grid_.phase_import_wh[p] = grid_.import_wh * kPhaseShare[p];
    grid_.phase_export_wh[p] = grid_.export_wh * kPhaseShare[p];
  }
  solve();
}

std::size_t Building::add_pv() {
  PvArray pv;
  pv.peak_w = config_.pv_peak_w;
  // Counters start where a few years of operation would have left them, different per device.
  pv.energy_wh = 4.0e6 + 1.0e5 * static_cast<double>(pvs_.size()) + static_cast<double>(config_.seed % 1000);
  pvs_.push_back(pv);
  solve();
  return pvs_.size() - 1;
}

std::size_t Building::add_battery() {
  Battery b;
  b.capacity_wh = config_.battery_capacity_wh;
  b.max_charge_w = config_.battery_max_w;
  b.max_discharge_w = config_.battery_max_w;
  b.soc = 0.5;
  b.charged_wh = 1.5e6;
  b.discharged_wh = 1.4e6;
  batteries_.push_back(b);
  solve();
  return batteries_.size() - 1;
}

// Deterministic in (seed, stream, time slot): the same seed gives the same day.
double Building::noise(std::uint64_t stream, double period_s) const {
  auto x = static_cast<std::uint64_t>(sim_s_ / period_s) * 0x9E3779B97F4A7C15ULL ^
           (config_.seed + stream * 0xBF58476D1CE4E5B9ULL);
  x ^= x >> 31;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 29;
  return static_cast<double>(x % 20001) / 10000.0 - 1.0;
}

void Building::solve() {
  const double hour = std::fmod(sim_s_, kDaySeconds) / 3600.0;

  // Clear-sky sine between 06:00 and 18:00, minus up to 3% of haze that changes each minute.
  const double sun = (hour > 6 && hour < 18) ? std::sin(std::numbers::pi * (hour - 6) / 12) : 0.0;
  double pv_total_w = 0;
  for (std::size_t i = 0; i < pvs_.size(); ++i) {
    auto& pv = pvs_[i];
    pv.available_w = pv.peak_w * sun * (0.985 + 0.015 * noise(10 + i, 60));
    pv.output_w = pv.connected ? std::min(pv.available_w, std::max(0.0, pv.limit_w)) : 0.0;
    pv_total_w += pv.output_w;
  }

  // House: base load, breakfast and evening peaks, +-5% that changes each minute.
  load_w_ = (config_.house_base_w + 1200 * bump(hour, 7.5, 0.8) + 2000 * bump(hour, 19.5, 1.5)) *
            (1.0 + 0.05 * noise(1, 60));

  // Batteries: self-consumption, each taking an equal share of the surplus, inside the window
  // set by its controls, then inside the limits of its cells (the BMS has the last word).
  const double surplus_w = pv_total_w - load_w_;
  double battery_total_w = 0;
  for (auto& b : batteries_) {
    double charge_w = surplus_w / static_cast<double>(batteries_.size());
    charge_w = std::clamp(charge_w, b.window_min_charge_w, b.window_max_charge_w);
    charge_w = std::clamp(charge_w, -b.max_discharge_w, b.max_charge_w);
    if (b.soc >= b.soc_max) charge_w = std::min(charge_w, 0.0);
    if (b.soc <= b.soc_reserve) charge_w = std::max(charge_w, 0.0);
    if (!b.connected) charge_w = 0;
    b.power_w = -charge_w;
    battery_total_w += b.power_w;
  }

  grid_.power_w = load_w_ - pv_total_w - battery_total_w;
  for (std::size_t p = 0; p < 3; ++p) {
    grid_.phase_w[p] = grid_.power_w * kPhaseShare[p];
    grid_.phase_v[p] = 230.0 + 1.5 * noise(20 + p, 5);
  }
  grid_.frequency_hz = 50.0 + 0.02 * noise(30, 2);
}

void Building::step(double dt_s) {
  solve();
  const double h = dt_s / 3600.0;
  for (auto& pv : pvs_) pv.energy_wh += pv.output_w * h;
  for (auto& b : batteries_) {
    if (b.power_w < 0) {
      b.charged_wh += -b.power_w * h;
      b.soc += -b.power_w * h * 0.95 / b.capacity_wh;  // charging losses
    } else {
      b.discharged_wh += b.power_w * h;
      b.soc -= b.power_w * h / b.capacity_wh;
      b.cycles += b.power_w * h / b.capacity_wh;
    }
    b.soc = std::clamp(b.soc, 0.0, 1.0);
  }
  if (grid_.power_w >= 0) {
    grid_.import_wh += grid_.power_w * h;
  } else {
    grid_.export_wh += -grid_.power_w * h;
  }
  for (std::size_t p = 0; p < 3; ++p) {
    (grid_.phase_w[p] >= 0 ? grid_.phase_import_wh[p] : grid_.phase_export_wh[p]) +=
        std::abs(grid_.phase_w[p]) * h;
  }
  sim_s_ += dt_s;
}

void Building::advance(double dt_s) {
  if (!(dt_s > 0)) {
    solve();  // controls may have changed
    return;
  }
  // Bounded work per call: after a long idle the steps simply get longer.
  const double step_s = std::max(kMaxStepS, dt_s / 10000.0);
  while (dt_s > 0) {
    const double s = std::min(step_s, dt_s);
    step(s);
    dt_s -= s;
  }
  solve();
}

}  // namespace gridlet::devsim
