// SunSpec battery storage: 1 (common), 124 (basic storage controls), 713 (storage capacity),
// 802 (battery base). Model 124 sets a window for the charge power (StorCtl_Mod bits with
// InWRte/OutWRte in % of WChaMax, as Fronius and others interpret them): a negative InWRte with
// the charge bit forces discharging, a negative OutWRte with the discharge bit forces charging.
// Inside the window the battery does self-consumption. Controls revert after InOutWRte_RvrtTms.
// 802 CtrlHb watchdog: once the controller has changed it, no change for --heartbeat-timeout puts
// the 124 controls back to self-consumption (StorCtl_Mod = 0, as the revert does) and raises
// Evt1 COMMUNICATION_ERROR until AlmRst = 1.
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

constexpr int kPctSf = -1;     // ChaState, MinRsvPct, 713 Pct_SF, 802 SoC_SF
constexpr int kRateSf = -2;    // InOutWRte_SF: 10000 = 100.00 %
constexpr int kVSf = -1, kASf = -2, kAhSf = -1;
constexpr double kNominalV = 400.0;
constexpr std::uint16_t kStorCtlCharge = 1, kStorCtlDischarge = 2;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kEvtCommunicationError = 1u << 0;  // 802 Evt1 bit 0

struct StorageTargets {
  double wcha_max_w = 0;
  std::uint16_t mode = 0;
  double in_pct = 100;
  double out_pct = 100;
  double reserve = 0.10;
  double soc_max = 1.0;
  bool connected = true;
};

class BatteryDevice final : public SunSpecDevice {
 public:
  BatteryDevice(std::uint8_t unit, const DeviceContext& ctx)
      : SunSpecDevice(unit, ctx), ctrl_hb_(ctx.heartbeat_timeout, 0) {
    battery_ = ctx.building->add_battery();
    const auto& b = ctx.building->battery(battery_);
    rated_w_ = b.max_charge_w;
    layout_.add(1);
    m124_ = &layout_.add(124);
    m713_ = &layout_.add(713);
    m802_ = &layout_.add(802);
    finish_layout("devsim battery", "DS-BAT-" + std::to_string(unit));
    write_static();
    applied_.wcha_max_w = rated_w_;
    applied_.reserve = b.soc_reserve;
    latched_ = applied_;
    write_controls();
  }

  std::string_view kind() const override { return "battery"; }
  std::uint32_t heartbeat_losses() const override { return ctrl_hb_.losses(); }

  void on_written(std::uint16_t address, std::uint16_t count, TimePoint now) override {
    const auto& m = *m124_;
    const auto& b8 = *m802_;
    if (write_touches(b8, "CtrlHb", address, count)) ctrl_hb_.written(reg(b8, "CtrlHb"), now);
    if (write_touches(b8, "AlmRst", address, count) && reg(b8, "AlmRst") == 1) {
      put_u32(holding(), b8.at("Evt1"), 0);
      set(b8, "AlmRst", 0);  // a command, not a state
    }
    // A heartbeat or an alarm reset is no new setpoint: it must not restart (or stop) the
    // storage controls' timers.
    if (only_heartbeat_or_alarm(address, count)) return;
    latched_.wcha_max_w = read_scaled(m, "WChaMax", "WChaMax_SF");
    latched_.mode = reg(m, "StorCtl_Mod");
    latched_.in_pct = read_scaled(m, "InWRte", "InOutWRte_SF");
    latched_.out_pct = read_scaled(m, "OutWRte", "InOutWRte_SF");
    // Two registers hold the reserve: the one just written wins.
    if (write_touches(m, "MinRsvPct", address, count)) {
      latched_.reserve = read_scaled(m, "MinRsvPct", "MinRsvPct_SF") / 100.0;
    }
    if (write_touches(b8, "SoCRsvMin", address, count)) {
      latched_.reserve = read_scaled(b8, "SoCRsvMin", "SoC_SF") / 100.0;
    }
    latched_.soc_max = read_scaled(b8, "SocRsvMax", "SoC_SF") / 100.0;
    if (write_touches(b8, "SetOp", address, count)) latched_.connected = reg(b8, "SetOp") != 2;
    const bool rate_control = write_touches(m, "StorCtl_Mod", address, count) ||
                              write_touches(m, "InWRte", address, count) ||
                              write_touches(m, "OutWRte", address, count);
    const std::uint16_t revert_s = rate_control && latched_.mode != 0 ? reg(m, "InOutWRte_RvrtTms") : std::uint16_t{0};
    setpoint_.latch(now, effective_time(now, reg(m, "InOutWRte_WinTms")), revert_s);
  }

  void control(TimePoint now) override {
    if (ctrl_hb_.take_lost(now)) {
      // Fail-safe, as the revert: plain self-consumption, pending writes and timers dropped.
      applied_.mode = 0;
      latched_.mode = 0;
      set(*m124_, "StorCtl_Mod", 0);
      setpoint_ = TimedSetpoint{};
      put_u32(holding(), m802_->at("Evt1"), get_u32(holding(), m802_->at("Evt1")) | kEvtCommunicationError);
    }
    if (setpoint_.take_effect(now)) applied_ = latched_;
    if (setpoint_.take_revert(now)) {
      // Back to plain self-consumption; StorCtl_Mod reads 0 so the client can see it happened.
      applied_.mode = 0;
      latched_.mode = 0;
      set(*m124_, "StorCtl_Mod", 0);
    }
    auto& b = ctx_.building->battery(battery_);
    b.max_charge_w = std::min(rated_w_, applied_.wcha_max_w);
    const double upper = (applied_.mode & kStorCtlCharge) ? applied_.in_pct / 100.0 * applied_.wcha_max_w : kInf;
    const double lower = (applied_.mode & kStorCtlDischarge) ? -applied_.out_pct / 100.0 * applied_.wcha_max_w : -kInf;
    const bool contradictory = lower > upper;  // e.g. forced charge and forced discharge: hold
    b.window_min_charge_w = contradictory ? 0.0 : lower;
    b.window_max_charge_w = contradictory ? 0.0 : upper;
    b.soc_reserve = applied_.reserve;
    b.soc_max = applied_.soc_max;
    b.connected = applied_.connected;
    // Mirror the reserve into both models (whichever was written).
    set(*m124_, "MinRsvPct", scale_u16(applied_.reserve * 100.0, kPctSf));
    set(*m802_, "SoCRsvMin", scale_u16(applied_.reserve * 100.0, kPctSf));
  }

  void refresh(TimePoint now) override {
    const auto& b = ctx_.building->battery(battery_);
    auto* r = holding();
    const double soc_pct = b.soc * 100.0;
    const std::uint16_t cha_st = charge_state(b);

    const auto& m = *m124_;
    put_u16(r, m.at("ChaState"), scale_u16(soc_pct, kPctSf));
    put_u16(r, m.at("StorAval"), scale_u16(std::max(0.0, b.soc - b.soc_reserve) * b.capacity_wh / kNominalV, kAhSf));
    put_u16(r, m.at("InBatV"), scale_u16(voltage(b), kVSf));
    put_u16(r, m.at("ChaSt"), cha_st);

    const auto& c = *m713_;
    put_u16(r, c.at("WHRtg"), scale_u16(b.capacity_wh, 0));
    put_u16(r, c.at("WHAvail"), scale_u16(b.soc * b.capacity_wh, 0));
    put_u16(r, c.at("SoC"), scale_u16(soc_pct, kPctSf));
    put_u16(r, c.at("SoH"), scale_u16(100.0, kPctSf));
    put_u16(r, c.at("Sta"), 0);
    put_i16(r, c.at("WH_SF"), 0);
    put_i16(r, c.at("Pct_SF"), kPctSf);

    const auto& d = *m802_;
    put_u16(r, d.at("SoC"), scale_u16(soc_pct, kPctSf));
    put_u32(r, d.at("NCyc"), static_cast<std::uint32_t>(b.cycles));
    put_u16(r, d.at("ChaSt"), cha_st);
    // The battery's own heartbeat: counts seconds, so a client can tell it is alive.
    put_u16(r, d.at("Hb"), static_cast<std::uint16_t>(
                               std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()));
    put_u16(r, d.at("State"), b.connected ? 3 : 1);  // CONNECTED / DISCONNECTED
    put_u16(r, d.at("V"), scale_u16(voltage(b), kVSf));
    put_i16(r, d.at("A"), scale_i16(b.power_w / voltage(b), kASf));
    put_i16(r, d.at("W"), scale_i16(b.power_w, power_sf()));
    put_i16(r, d.at("W_SF"), static_cast<std::int16_t>(power_sf()));
  }

 private:
  void write_static() {
    const auto& d = *m802_;
    const auto& b = ctx_.building->battery(battery_);
    set(d, "AHRtg", scale_u16(b.capacity_wh / kNominalV, 0));
    set(d, "WHRtg", scale_u16(b.capacity_wh, 0));
    set(d, "WChaRteMax", scale_u16(b.max_charge_w, 0));
    set(d, "WDisChaRteMax", scale_u16(b.max_discharge_w, 0));
    set(d, "SoCMax", scale_u16(100.0, kPctSf));
    set(d, "SoCMin", scale_u16(0.0, kPctSf));
    set(d, "SocRsvMax", scale_u16(100.0, kPctSf));
    set(d, "SoCRsvMin", scale_u16(b.soc_reserve * 100.0, kPctSf));
    set(d, "SoH", scale_u16(100.0, kPctSf));
    set(d, "LocRemCtl", 0);  // REMOTE
    set(d, "CtrlHb", 0);
    set(d, "AlmRst", 0);
    set(d, "Typ", 4);  // LITHIUM_ION
    put_u32(holding(), d.at("Evt1"), 0);
    put_u32(holding(), d.at("Evt2"), 0);
    put_u32(holding(), d.at("EvtVnd1"), 0);
    put_u32(holding(), d.at("EvtVnd2"), 0);
    set(d, "VMax", scale_u16(450.0, kVSf));
    set(d, "VMin", scale_u16(340.0, kVSf));
    set(d, "SetOp", 1);
    set(d, "SetInvState", 3);
    set_i16(d, "AHRtg_SF", 0);
    set_i16(d, "WHRtg_SF", 0);
    set_i16(d, "WChaDisChaMax_SF", 0);
    set_i16(d, "SoC_SF", kPctSf);
    set_i16(d, "SoH_SF", kPctSf);
    set_i16(d, "V_SF", kVSf);
    set_i16(d, "CellV_SF", -3);
    set_i16(d, "A_SF", kASf);
    set_i16(d, "AMax_SF", 0);
    allow_write(802, "SocRsvMax", 500, 1000);
    allow_write(802, "SoCRsvMin", 0, 500);
    allow_write(802, "CtrlHb", 0, 65535);
    allow_write(802, "AlmRst", 0, 1);
    allow_write(802, "SetOp", 1, 2);
    allow_write(802, "SetInvState", 1, 3);
  }

  void write_controls() {
    const auto& m = *m124_;
    set(m, "WChaMax", scale_u16(rated_w_, 0));
    set(m, "WChaGra", 100);
    set(m, "WDisChaGra", 100);
    set(m, "StorCtl_Mod", 0);
    set(m, "MinRsvPct", scale_u16(applied_.reserve * 100.0, kPctSf));
    set_i16(m, "OutWRte", 10000);
    set_i16(m, "InWRte", 10000);
    set(m, "InOutWRte_WinTms", 0);
    set(m, "InOutWRte_RvrtTms", 0);
    set(m, "InOutWRte_RmpTms", 0);
    set(m, "ChaGriSet", 1);  // GRID: may charge from the grid
    set_i16(m, "WChaMax_SF", 0);
    set_i16(m, "WChaDisChaGra_SF", 0);
    set_i16(m, "MinRsvPct_SF", kPctSf);
    set_i16(m, "ChaState_SF", kPctSf);
    set_i16(m, "StorAval_SF", kAhSf);
    set_i16(m, "InBatV_SF", kVSf);
    set_i16(m, "InOutWRte_SF", kRateSf);
    allow_write(124, "WChaMax", 0, static_cast<int>(rated_w_));
    allow_write(124, "WChaGra", 0, 100);
    allow_write(124, "WDisChaGra", 0, 100);
    allow_write(124, "StorCtl_Mod", 0, 3);
    allow_write(124, "MinRsvPct", 0, 500);  // at most 50.0 %
    allow_write(124, "OutWRte", -10000, 10000);
    allow_write(124, "InWRte", -10000, 10000);
    allow_write(124, "InOutWRte_WinTms", 0, 300);
    allow_write(124, "InOutWRte_RvrtTms", 0, 28800);
    allow_write(124, "InOutWRte_RmpTms", 0, 600);
    allow_write(124, "ChaGriSet", 0, 1);
  }

  bool only_heartbeat_or_alarm(std::uint16_t address, std::uint16_t count) const {
    const auto& b8 = *m802_;
    for (std::uint32_t a = address; a < std::uint32_t{address} + count; ++a) {
      if (a != b8.at("CtrlHb") && a != b8.at("AlmRst")) return false;
    }
    return true;
  }

  static double voltage(const Battery& b) { return kNominalV - 20.0 + 40.0 * b.soc; }

  static std::uint16_t charge_state(const Battery& b) {
    if (!b.connected) return 1;                  // OFF
    if (b.power_w < -0.5) return 4;              // CHARGING
    if (b.power_w > 0.5) return 3;               // DISCHARGING
    if (b.soc >= b.soc_max - 1e-6) return 5;     // FULL
    if (b.soc <= b.soc_reserve + 1e-6) return 2; // EMPTY
    return 6;                                    // HOLDING
  }

  std::size_t battery_ = 0;
  double rated_w_ = 0;
  const PlacedModel* m124_ = nullptr;
  const PlacedModel* m713_ = nullptr;
  const PlacedModel* m802_ = nullptr;
  TimedSetpoint setpoint_;
  HeartbeatWatchdog ctrl_hb_;
  StorageTargets latched_;
  StorageTargets applied_;
};

}  // namespace

std::unique_ptr<Device> make_battery(std::uint8_t unit, const DeviceContext& ctx) {
  return std::make_unique<BatteryDevice>(unit, ctx);
}

}  // namespace gridlet::devsim
