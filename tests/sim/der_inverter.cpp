// SunSpec DER PV inverter on the 7xx information models (IEEE 1547-2018 style): 1 (common), 701
// (AC measurements), 702 (capacity: ratings and settings), 704 (AC controls), 715 (DER control:
// heartbeats, alarm reset, start/stop). Same PV physics as the 1xx inverter (a PV array of the
// building). Implemented controls:
//   - WMaxLimPctEna/WMaxLimPct: output capped at WMaxLimPct % of WMax, after the setpoint delay;
//   - WSetEna/WSetMod/WSet (W) or WSetPct (% of WMax): output = min(setpoint, available PV);
//   - each with a reversion timer (..RvrtTms, from the last write that touches its block): when it
//     runs out the device applies ..Rvrt / ..EnaRvrt and writes them into the setpoint registers;
//     ..RvrtRem counts the seconds down (0 when no timer runs);
//   - 715 ControllerHb watchdog: once it has changed, no change for --heartbeat-timeout disables
//     both controls (WMaxLimPctEna = WSetEna = 0), latches an alarm (701 Alrm MANUFACTURER_ALRM,
//     MnAlrmInfo) until AlarmReset = 1, and counts the loss (fault block 64006-64007).
// Power factor and reactive power controls are not implemented (their points read as such and
// refuse writes with exception 2); neither are 702 settings (read-only here).
#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/sim/device_kinds.hpp"
#include "tests/sim/heartbeat.hpp"
#include "tests/sim/registers.hpp"
#include "tests/sim/sunspec_device.hpp"
#include "tests/sim/timed_setpoint.hpp"

namespace gridlet::devsim {
namespace {

constexpr int kASf = -2, kVSf = -1, kHzSf = -2, kVaSf = 0, kVarSf = 0, kPfSf = -2, kWhSf = 0, kTmpSf = -1;
constexpr int kRtgASf = -1;
constexpr int kWMaxLimPctSf = -1;  // 1000 = 100.0 %
constexpr int kWSetSf = 0;         // watts
constexpr int kWSetPctSf = -1;     // 1000 = 100.0 %
constexpr std::int64_t kMaxRevertS = 86400;
constexpr std::uint16_t kDisabled = 0, kEnabled = 1;
constexpr std::uint16_t kWSetModPct = 0, kWSetModWatts = 1;
constexpr std::uint16_t kOpStop = 0, kOpStart = 1, kOpEnterStandby = 2, kOpExitStandby = 3;
constexpr std::uint32_t kAlrmManufacturer = 1u << 16;       // 701 Alrm bit 16
constexpr std::uint32_t kDerModeGridFollowing = 1u << 0;    // 701 DERMode bits
constexpr std::uint32_t kDerModePvClipped = 1u << 2;
constexpr std::uint32_t kThrotMaxW = 1u << 0, kThrotFixedW = 1u << 1;  // 701 ThrotSrc bits
constexpr double kInf = std::numeric_limits<double>::infinity();

// One active-power function of 704 as the device applies it: on/off and its cap in watts.
struct PowerCap {
  bool enabled = false;
  double cap_w = kInf;
  double effective_w() const { return enabled ? cap_w : kInf; }
};

class DerInverter final : public SunSpecDevice {
 public:
  DerInverter(std::uint8_t unit, const DeviceContext& ctx)
      : SunSpecDevice(unit, ctx), controller_hb_(ctx.heartbeat_timeout, 0) {
    pv_ = ctx.building->add_pv();
    rated_w_ = ctx.building->pv(pv_).peak_w;
    layout_.add(1);
    m701_ = &layout_.add(701);
    m702_ = &layout_.add(702);
    m704_ = &layout_.add(704);
    m715_ = &layout_.add(715);
    finish_layout("devsim DER inverter", "DS-DER-" + std::to_string(unit));
    write_capacity_static();
    write_controls();
  }

  std::string_view kind() const override { return "der"; }
  std::uint32_t heartbeat_losses() const override { return controller_hb_.losses(); }

  void on_written(std::uint16_t address, std::uint16_t count, TimePoint now) override {
    const auto& c = *m704_;
    if (touches_block(c, "WMaxLimPctEna", "WMaxLimPctRvrtTms", address, count)) {
      latched_limit_ = PowerCap{reg(c, "WMaxLimPctEna") == kEnabled,
                                read_scaled(c, "WMaxLimPct", "WMaxLimPct_SF") / 100.0 * rated_w_};
      limit_.latch(now, effective_time(now, 0), static_cast<std::uint32_t>(raw_value(c, "WMaxLimPctRvrtTms")));
    }
    if (touches_block(c, "WSetEna", "WSetRvrtTms", address, count)) {
      latched_wset_ = PowerCap{reg(c, "WSetEna") == kEnabled, wset_w()};
      wset_.latch(now, effective_time(now, 0), static_cast<std::uint32_t>(raw_value(c, "WSetRvrtTms")));
    }
    const auto& d = *m715_;
    if (write_touches(d, "ControllerHb", address, count)) {
      controller_hb_.written(static_cast<std::uint32_t>(raw_value(d, "ControllerHb")), now);
    }
    if (write_touches(d, "AlarmReset", address, count) && reg(d, "AlarmReset") == 1) {
      hb_alarm_ = false;
      set(d, "AlarmReset", 0);  // a command, not a state
    }
    if (write_touches(d, "OpCtl", address, count)) {
      latched_op_ = reg(d, "OpCtl");
      op_.latch(now, effective_time(now, 0), 0);
    }
  }

  void control(TimePoint now) override {
    const auto& c = *m704_;
    if (limit_.take_effect(now)) applied_limit_ = latched_limit_;
    if (limit_.take_revert(now)) {
      // Reversion: the device applies the reversion values and shows them as the setpoint.
      set(c, "WMaxLimPctEna", reg(c, "WMaxLimPctEnaRvrt"));
      set(c, "WMaxLimPct", reg(c, "WMaxLimPctRvrt"));
      applied_limit_ = PowerCap{reg(c, "WMaxLimPctEna") == kEnabled,
                                read_scaled(c, "WMaxLimPct", "WMaxLimPct_SF") / 100.0 * rated_w_};
    }
    if (wset_.take_effect(now)) applied_wset_ = latched_wset_;
    if (wset_.take_revert(now)) {
      set(c, "WSetEna", reg(c, "WSetEnaRvrt"));
      put_u32(holding(), c.at("WSet"), get_u32(holding(), c.at("WSetRvrt")));
      set(c, "WSetPct", reg(c, "WSetPctRvrt"));
      applied_wset_ = PowerCap{reg(c, "WSetEna") == kEnabled, wset_w()};
    }
    if (op_.take_effect(now)) {
      running_ = latched_op_ == kOpStart || latched_op_ == kOpExitStandby;
      op_state_ = latched_op_;
    }
    if (controller_hb_.take_lost(now)) {
      // Fail-safe: the controller is gone, so are its limits (pending writes and timers too).
      set(c, "WMaxLimPctEna", kDisabled);
      set(c, "WSetEna", kDisabled);
      applied_limit_.enabled = latched_limit_.enabled = false;
      applied_wset_.enabled = latched_wset_.enabled = false;
      limit_ = TimedSetpoint{};
      wset_ = TimedSetpoint{};
      hb_alarm_ = true;
    }
    auto& pv = ctx_.building->pv(pv_);
    pv.limit_w = std::min({rated_w_, applied_limit_.effective_w(), applied_wset_.effective_w()});
    pv.connected = running_;
  }

  void refresh(TimePoint now) override {
    const auto& pv = ctx_.building->pv(pv_);
    const auto& grid = ctx_.building->grid();
    auto* r = holding();
    const auto& m = *m701_;
    const int wsf = power_sf();
    const double w = pv.output_w;
    const bool throttled = pv.connected && pv.output_w + 0.5 < pv.available_w;

    put_u16(r, m.at("ACType"), 2);  // THREE_PHASE
    put_u16(r, m.at("St"), running_ ? 1 : 0);
    put_u16(r, m.at("InvSt"), inverter_state(pv, throttled));
    put_u16(r, m.at("ConnSt"), running_ ? 1 : 0);
    put_u32(r, m.at("Alrm"), hb_alarm_ ? kAlrmManufacturer : 0);
    put_u32(r, m.at("DERMode"), kDerModeGridFollowing | (throttled ? kDerModePvClipped : 0));
    put_i16(r, m.at("W"), scale_i16(w, wsf));
    put_i16(r, m.at("VA"), scale_i16(w, kVaSf));
    put_i16(r, m.at("Var"), 0);
    put_i16(r, m.at("PF"), scale_i16(1.0, kPfSf));
    put_i16(r, m.at("A"), scale_i16(w / 3 / 230.0 * 3, kASf));
    double v_avg = 0;
    for (const double v : grid.phase_v) v_avg += v / 3;
    put_u16(r, m.at("LLV"), scale_u16(v_avg * std::sqrt(3.0), kVSf));
    put_u16(r, m.at("LNV"), scale_u16(v_avg, kVSf));
    put_u32(r, m.at("Hz"), static_cast<std::uint32_t>(to_raw(grid.frequency_hz, kHzSf)));
    put_u64(r, m.at("TotWhInj"), scale_u64(pv.energy_wh, kWhSf));
    put_u64(r, m.at("TotWhAbs"), 0);
    put_u64(r, m.at("TotVarhInj"), 0);
    put_u64(r, m.at("TotVarhAbs"), 0);
    put_i16(r, m.at("TmpCab"), scale_i16(25.0 + 15.0 * w / rated_w_, kTmpSf));
    const char* phase_w[] = {"WL1", "WL2", "WL3"};
    const char* phase_va[] = {"VAL1", "VAL2", "VAL3"};
    const char* phase_var[] = {"VarL1", "VarL2", "VarL3"};
    const char* phase_pf[] = {"PFL1", "PFL2", "PFL3"};
    const char* phase_a[] = {"AL1", "AL2", "AL3"};
    const char* phase_ll[] = {"VL1L2", "VL2L3", "VL3L1"};
    const char* phase_ln[] = {"VL1", "VL2", "VL3"};
    const char* phase_inj[] = {"TotWhInjL1", "TotWhInjL2", "TotWhInjL3"};
    const char* phase_abs[] = {"TotWhAbsL1", "TotWhAbsL2", "TotWhAbsL3"};
    const char* phase_varh_inj[] = {"TotVarhInjL1", "TotVarhInjL2", "TotVarhInjL3"};
    const char* phase_varh_abs[] = {"TotVarhAbsL1", "TotVarhAbsL2", "TotVarhAbsL3"};
    for (std::size_t i = 0; i < 3; ++i) {
      put_i16(r, m.at(phase_w[i]), scale_i16(w / 3, wsf));
      put_i16(r, m.at(phase_va[i]), scale_i16(w / 3, kVaSf));
      put_i16(r, m.at(phase_var[i]), 0);
      put_i16(r, m.at(phase_pf[i]), scale_i16(1.0, kPfSf));
      put_i16(r, m.at(phase_a[i]), scale_i16(w / 3 / grid.phase_v[i], kASf));
      put_u16(r, m.at(phase_ll[i]), scale_u16(grid.phase_v[i] * std::sqrt(3.0), kVSf));
      put_u16(r, m.at(phase_ln[i]), scale_u16(grid.phase_v[i], kVSf));
      put_u64(r, m.at(phase_inj[i]), scale_u64(pv.energy_wh / 3, kWhSf));
      put_u64(r, m.at(phase_abs[i]), 0);
      put_u64(r, m.at(phase_varh_inj[i]), 0);
      put_u64(r, m.at(phase_varh_abs[i]), 0);
    }
    std::uint32_t throt_src = 0;
    if (throttled && applied_limit_.effective_w() <= pv.limit_w + 0.5) throt_src |= kThrotMaxW;
    if (throttled && applied_wset_.effective_w() <= pv.limit_w + 0.5) throt_src |= kThrotFixedW;
    put_u32(r, m.at("ThrotSrc"), throt_src);
    put_i16(r, m.at("A_SF"), kASf);
    put_i16(r, m.at("V_SF"), kVSf);
    put_i16(r, m.at("Hz_SF"), kHzSf);
    put_i16(r, m.at("W_SF"), static_cast<std::int16_t>(wsf));
    put_i16(r, m.at("PF_SF"), kPfSf);
    put_i16(r, m.at("VA_SF"), kVaSf);
    put_i16(r, m.at("Var_SF"), kVarSf);
    put_i16(r, m.at("TotWh_SF"), kWhSf);
    put_i16(r, m.at("TotVarh_SF"), kWhSf);
    put_i16(r, m.at("Tmp_SF"), kTmpSf);
    put_string(r, m.at("MnAlrmInfo"), 32, hb_alarm_ ? "controller heartbeat lost" : "");

    // 702 W points follow the (possibly injected) W_SF, like every W point of the unit.
    const auto& cap = *m702_;
    for (const char* p : {"WMaxRtg", "WOvrExtRtg", "WUndExtRtg", "WMax", "WMaxOvrExt", "WMaxUndExt"}) {
      put_u16(r, cap.at(p), scale_u16(rated_w_, wsf));
    }
    put_i16(r, cap.at("W_SF"), static_cast<std::int16_t>(wsf));

    const auto& c = *m704_;
    put_u32(r, c.at("WMaxLimPctRvrtRem"), remaining_s(limit_, now));
    put_u32(r, c.at("WSetRvrtRem"), remaining_s(wset_, now));

    // The device's heartbeat: counts seconds, so a controller can tell it is alive.
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    put_u32(r, m715_->at("DERHb"), static_cast<std::uint32_t>(seconds));
  }

 private:
  void write_capacity_static() {
    const auto& m = *m702_;
    set(m, "WOvrExtRtgPF", 80);  // 0.80 at PF_SF -2
    set(m, "WUndExtRtgPF", 80);
    set(m, "WOvrExtPF", 80);
    set(m, "WUndExtPF", 80);
    for (const char* p : {"VAMaxRtg", "VAMax"}) set(m, p, scale_u16(rated_w_, kVaSf));
    for (const char* p : {"VarMaxInjRtg", "VarMaxAbsRtg", "VarMaxInj", "VarMaxAbs"}) {
      set(m, p, scale_u16(rated_w_ * 0.44, kVarSf));
    }
    for (const char* p : {"VNomRtg", "VNom"}) set(m, p, scale_u16(230.0, kVSf));
    for (const char* p : {"VMaxRtg", "VMax"}) set(m, p, scale_u16(253.0, kVSf));
    for (const char* p : {"VMinRtg", "VMin"}) set(m, p, scale_u16(195.5, kVSf));
    for (const char* p : {"AMaxRtg", "AMax"}) set(m, p, scale_u16(rated_w_ / 3 / 230.0 * 1.1, kRtgASf));
    set(m, "NorOpCatRtg", 1);  // CAT_B
    set(m, "AbnOpCatRtg", 1);  // CAT_2
    put_u32(holding(), m.at("CtrlModes"), (1u << 0) | (1u << 1));  // MAX_W, FIXED_W
    set(m, "IntIslandCatRtg", 1);  // UNCATEGORIZED
    set(m, "IntIslandCat", 1);
    set_i16(m, "PF_SF", kPfSf);
    set_i16(m, "VA_SF", kVaSf);
    set_i16(m, "Var_SF", kVarSf);
    set_i16(m, "V_SF", kVSf);
    set_i16(m, "A_SF", kRtgASf);
  }

  void write_controls() {
    const auto& c = *m704_;
    const auto rated_raw = static_cast<std::int64_t>(to_raw(rated_w_, kWSetSf));
    set(c, "WMaxLimPctEna", kDisabled);
    set(c, "WMaxLimPct", 1000);
    set(c, "WMaxLimPctRvrt", 1000);
    set(c, "WMaxLimPctEnaRvrt", kDisabled);
    put_u32(holding(), c.at("WMaxLimPctRvrtTms"), 0);
    put_u32(holding(), c.at("WMaxLimPctRvrtRem"), 0);
    set(c, "WSetEna", kDisabled);
    set(c, "WSetMod", kWSetModWatts);
    put_u32(holding(), c.at("WSet"), static_cast<std::uint32_t>(rated_raw));
    put_u32(holding(), c.at("WSetRvrt"), static_cast<std::uint32_t>(rated_raw));
    set_i16(c, "WSetPct", 1000);
    set_i16(c, "WSetPctRvrt", 1000);
    set(c, "WSetEnaRvrt", kDisabled);
    put_u32(holding(), c.at("WSetRvrtTms"), 0);
    put_u32(holding(), c.at("WSetRvrtRem"), 0);
    set_i16(c, "WMaxLimPct_SF", kWMaxLimPctSf);
    set_i16(c, "WSet_SF", kWSetSf);
    set_i16(c, "WSetPct_SF", kWSetPctSf);
    allow_write(704, "WMaxLimPctEna", 0, 1);
    allow_write(704, "WMaxLimPct", 0, 1000);
    allow_write(704, "WMaxLimPctRvrt", 0, 1000);
    allow_write(704, "WMaxLimPctEnaRvrt", 0, 1);
    allow_write(704, "WMaxLimPctRvrtTms", 0, kMaxRevertS);
    allow_write(704, "WSetEna", 0, 1);
    allow_write(704, "WSetMod", kWSetModPct, kWSetModWatts);
    allow_write(704, "WSet", 0, rated_raw);  // a PV inverter neither absorbs nor exceeds WMax
    allow_write(704, "WSetRvrt", 0, rated_raw);
    allow_write(704, "WSetPct", 0, 1000);
    allow_write(704, "WSetPctRvrt", 0, 1000);
    allow_write(704, "WSetEnaRvrt", 0, 1);
    allow_write(704, "WSetRvrtTms", 0, kMaxRevertS);

    const auto& d = *m715_;
    set(d, "LocRemCtl", 0);  // REMOTE
    put_u32(holding(), d.at("ControllerHb"), 0);
    set(d, "AlarmReset", 0);
    set(d, "OpCtl", kOpStart);
    allow_write(715, "ControllerHb", 0, 0xFFFFFFFF);
    allow_write(715, "AlarmReset", 0, 1);
    allow_write(715, "OpCtl", kOpStop, kOpExitStandby);
  }

  // True when [address, address + count) overlaps the points first..last of model `m`.
  bool touches_block(const PlacedModel& m, std::string_view first, std::string_view last, std::uint16_t address,
                     std::uint16_t count) const {
    const auto* p = sunspec::find_point(m.def->top, last);
    const auto begin = m.at(first);
    const auto end = m.at(last) + p->size;
    return address < end && std::uint32_t{address} + count > begin;
  }

  // The WSet target in watts, in the current WSetMod (WATTS: WSet; W_MAX_PCT: WSetPct % of WMax).
  double wset_w() {
    const auto& c = *m704_;
    if (reg(c, "WSetMod") == kWSetModPct) return read_scaled(c, "WSetPct", "WSetPct_SF") / 100.0 * rated_w_;
    return static_cast<double>(raw_value(c, "WSet")) * std::pow(10.0, kWSetSf);
  }

  static std::uint32_t remaining_s(const TimedSetpoint& t, TimePoint now) {
    const auto at = t.revert_at();
    if (!at || *at <= now) return 0;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*at - now).count();
    return static_cast<std::uint32_t>((ms + 999) / 1000);  // rounded up: 0 only once it ran out
  }

  std::uint16_t inverter_state(const PvArray& pv, bool throttled) const {
    if (!running_) return op_state_ == kOpEnterStandby ? 7 : 0;  // STANDBY / OFF
    if (pv.available_w <= 0) return 1;                           // SLEEPING
    if (throttled) return 4;                                     // THROTTLED
    return 3;                                                    // RUNNING
  }

  std::size_t pv_ = 0;
  double rated_w_ = 0;
  const PlacedModel* m701_ = nullptr;
  const PlacedModel* m702_ = nullptr;
  const PlacedModel* m704_ = nullptr;
  const PlacedModel* m715_ = nullptr;

  TimedSetpoint limit_;
  PowerCap latched_limit_;
  PowerCap applied_limit_;
  TimedSetpoint wset_;
  PowerCap latched_wset_;
  PowerCap applied_wset_;
  TimedSetpoint op_;
  std::uint16_t latched_op_ = kOpStart;
  std::uint16_t op_state_ = kOpStart;
  bool running_ = true;
  HeartbeatWatchdog controller_hb_;
  bool hb_alarm_ = false;
};

}  // namespace

std::unique_ptr<Device> make_der_inverter(std::uint8_t unit, const DeviceContext& ctx) {
  return std::make_unique<DerInverter>(unit, ctx);
}

}  // namespace gridlet::devsim
