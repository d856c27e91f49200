#include "adapters/modbus/control.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "adapters/modbus/codec.hpp"
#include "adapters/modbus/sunspec_models.hpp"

namespace gridlet::adapters::modbus {

// What a register written together with the value receives.
enum class Fill : std::uint8_t {
  kZero,         // e.g. WinTms = 0: take effect now, no random window
  kOne,          // e.g. WSetMod = 1 (watts)
  kRevertS,      // the revert timer, seconds
  kRevertValue,  // the control's revert value (704 WMaxLimPctRvrt), scaled like the value
};

struct Companion {
  std::string_view point;
  Fill fill = Fill::kZero;
};

struct SunSpecControl {
  std::uint16_t model = 0;
  std::string_view model_name;
  std::string_view point;
  std::optional<double> min;
  std::optional<double> max;
  std::array<std::string_view, 2> nameplate_max{};  // first known bounds the value (and -it, below)
  bool symmetric = false;                           // min = -nameplate max
  std::array<Companion, 4> companions{};            // written with the value
  std::string_view enable;                          // 1 on set, 0 on release
  std::string_view mode_point;                      // `mode_bit` set on set, cleared on release
  std::uint16_t mode_bit = 0;
  std::optional<double> default_failsafe;           // written on release when no enable/mode
  bool failsafe_is_nameplate = false;               // release writes the nameplate maximum
  bool revert_timer = false;                        // one of the companions is a revert timer
  std::optional<double> revert_value;               // for Fill::kRevertValue
};

namespace {

using sunspec::PointDef;
using sunspec::PointType;

// GCC 12 warns about members left to their default initializers in designated initializers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
// The catalogue. Point names and layouts are checked against the official JSON by
// tests/unit/sunspec_models_test.cpp; the semantics follow the SunSpec model descriptions.
const std::array<SunSpecControl, 11> kControls{{
    // 123: WMaxLimPct with window, revert timer and ramp (the ramp is the installer's, kept).
    {.model = 123, .model_name = "controls", .point = "WMaxLimPct", .min = 0.0, .max = 100.0,
     .companions = {{{"WMaxLimPct_WinTms", Fill::kZero}, {"WMaxLimPct_RvrtTms", Fill::kRevertS}}},
     .enable = "WMaxLim_Ena", .revert_timer = true},
    // 123: connect (1) / disconnect (0); a release reconnects.
    {.model = 123, .model_name = "controls", .point = "Conn", .min = 0.0, .max = 1.0,
     .companions = {{{"Conn_WinTms", Fill::kZero}, {"Conn_RvrtTms", Fill::kRevertS}}},
     .default_failsafe = 1.0, .revert_timer = true},
    // 124: maximum charge power, bounded by the nameplate; released back to the nameplate.
    {.model = 124, .model_name = "storage_basic", .point = "WChaMax", .min = 0.0,
     .nameplate_max = {"nameplate.WChaRteMax", "battery.WChaRteMax"}, .failsafe_is_nameplate = true},
    // 124: charge / discharge rate in % of WChaMax / WDisChaMax, active with their StorCtl_Mod bit.
    {.model = 124, .model_name = "storage_basic", .point = "InWRte", .min = -100.0, .max = 100.0,
     .companions = {{{"InOutWRte_WinTms", Fill::kZero}, {"InOutWRte_RvrtTms", Fill::kRevertS}}},
     .mode_point = "StorCtl_Mod", .mode_bit = 1, .revert_timer = true},
    {.model = 124, .model_name = "storage_basic", .point = "OutWRte", .min = -100.0, .max = 100.0,
     .companions = {{{"InOutWRte_WinTms", Fill::kZero}, {"InOutWRte_RvrtTms", Fill::kRevertS}}},
     .mode_point = "StorCtl_Mod", .mode_bit = 2, .revert_timer = true},
    {.model = 124, .model_name = "storage_basic", .point = "StorCtl_Mod", .min = 0.0, .max = 3.0,
     .default_failsafe = 0.0},
    {.model = 124, .model_name = "storage_basic", .point = "MinRsvPct", .min = 0.0, .max = 100.0},
    // 704: limit in % of WMax with its own revert value and enable-after-revert (disabled).
    {.model = 704, .model_name = "DERCtlAC", .point = "WMaxLimPct", .min = 0.0, .max = 100.0,
     .companions = {{{"WMaxLimPctRvrt", Fill::kRevertValue},
                     {"WMaxLimPctEnaRvrt", Fill::kZero},
                     {"WMaxLimPctRvrtTms", Fill::kRevertS}}},
     .enable = "WMaxLimPctEna", .revert_timer = true, .revert_value = 100.0},
    // 704: active power in watts (WSetMod 1), within +-the nameplate rating.
    {.model = 704, .model_name = "DERCtlAC", .point = "WSet",
     .nameplate_max = {"DERCapacity.WMaxRtg", "DERCapacity.WMax"}, .symmetric = true,
     .companions = {{{"WSetMod", Fill::kOne},
                     {"WSetEnaRvrt", Fill::kZero},
                     {"WSetRvrtTms", Fill::kRevertS}}},
     .enable = "WSetEna", .revert_timer = true},
    // 802: state-of-charge reserve limits.
    {.model = 802, .model_name = "battery", .point = "SocRsvMax", .min = 0.0, .max = 100.0},
    {.model = 802, .model_name = "battery", .point = "SoCRsvMin", .min = 0.0, .max = 100.0},
}};
#pragma GCC diagnostic pop

std::optional<DataType> data_type(PointType t) {
  switch (t) {
    case PointType::kUint16: return DataType::kU16;
    case PointType::kInt16: return DataType::kI16;
    case PointType::kUint32: return DataType::kU32;
    case PointType::kInt32: return DataType::kI32;
    case PointType::kEnum16: return DataType::kEnum16;
    case PointType::kBitfield16: return DataType::kBitfield16;
    default: return std::nullopt;
  }
}

const PointDef* point_of(const SunSpecControl& c, std::string_view name) {
  const sunspec::ModelDef* def = sunspec::find_model(c.model);
  return def ? sunspec::find_point(def->top, name) : nullptr;
}

// The scale factor exponent of `p` from the block; nullopt when it has none (0 then) is not
// distinguished from missing: callers check p->sf first.
std::optional<std::int64_t> scale_factor(const SunSpecControl& c, const PointDef& p,
                                         std::span<const std::uint16_t> block) {
  if (p.sf.empty()) return 0;
  const PointDef* sf = point_of(c, p.sf);
  if (sf == nullptr || sf->offset >= block.size()) return std::nullopt;
  const auto raw = static_cast<std::int16_t>(block[sf->offset]);
  if (raw == INT16_MIN || raw < kMinScaleFactor || raw > kMaxScaleFactor) return std::nullopt;
  return raw;
}

std::optional<double> bound_max(const SunSpecControl& c, const NameplateLookup& nameplate) {
  for (std::string_view key : c.nameplate_max) {
    if (key.empty() || !nameplate) continue;
    if (auto v = nameplate(key)) return *v;
  }
  return std::nullopt;
}

// Registers to write, by offset in the model; grouped into as few writes as the layout allows.
using Assignments = std::map<std::uint16_t, std::uint16_t>;

bool assign(Assignments& a, const PointDef& p, std::span<const std::uint16_t> regs) {
  for (std::size_t i = 0; i < regs.size(); ++i) a[static_cast<std::uint16_t>(p.offset + i)] = regs[i];
  return true;
}

// Turns assignments into writes: one write per run of consecutive registers. Gaps are never
// bridged: a register between two we set may be optional (a sentinel the device refuses to take
// back) or owned by someone else (a local EMS). The register at `last_offset` (the enable or the
// mode) is always written alone, last, once the value and its timers are in place.
std::vector<RegisterWrite> to_writes(const Assignments& a, std::uint16_t model_address,
                                     std::optional<std::uint16_t> last_offset) {
  std::vector<RegisterWrite> writes;
  std::optional<RegisterWrite> final_write;
  for (const auto& [off, value] : a) {
    const auto address = static_cast<std::uint16_t>(model_address + off);
    if (last_offset && off == *last_offset) {
      final_write = RegisterWrite{Table::kHolding, address, {value}};
      continue;
    }
    if (!writes.empty()) {
      RegisterWrite& w = writes.back();
      if (w.address + w.values.size() == address) {
        w.values.push_back(value);
        continue;
      }
    }
    writes.push_back({Table::kHolding, address, {value}});
  }
  if (final_write) writes.push_back(std::move(*final_write));
  return writes;
}

void add_check(WritePlan& plan, std::uint16_t model_address, const PointDef& p,
               const Assignments& a) {
  ReadbackCheck ch{Table::kHolding, static_cast<std::uint16_t>(model_address + p.offset), {}};
  for (std::uint16_t i = 0; i < p.size; ++i) ch.expected.push_back(a.at(static_cast<std::uint16_t>(p.offset + i)));
  plan.checks.push_back(std::move(ch));
}

// Encodes `value` for point p scaled by the block's SF; on failure sets plan.error.
std::optional<std::vector<std::uint16_t>> encode_scaled(const SunSpecControl& c, const PointDef& p,
                                                        std::span<const std::uint16_t> block,
                                                        double value, WritePlan& plan,
                                                        double* rounded) {
  const auto type = data_type(p.type);
  const auto sf = scale_factor(c, p, block);
  if (!type || !sf) {
    plan.error = fmt::format("{}.{}: the device's scale factor {} is missing or invalid",
                             c.model_name, p.name, p.sf);
    return std::nullopt;
  }
  Encoding enc;
  enc.type = *type;
  enc.sentinels = true;
  EncodeResult e = encode(value, enc, Scale{1.0, *sf});
  if (!e.ok()) {
    plan.error = fmt::format("{}.{} = {} cannot be written: {}", c.model_name, p.name, value,
                             to_string(e.error));
    return std::nullopt;
  }
  if (rounded) {
    const DecodeResult d = decode(e.registers, enc);
    const ScaledValue v = apply_scale(d.number, Scale{1.0, *sf});
    *rounded = v.value;
  }
  return std::move(e.registers);
}

std::string address_text(Table t, std::uint16_t address) {
  switch (t) {
    case Table::kCoil: return fmt::format("coil {}", address);
    case Table::kHolding: return std::to_string(address);
    default: return fmt::format("{} {}", to_string(t), address);
  }
}

}  // namespace

std::string WritePlan::describe() const {
  std::string out;
  for (const auto& w : writes) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}=[{}]", address_text(w.table, w.address), fmt::join(w.values, ","));
  }
  return out;
}

const SunSpecControl* find_sunspec_control(std::string_view name) {
  for (const auto& c : kControls) {
    if (name.size() == c.model_name.size() + 1 + c.point.size() && name.starts_with(c.model_name) &&
        name[c.model_name.size()] == '.' && name.ends_with(c.point)) {
      return &c;
    }
  }
  return nullptr;
}

std::vector<const SunSpecControl*> sunspec_controls_of(std::uint16_t model_id) {
  std::vector<const SunSpecControl*> out;
  for (const auto& c : kControls) {
    if (c.model == model_id) out.push_back(&c);
  }
  return out;
}

std::uint16_t control_model(const SunSpecControl& c) { return c.model; }
std::string control_name(const SunSpecControl& c) {
  return fmt::format("{}.{}", c.model_name, c.point);
}
bool control_has_revert_timer(const SunSpecControl& c) { return c.revert_timer; }

ControlInfo sunspec_control_info(const SunSpecControl& c, const NameplateLookup& nameplate) {
  ControlInfo info;
  info.point = control_name(c);
  const PointDef* p = point_of(c, c.point);
  info.unit = p ? std::string(p->units) : std::string();
  info.min = c.min;
  info.max = c.max;
  if (auto m = bound_max(c, nameplate)) {
    info.max = info.max ? std::min(*info.max, *m) : *m;
    if (c.symmetric) info.min = -*info.max;
  }
  if (c.failsafe_is_nameplate) info.failsafe = bound_max(c, nameplate);
  if (c.default_failsafe) info.failsafe = c.default_failsafe;
  if (!c.enable.empty()) {
    info.release = fmt::format("{} = 0 (the device's own limit)", c.enable);
  } else if (!c.mode_point.empty()) {
    info.release = fmt::format("clear bit {} of {}", c.mode_bit, c.mode_point);
  } else if (info.failsafe) {
    info.release = fmt::format("write {}", *info.failsafe);
  } else {
    info.release = "stop keeping it (no fail-safe value configured)";
  }
  return info;
}

WritePlan plan_sunspec_set(const SunSpecControl& c, const SunSpecWriteContext& ctx, double value) {
  WritePlan plan;
  const PointDef* p = point_of(c, c.point);
  if (p == nullptr || p->offset + p->size > ctx.block.size()) {
    plan.error = fmt::format("{}: the model block is too short", control_name(c));
    return plan;
  }
  if (!std::isfinite(value)) {
    plan.error = fmt::format("{}: the value must be a finite number", control_name(c));
    return plan;
  }
  const ControlInfo info = sunspec_control_info(c, ctx.nameplate);
  if (!c.nameplate_max[0].empty() && !bound_max(c, ctx.nameplate)) {
    plan.error = fmt::format("{}: the device's nameplate ({}) is not known yet, so the value cannot be "
                             "range-checked; try again after the first poll",
                             control_name(c), c.nameplate_max[0]);
    return plan;
  }
  if ((info.min && value < *info.min) || (info.max && value > *info.max)) {
    plan.error = fmt::format("{} = {} is outside [{}, {}] {}", control_name(c), value,
                             info.min ? fmt::format("{}", *info.min) : "-inf",
                             info.max ? fmt::format("{}", *info.max) : "inf", info.unit);
    return plan;
  }
  Assignments a;
  auto regs = encode_scaled(c, *p, ctx.block, value, plan, &plan.value);
  if (!regs) return plan;
  plan.has_value = true;
  assign(a, *p, *regs);
  for (const Companion& comp : c.companions) {
    if (comp.point.empty()) continue;
    const PointDef* cp = point_of(c, comp.point);
    if (cp == nullptr || cp->offset + cp->size > ctx.block.size()) continue;
    std::vector<std::uint16_t> r(cp->size, 0);
    switch (comp.fill) {
      case Fill::kZero: break;
      case Fill::kOne: r.back() = 1; break;
      case Fill::kRevertS:
        if (cp->size == 2) {
          r[0] = static_cast<std::uint16_t>(ctx.revert_s >> 16);
          r[1] = static_cast<std::uint16_t>(ctx.revert_s & 0xFFFF);
        } else {
          r[0] = static_cast<std::uint16_t>(std::min<std::uint32_t>(ctx.revert_s, 0xFFFE));
        }
        break;
      case Fill::kRevertValue: {
        auto rv = encode_scaled(c, *cp, ctx.block, c.revert_value.value_or(0.0), plan, nullptr);
        if (!rv) return plan;
        r = std::move(*rv);
        break;
      }
    }
    assign(a, *cp, r);
  }
  std::optional<std::uint16_t> last;
  const PointDef* en = c.enable.empty() ? nullptr : point_of(c, c.enable);
  if (en != nullptr) {
    a[en->offset] = 1;
    last = en->offset;
  }
  const PointDef* mode = c.mode_point.empty() ? nullptr : point_of(c, c.mode_point);
  if (mode != nullptr) {
    a[mode->offset] = static_cast<std::uint16_t>(ctx.block[mode->offset] | c.mode_bit);
    last = mode->offset;
  }
  plan.writes = to_writes(a, ctx.model_address, last);
  add_check(plan, ctx.model_address, *p, a);
  if (en != nullptr) add_check(plan, ctx.model_address, *en, a);
  if (mode != nullptr) add_check(plan, ctx.model_address, *mode, a);
  return plan;
}

WritePlan plan_sunspec_release(const SunSpecControl& c, const SunSpecWriteContext& ctx,
                               std::optional<double> failsafe) {
  const bool switched = !c.enable.empty() || !c.mode_point.empty();
  if (failsafe && switched) {
    // A configured fail-safe of a switched control (e.g. "curtail to 50 % when the gateway
    // stops") must stay in force: the value enabled, without a revert timer.
    SunSpecWriteContext held = ctx;
    held.revert_s = 0;
    return plan_sunspec_set(c, held, *failsafe);
  }
  WritePlan plan;
  const PointDef* p = point_of(c, c.point);
  if (p == nullptr || p->offset + p->size > ctx.block.size()) {
    plan.error = fmt::format("{}: the model block is too short", control_name(c));
    return plan;
  }
  if (!failsafe && !switched) failsafe = sunspec_control_info(c, ctx.nameplate).failsafe;
  Assignments a;
  std::optional<std::uint16_t> last;
  if (failsafe) {
    auto regs = encode_scaled(c, *p, ctx.block, *failsafe, plan, &plan.value);
    if (!regs) return plan;
    plan.has_value = true;
    assign(a, *p, *regs);
    add_check(plan, ctx.model_address, *p, a);
  }
  if (const PointDef* en = c.enable.empty() ? nullptr : point_of(c, c.enable)) {
    a[en->offset] = 0;
    last = en->offset;
    add_check(plan, ctx.model_address, *en, a);
  }
  if (const PointDef* mode = c.mode_point.empty() ? nullptr : point_of(c, c.mode_point)) {
    a[mode->offset] = static_cast<std::uint16_t>(ctx.block[mode->offset] & ~c.mode_bit);
    last = mode->offset;
    add_check(plan, ctx.model_address, *mode, a);
  }
  if (a.empty()) {
    plan.note = "no fail-safe value: left as it is and no longer kept";
    return plan;
  }
  plan.writes = to_writes(a, ctx.model_address, last);
  return plan;
}

std::optional<double> sunspec_control_value(const SunSpecControl& c,
                                            std::span<const std::uint16_t> block) {
  const PointDef* p = point_of(c, c.point);
  const auto type = p ? data_type(p->type) : std::nullopt;
  if (!type || p->offset + p->size > block.size()) return std::nullopt;
  const auto sf = scale_factor(c, *p, block);
  if (!sf) return std::nullopt;
  Encoding enc;
  enc.type = *type;
  const DecodeResult d = decode(block.subspan(p->offset, p->size), enc);
  if (!d.is_number()) return std::nullopt;
  const ScaledValue v = apply_scale(d.number, Scale{1.0, *sf});
  if (v.status != DecodeStatus::kNumber) return std::nullopt;
  return v.value;
}

std::optional<RegisterWrite> plan_heartbeat(std::uint16_t model_id, std::uint16_t model_address,
                                            std::uint32_t counter) {
  const std::string_view name = model_id == 715 ? "ControllerHb" : model_id == 802 ? "CtrlHb" : "";
  if (name.empty()) return std::nullopt;
  const sunspec::ModelDef* def = sunspec::find_model(model_id);
  const PointDef* p = def ? sunspec::find_point(def->top, name) : nullptr;
  if (p == nullptr) return std::nullopt;
  RegisterWrite w{Table::kHolding, static_cast<std::uint16_t>(model_address + p->offset), {}};
  if (p->size == 2) {
    w.values = {static_cast<std::uint16_t>(counter >> 16), static_cast<std::uint16_t>(counter & 0xFFFF)};
  } else {
    w.values = {static_cast<std::uint16_t>(counter & 0xFFFF)};
  }
  return w;
}

// ---- Profiles ------------------------------------------------------------------------------------

const Point* profile_readback_point(const Profile& profile, const Point& p) {
  if (!p.readback) return nullptr;
  if (!p.readback_point.empty()) return profile.find(p.readback_point);
  return p.readable() ? &p : nullptr;
}

ControlInfo profile_control_info(const Point& p) {
  ControlInfo info;
  info.point = p.name;
  info.unit = p.unit;
  info.min = p.min;
  info.max = p.max;
  info.failsafe = p.failsafe;
  info.release = p.failsafe ? fmt::format("write {}", *p.failsafe)
                            : "stop keeping it (no fail-safe value in the profile)";
  return info;
}

namespace {

WritePlan plan_profile_write(const Profile& profile, const Point& p, double value, bool check_range) {
  WritePlan plan;
  if (!p.writable()) {
    plan.error = fmt::format("{} is read-only", p.name);
    return plan;
  }
  if (!std::isfinite(value)) {
    plan.error = fmt::format("{}: the value must be a finite number", p.name);
    return plan;
  }
  if (check_range && ((p.min && value < *p.min) || (p.max && value > *p.max))) {
    plan.error = fmt::format("{} = {} is outside [{}, {}] {}", p.name, value,
                             p.min ? fmt::format("{}", *p.min) : "-inf",
                             p.max ? fmt::format("{}", *p.max) : "inf", p.unit);
    return plan;
  }
  std::vector<std::uint16_t> regs;
  if (is_bit_table(p.table)) {
    const auto bit = encode_bit(value);
    if (!bit) {
      plan.error = fmt::format("{} is a coil: write 0 or 1", p.name);
      return plan;
    }
    regs = {static_cast<std::uint16_t>(*bit ? 1 : 0)};
    plan.value = *bit ? 1.0 : 0.0;
  } else {
    if (!p.scale_point.empty()) {
      plan.error = fmt::format("{}: writes through a scale-factor point are not supported in profiles", p.name);
      return plan;
    }
    EncodeResult e = encode(value, p.encoding, Scale{p.scale, std::nullopt});
    if (!e.ok()) {
      plan.error = fmt::format("{} = {} cannot be written: {}", p.name, value, to_string(e.error));
      return plan;
    }
    regs = std::move(e.registers);
    const DecodeResult d = decode(regs, p.encoding);
    plan.value = d.is_number() ? apply_scale(d.number, Scale{p.scale, std::nullopt}).value : value;
  }
  plan.has_value = true;
  plan.writes.push_back({p.table, p.address, regs});
  if (const Point* rb = profile_readback_point(profile, p)) {
    // Compare the read-back value through its own encoding: a readback_point may differ in
    // type or scale (KEBA reads back mA as a u32 at another address).
    if (rb == &p) plan.checks.push_back({p.table, p.address, regs});
  }
  return plan;
}

}  // namespace

WritePlan plan_profile_set(const Profile& profile, const Point& p, double value) {
  return plan_profile_write(profile, p, value, true);
}

WritePlan plan_profile_release(const Profile& profile, const Point& p, std::optional<double> failsafe) {
  if (!failsafe) failsafe = p.failsafe;
  if (!failsafe) {
    WritePlan plan;
    plan.note = "no fail-safe value: left as it is and no longer kept";
    return plan;
  }
  return plan_profile_write(profile, p, *failsafe, false);
}

}  // namespace gridlet::adapters::modbus
