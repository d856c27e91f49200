// Setpoint writes as plans: which registers to write, in what order, and what must read back.
//
// Planning is pure (no I/O): it takes the registers the device holds now and returns a WritePlan,
// or a reason to reject the command before anything touches the device. DevicePoller executes
// plans on the bus thread, reads back and reports (device_poller.cpp).
//
// SunSpec controls are a fixed catalogue (below): each names its value point, the registers
// written with it in the same request (window 0, revert timer, revert value, mode), its enable
// register or mode bit, its range (constant, or from the device's nameplate), and how a release
// returns the device to its own behaviour. Values are scaled by the model's own scale-factor
// register, read in the same block just before writing.
//
// Profile points (configs/profiles/*.toml, access "w"/"rw") are written as the profile says:
// encoded with its type, word order and constant scale, range-checked against min/max, read back
// through the point itself or its readback_point, released to `failsafe`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/device.hpp"
#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/profile.hpp"

namespace gridlet::adapters::modbus {

struct RegisterWrite {
  Table table = Table::kHolding;  // holding registers, or a coil (values[0] = 0/1)
  std::uint16_t address = 0;
  std::vector<std::uint16_t> values;
};

// After the writes, the registers at `address` must hold `expected`.
struct ReadbackCheck {
  Table table = Table::kHolding;
  std::uint16_t address = 0;
  std::vector<std::uint16_t> expected;
};

struct WritePlan {
  std::string error;  // non-empty: rejected before any write
  std::vector<RegisterWrite> writes;  // in order; the enabling write comes last
  std::vector<ReadbackCheck> checks;
  double value = 0.0;  // what the device will hold, rounded to its resolution
  bool has_value = false;  // the plan writes the value (a release may only disable)
  std::string note;    // an ok plan with nothing to write says why (a release without fail-safe)
  bool ok() const { return error.empty(); }
  std::string describe() const;  // "40005=[500,0,60,0,1] 40013=[1]" (protocol addresses)
};

// ---- SunSpec -------------------------------------------------------------------------------------

struct SunSpecControl;  // one entry of the catalogue (control.cpp)

// Looks a control up by its public name, "<model name>.<point>": controls.WMaxLimPct,
// controls.Conn, storage_basic.{WChaMax,InWRte,OutWRte,StorCtl_Mod,MinRsvPct},
// DERCtlAC.{WMaxLimPct,WSet}, battery.{SocRsvMax,SoCRsvMin}. nullptr when not a control.
const SunSpecControl* find_sunspec_control(std::string_view name);
// Every control of one model, in catalogue order.
std::vector<const SunSpecControl*> sunspec_controls_of(std::uint16_t model_id);
std::uint16_t control_model(const SunSpecControl& c);
std::string control_name(const SunSpecControl& c);
// True when the device reverts the control on its own after a timer we set: keep it alive.
bool control_has_revert_timer(const SunSpecControl& c);

// Nameplate values already read from the device, by "<model name>.<point>" (e.g.
// "nameplate.WRtg", "DERCapacity.WMaxRtg"); nullopt when unknown.
using NameplateLookup = std::function<std::optional<double>(std::string_view)>;

struct SunSpecWriteContext {
  std::uint16_t model_address = 0;         // protocol address of the model's ID register
  std::span<const std::uint16_t> block;    // the whole model as read just now (from ID)
  NameplateLookup nameplate;
  std::uint32_t revert_s = 60;             // revert timer asked of the device
};

ControlInfo sunspec_control_info(const SunSpecControl& c, const NameplateLookup& nameplate);
WritePlan plan_sunspec_set(const SunSpecControl& c, const SunSpecWriteContext& ctx, double value);
// failsafe: a configured value, which a release leaves in force (enabled, without a revert
// timer); without one the control's own release is used: its enable register to 0 or its mode bit
// cleared (the device's own behaviour), or its default fail-safe value; with none of these the plan
// writes nothing and says so in `note`.
WritePlan plan_sunspec_release(const SunSpecControl& c, const SunSpecWriteContext& ctx,
                               std::optional<double> failsafe);
// The control's value in `block` (scaled), or nullopt when missing.
std::optional<double> sunspec_control_value(const SunSpecControl& c,
                                            std::span<const std::uint16_t> block);

// The controller heartbeat of a model, if it has one: 715 ControllerHb (uint32), 802 CtrlHb
// (uint16). Returns the write that advances it to `counter`.
std::optional<RegisterWrite> plan_heartbeat(std::uint16_t model_id, std::uint16_t model_address,
                                            std::uint32_t counter);

// ---- Profiles ------------------------------------------------------------------------------------

ControlInfo profile_control_info(const Point& p);
WritePlan plan_profile_set(const Profile& profile, const Point& p, double value);
WritePlan plan_profile_release(const Profile& profile, const Point& p, std::optional<double> failsafe);
// The point the device's current value is read from (the point itself, its readback_point), or
// nullptr when it cannot be read back.
const Point* profile_readback_point(const Profile& profile, const Point& p);

}  // namespace gridlet::adapters::modbus
