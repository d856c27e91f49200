// SunSpec three-phase PV inverter: 1 (common), 103 (measurements), 120 (nameplate), 123
// (immediate controls: WMaxLimPct with window, revert and ramp; Conn), 160 (two MPPT inputs).
#include <algorithm>
#include <cmath>

#include "tests/sim/device_kinds.hpp"
#include "tests/sim/registers.hpp"
#include "tests/sim/sunspec_device.hpp"
#include "tests/sim/timed_setpoint.hpp"

namespace gridlet::devsim {
namespace {

constexpr int kASf = -2, kVSf = -1, kHzSf = -2, kVaSf = 0, kPfSf = -1, kWhSf = 0, kTmpSf = -1;
constexpr int kDcaSf = -2, kDcvSf = -1, kDcwSf = 0, kDcwhSf = 0;
constexpr int kWMaxLimPctSf = -1;  // 1000 = 100.0 %
constexpr int kOutPfSetSf = -3;
constexpr double kDcEfficiency = 0.97;
constexpr std::uint16_t kMpptCount = 2;

class Inverter final : public SunSpecDevice {
 public:
  Inverter(std::uint8_t unit, const DeviceContext& ctx) : SunSpecDevice(unit, ctx) {
    pv_ = ctx.building->add_pv();
    rated_w_ = ctx.building->pv(pv_).peak_w;
    layout_.add(1);
    m103_ = &layout_.add(103);
    m120_ = &layout_.add(120);
    m123_ = &layout_.add(123);
    m160_ = &layout_.add(160, kMpptCount);
    finish_layout("devsim PV inverter", "DS-INV-" + std::to_string(unit));
    write_nameplate();
    write_controls();
  }

  std::string_view kind() const override { return "inverter"; }

  void on_written(std::uint16_t address, std::uint16_t count, TimePoint now) override {
    const auto& m = *m123_;
    if (write_touches(m, "WMaxLimPct", address, count) || write_touches(m, "WMaxLim_Ena", address, count) ||
        write_touches(m, "WMaxLimPct_RvrtTms", address, count) ||
        write_touches(m, "WMaxLimPct_RmpTms", address, count)) {
      latched_pct_ = read_scaled(m, "WMaxLimPct", "WMaxLimPct_SF");
      latched_enabled_ = reg(m, "WMaxLim_Ena") == 1;
      latched_ramp_s_ = reg(m, "WMaxLimPct_RmpTms");
      limit_.latch(now, effective_time(now, reg(m, "WMaxLimPct_WinTms")),
                   latched_enabled_ ? reg(m, "WMaxLimPct_RvrtTms") : std::uint16_t{0});
    }
    if (write_touches(m, "Conn", address, count)) {
      latched_connected_ = reg(m, "Conn") == 1;
      conn_.latch(now, effective_time(now, reg(m, "Conn_WinTms")),
                  latched_connected_ ? std::uint16_t{0} : reg(m, "Conn_RvrtTms"));
    }
  }

  void control(TimePoint now) override {
    if (limit_.take_effect(now)) start_ramp(now, latched_enabled_ ? latched_pct_ : 100.0, latched_ramp_s_);
    if (limit_.take_revert(now)) {
      // The device drops the limit by itself and says so: WMaxLim_Ena reads DISABLED again.
      set(*m123_, "WMaxLim_Ena", 0);
      start_ramp(now, 100.0, 0);
    }
    if (conn_.take_effect(now)) connected_ = latched_connected_;
    if (conn_.take_revert(now)) {
      connected_ = true;
      set(*m123_, "Conn", 1);
    }
    auto& pv = ctx_.building->pv(pv_);
    pv.limit_w = current_pct(now) / 100.0 * rated_w_;
    pv.connected = connected_;
  }

  void refresh(TimePoint) override {
    const auto& pv = ctx_.building->pv(pv_);
    const auto& grid = ctx_.building->grid();
    auto* r = holding();
    const auto& m = *m103_;
    const double w = pv.output_w;
    const double phase_a = w / 3 / 230.0;
    put_u16(r, m.at("A"), scale_u16(phase_a * 3, kASf));
    for (const char* p : {"AphA", "AphB", "AphC"}) put_u16(r, m.at(p), scale_u16(phase_a, kASf));
    put_i16(r, m.at("A_SF"), kASf);
    const char* ll[] = {"PPVphAB", "PPVphBC", "PPVphCA"};
    const char* ln[] = {"PhVphA", "PhVphB", "PhVphC"};
    for (std::size_t i = 0; i < 3; ++i) {
      put_u16(r, m.at(ll[i]), scale_u16(grid.phase_v[i] * std::sqrt(3.0), kVSf));
      put_u16(r, m.at(ln[i]), scale_u16(grid.phase_v[i], kVSf));
    }
    put_i16(r, m.at("V_SF"), kVSf);
    put_i16(r, m.at("W"), scale_i16(w, power_sf()));
    put_i16(r, m.at("W_SF"), static_cast<std::int16_t>(power_sf()));
    put_u16(r, m.at("Hz"), scale_u16(grid.frequency_hz, kHzSf));
    put_i16(r, m.at("Hz_SF"), kHzSf);
    put_i16(r, m.at("VA"), scale_i16(w, kVaSf));
    put_i16(r, m.at("VA_SF"), kVaSf);
    put_i16(r, m.at("VAr"), 0);
    put_i16(r, m.at("VAr_SF"), kVaSf);
    put_i16(r, m.at("PF"), scale_i16(100.0, kPfSf));
    put_i16(r, m.at("PF_SF"), kPfSf);
    put_u32(r, m.at("WH"), scale_acc32(pv.energy_wh, kWhSf));
    put_i16(r, m.at("WH_SF"), kWhSf);
    const double dc_w = w / kDcEfficiency;
    const double dc_v = dc_voltage(pv);
    put_u16(r, m.at("DCA"), scale_u16(dc_w / dc_v, kDcaSf));
    put_i16(r, m.at("DCA_SF"), kDcaSf);
    put_u16(r, m.at("DCV"), scale_u16(dc_v, kDcvSf));
    put_i16(r, m.at("DCV_SF"), kDcvSf);
    put_i16(r, m.at("DCW"), scale_i16(dc_w, kDcwSf));
    put_i16(r, m.at("DCW_SF"), kDcwSf);
    put_i16(r, m.at("TmpCab"), scale_i16(25.0 + 15.0 * w / rated_w_, kTmpSf));
    put_i16(r, m.at("Tmp_SF"), kTmpSf);
    put_u16(r, m.at("St"), state(pv));
    put_u32(r, m.at("Evt1"), 0);
    put_u32(r, m.at("Evt2"), 0);

    const auto& mp = *m160_;
    put_i16(r, mp.at("DCA_SF"), kDcaSf);
    put_i16(r, mp.at("DCV_SF"), kDcvSf);
    put_i16(r, mp.at("DCW_SF"), kDcwSf);
    put_i16(r, mp.at("DCWH_SF"), kDcwhSf);
    put_u32(r, mp.at("Evt"), 0);
    put_u16(r, mp.at("N"), kMpptCount);
    for (std::uint16_t i = 0; i < kMpptCount; ++i) {
      // Two strings of different size: 55 % and 45 % of the array.
      const double share = i == 0 ? 0.55 : 0.45;
      put_u16(r, mp.repeat_at(i, "ID"), static_cast<std::uint16_t>(i + 1));
      put_string(r, mp.repeat_at(i, "IDStr"), 8, i == 0 ? "String 1" : "String 2");
      put_u16(r, mp.repeat_at(i, "DCA"), scale_u16(dc_w * share / dc_v, kDcaSf));
      put_u16(r, mp.repeat_at(i, "DCV"), scale_u16(dc_v, kDcvSf));
      put_u16(r, mp.repeat_at(i, "DCW"), scale_u16(dc_w * share, kDcwSf));
      put_u32(r, mp.repeat_at(i, "DCWH"), scale_acc32(pv.energy_wh / kDcEfficiency * share, kDcwhSf));
      put_u32(r, mp.repeat_at(i, "Tms"), static_cast<std::uint32_t>(ctx_.building->sim_seconds()));
      put_u16(r, mp.repeat_at(i, "DCSt"), state(pv));
      put_u32(r, mp.repeat_at(i, "DCEvt"), 0);
    }
  }

 private:
  void write_nameplate() {
    const auto& m = *m120_;
    set(m, "DERTyp", 4);  // PV
    set(m, "WRtg", scale_u16(rated_w_, 0));
    set_i16(m, "WRtg_SF", 0);
    set(m, "VARtg", scale_u16(rated_w_, 0));
    set_i16(m, "VARtg_SF", 0);
    for (const char* q : {"VArRtgQ1", "VArRtgQ2"}) set_i16(m, q, scale_i16(rated_w_ * 0.44, 0));
    for (const char* q : {"VArRtgQ3", "VArRtgQ4"}) set_i16(m, q, scale_i16(-rated_w_ * 0.44, 0));
    set_i16(m, "VArRtg_SF", 0);
    set(m, "ARtg", scale_u16(rated_w_ / 3 / 230.0 * 1.1, -1));
    set_i16(m, "ARtg_SF", -1);
    for (const char* q : {"PFRtgQ1", "PFRtgQ2"}) set_i16(m, q, 80);
    for (const char* q : {"PFRtgQ3", "PFRtgQ4"}) set_i16(m, q, -80);
    set_i16(m, "PFRtg_SF", -2);
  }

  void write_controls() {
    const auto& m = *m123_;
    for (const char* p : {"Conn_WinTms", "Conn_RvrtTms", "WMaxLimPct_WinTms", "WMaxLimPct_RvrtTms",
                          "WMaxLimPct_RmpTms", "WMaxLim_Ena", "OutPFSet_WinTms", "OutPFSet_RvrtTms",
                          "OutPFSet_RmpTms", "OutPFSet_Ena"}) {
      set(m, p, 0);
    }
    set(m, "Conn", 1);
    set(m, "WMaxLimPct", 1000);
    set_i16(m, "OutPFSet", 1000);
    set_i16(m, "WMaxLimPct_SF", kWMaxLimPctSf);
    set_i16(m, "OutPFSet_SF", kOutPfSetSf);
    allow_write(123, "Conn_WinTms", 0, 300);
    allow_write(123, "Conn_RvrtTms", 0, 28800);
    allow_write(123, "Conn", 0, 1);
    allow_write(123, "WMaxLimPct", 0, 1000);
    allow_write(123, "WMaxLimPct_WinTms", 0, 300);
    allow_write(123, "WMaxLimPct_RvrtTms", 0, 28800);
    allow_write(123, "WMaxLimPct_RmpTms", 0, 600);
    allow_write(123, "WMaxLim_Ena", 0, 1);
    allow_write(123, "OutPFSet", -1000, 1000);  // accepted, no effect on the (unity PF) physics
    allow_write(123, "OutPFSet_WinTms", 0, 300);
    allow_write(123, "OutPFSet_RvrtTms", 0, 28800);
    allow_write(123, "OutPFSet_RmpTms", 0, 600);
    allow_write(123, "OutPFSet_Ena", 0, 1);
  }

  void start_ramp(TimePoint now, double target_pct, std::uint16_t ramp_s) {
    ramp_from_pct_ = current_pct(now);
    ramp_to_pct_ = target_pct;
    ramp_start_ = now;
    ramp_s_ = ramp_s;
  }

  double current_pct(TimePoint now) const {
    if (ramp_s_ == 0) return ramp_to_pct_;
    const double t = std::chrono::duration<double>(now - ramp_start_).count() / ramp_s_;
    return ramp_from_pct_ + (ramp_to_pct_ - ramp_from_pct_) * std::clamp(t, 0.0, 1.0);
  }

  static double dc_voltage(const PvArray& pv) {
    return pv.available_w > 0 ? 330.0 + 60.0 * std::min(1.0, pv.available_w / pv.peak_w) : 300.0;
  }

  std::uint16_t state(const PvArray& pv) const {
    if (!pv.connected) return 8;            // STANDBY
    if (pv.available_w <= 0) return 2;      // SLEEPING
    if (pv.output_w + 0.5 < pv.available_w) return 5;  // THROTTLED
    return 4;                               // MPPT
  }

  std::size_t pv_ = 0;
  double rated_w_ = 0;
  const PlacedModel* m103_ = nullptr;
  const PlacedModel* m120_ = nullptr;
  const PlacedModel* m123_ = nullptr;
  const PlacedModel* m160_ = nullptr;

  TimedSetpoint limit_;
  double latched_pct_ = 100;
  bool latched_enabled_ = false;
  std::uint16_t latched_ramp_s_ = 0;
  double ramp_from_pct_ = 100;
  double ramp_to_pct_ = 100;
  TimePoint ramp_start_{};
  std::uint16_t ramp_s_ = 0;

  TimedSetpoint conn_;
  bool latched_connected_ = true;
  bool connected_ = true;
};

}  // namespace

std::unique_ptr<Device> make_inverter(std::uint8_t unit, const DeviceContext& ctx) {
  return std::make_unique<Inverter>(unit, ctx);
}

}  // namespace gridlet::devsim
