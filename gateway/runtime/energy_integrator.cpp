#include "gateway/runtime/energy_integrator.hpp"

#include <cmath>

namespace gridlet::runtime {

bool EnergyIntegrator::is_power_point(const adapters::Reading& r) {
  if (r.unit != "W") return false;
  const std::string& p = r.point;
  const auto dot = p.rfind('.');
  const std::string last = dot == std::string::npos ? p : p.substr(dot + 1);
  return last == "W" || p == "power" || p == "power_w" || p == "apower";
}

std::vector<adapters::Reading> EnergyIntegrator::offer(const adapters::Reading& r) {
  if (!devices_.contains(r.device) || !is_power_point(r)) return {};
  State& st = states_[r.device];
  if (st.point.empty()) st.point = r.point;
  if (r.point != st.point) return {};
  const bool good = r.quality == adapters::Quality::kGood && std::isfinite(r.value);
  if (!good) {
    st.has_last = false;  // a gap: nothing is integrated across it
    return {};
  }
  const std::int64_t t = r.timestamp_ms;
  const double w = r.value;
  bool advanced = false;
  if (st.has_last && t > st.last_ms && t - st.last_ms <= kMaxGapMs) {
    const double hours = static_cast<double>(t - st.last_ms) / 3'600'000.0;
    auto add = [&](double p0, double p1, double h) {  // one part that does not cross zero
      const double wh = (p0 + p1) / 2 * h;
      if (wh > 0) st.discharge_wh += wh;
      if (wh < 0) st.charge_wh -= wh;
    };
    if ((st.last_w < 0 && w > 0) || (st.last_w > 0 && w < 0)) {
      const double f = st.last_w / (st.last_w - w);  // where the line crosses zero
      add(st.last_w, 0, hours * f);
      add(0, w, hours * (1 - f));
    } else {
      add(st.last_w, w, hours);
    }
    advanced = true;
  }
  if (!st.has_last || t > st.last_ms) {
    st.has_last = true;
    st.last_ms = t;
    st.last_w = w;
  }
  if (!advanced) return {};
  auto counter = [&](const char* point, double wh) {
    adapters::Reading c;
    c.device = r.device;
    c.point = point;
    c.unit = "Wh";
    c.value = wh;
    c.quality = adapters::Quality::kGood;
    c.timestamp_ms = t;
    c.max_age_ms = r.max_age_ms;
    return c;
  };
  return {counter(kChargePoint, st.charge_wh), counter(kDischargePoint, st.discharge_wh)};
}

}  // namespace gridlet::runtime
