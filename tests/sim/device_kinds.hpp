// Constructors of the device kinds devsim emulates (one file each).
#pragma once

#include <memory>

#include "tests/sim/device.hpp"

namespace gridlet::devsim {

// SunSpec PV inverter: models 1, 103, 120, 123, 160 (2 MPPT modules).
std::unique_ptr<Device> make_inverter(std::uint8_t unit, const DeviceContext& ctx);
// SunSpec DER inverter (7xx information models): 1, 701, 702, 704, 715; same PV physics.
std::unique_ptr<Device> make_der_inverter(std::uint8_t unit, const DeviceContext& ctx);
// SunSpec battery: models 1, 124, 713, 802.
std::unique_ptr<Device> make_battery(std::uint8_t unit, const DeviceContext& ctx);
// SunSpec grid meter at the building's connection point: models 1, 203.
std::unique_ptr<Device> make_grid_meter(std::uint8_t unit, const DeviceContext& ctx);
// Eastron SDM630 at the building's connection point: float32 input registers.
std::unique_ptr<Device> make_sdm630(std::uint8_t unit, const DeviceContext& ctx);

}  // namespace gridlet::devsim
