#include "tests/sim/sunspec_device.hpp"

#include <cmath>

#include "tests/sim/registers.hpp"

namespace gridlet::devsim {

SunSpecDevice::SunSpecDevice(std::uint8_t unit, const DeviceContext& ctx)
    : Device(unit, 65536, 0), ctx_(ctx) {}

void SunSpecDevice::finish_layout(std::string_view model_name, std::string_view serial) {
  layout_.write_skeleton(holding());
  const auto& m1 = layout_.model(1);
  put_string(holding(), m1.at("Mn"), 16, "Gridlet");
  put_string(holding(), m1.at("Md"), 16, model_name);
  put_string(holding(), m1.at("Opt"), 8, "devsim");
  put_string(holding(), m1.at("Vr"), 8, "1.0.0");
  put_string(holding(), m1.at("SN"), 16, serial);
  set(m1, "DA", unit());
}

namespace {

// A 1- or 2-register value, high word first, sign-extended for signed types.
std::int64_t decode(std::uint32_t bits, std::uint16_t size, bool is_signed) {
  if (size == 1) return is_signed ? std::int64_t{static_cast<std::int16_t>(bits)} : std::int64_t{bits & 0xFFFF};
  return is_signed ? std::int64_t{static_cast<std::int32_t>(bits)} : std::int64_t{bits};
}

bool is_signed_type(sunspec::PointType t) { return t == sunspec::PointType::kInt16 || t == sunspec::PointType::kInt32; }

}  // namespace

void SunSpecDevice::allow_write(std::uint16_t model, std::string_view point, std::int64_t min_raw,
                                std::int64_t max_raw) {
  const auto& m = layout_.model(model);
  const auto* p = sunspec::find_point(m.def->top, point);
  const auto start = m.at(point);
  for (std::uint16_t i = 0; i < p->size; ++i) {
    writable_[static_cast<std::uint16_t>(start + i)] =
        WritableRange{start, p->size, min_raw, max_raw, is_signed_type(p->type)};
  }
}

std::int64_t SunSpecDevice::raw_value(const PlacedModel& m, std::string_view point) const {
  const auto* p = sunspec::find_point(m.def->top, point);
  const auto at = m.at(point);
  const std::uint32_t bits = p->size == 1 ? holding()[at] : get_u32(holding(), at);
  return decode(bits, p->size, is_signed_type(p->type));
}

bool SunSpecDevice::has_registers(Table table, std::uint16_t address, std::uint16_t count) const {
  return table == Table::kHolding && address >= layout_.base() &&
         std::uint32_t{address} + count <= layout_.end();
}

std::uint8_t SunSpecDevice::check_write(std::uint16_t address, std::span<const std::uint16_t> values) const {
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto it = writable_.find(static_cast<std::uint16_t>(address + i));
    if (it == writable_.end()) return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
  }
  // Judge each point once, as it would read after the write.
  const auto end = std::uint32_t{address} + values.size();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto a = static_cast<std::uint16_t>(address + i);
    const auto& range = writable_.at(a);
    if (a != range.start && i != 0) continue;  // second register of a point already judged
    std::uint32_t bits = 0;
    for (std::uint16_t k = 0; k < range.size; ++k) {
      const auto r = static_cast<std::uint16_t>(range.start + k);
      const std::uint16_t word = r >= address && r < end ? values[r - address] : holding()[r];
      bits = (bits << 16) | word;
    }
    const auto v = decode(bits, range.size, range.is_signed);
    if (v < range.min_raw || v > range.max_raw) return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  }
  return 0;
}

double SunSpecDevice::read_scaled(const PlacedModel& m, std::string_view point, std::string_view sf_point) {
  const auto* p = sunspec::find_point(m.def->top, point);
  const auto raw = holding()[m.at(point)];
  const double v = p->type == sunspec::PointType::kInt16 ? static_cast<double>(static_cast<std::int16_t>(raw)) : static_cast<double>(raw);
  const auto sf = static_cast<std::int16_t>(holding()[m.at(sf_point)]);
  return v * std::pow(10.0, sf);
}

bool SunSpecDevice::write_touches(const PlacedModel& m, std::string_view point, std::uint16_t address,
                                  std::uint16_t count) const {
  const auto at = m.at(point);
  return at >= address && at < std::uint32_t{address} + count;
}

TimePoint SunSpecDevice::effective_time(TimePoint now, std::uint16_t window_s) {
  auto t = now + ctx_.setpoint_delay;
  if (window_s > 0) {
    std::uniform_int_distribution<int> ms(0, window_s * 1000);
    t += std::chrono::milliseconds(ms(*ctx_.rng));
  }
  return t;
}

}  // namespace gridlet::devsim
