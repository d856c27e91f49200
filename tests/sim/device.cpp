#include "tests/sim/device.hpp"

#include <new>

#include "tests/sim/device_kinds.hpp"

namespace gridlet::devsim {

Device::Device(std::uint8_t unit, std::uint32_t holding_count, std::uint32_t input_count)
    : unit_(unit), mapping_(modbus_mapping_new_start_address(0, 0, 0, 0, 0, holding_count, 0, input_count)) {
  if (!mapping_) throw std::bad_alloc();
}

Device::~Device() = default;

std::unique_ptr<Device> make_device(std::string_view kind, std::uint8_t unit, const DeviceContext& ctx) {
  if (kind == "inverter") return make_inverter(unit, ctx);
  if (kind == "der") return make_der_inverter(unit, ctx);
  if (kind == "battery") return make_battery(unit, ctx);
  if (kind == "meter") return make_grid_meter(unit, ctx);
  if (kind == "sdm630") return make_sdm630(unit, ctx);
  return nullptr;
}

}  // namespace gridlet::devsim
