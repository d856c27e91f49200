#include "adapters/modbus/profile_decode.hpp"

#include <cmath>

namespace gridlet::adapters::modbus {

PointValue decode_point(const Profile& profile, const Point& p, std::span<const std::uint16_t> block,
                        std::uint16_t block_start) {
  PointValue out;
  auto regs_of = [&](const Point& q) {
    return block.subspan(static_cast<std::size_t>(q.address - block_start), q.register_count());
  };
  if (p.encoding.type == DataType::kString) {
    out.text = true;
    return out;
  }
  if (is_bit_table(p.table)) {  // coils and discrete inputs: one 0/1 per bit
    out.value = block[static_cast<std::size_t>(p.address - block_start)];
    out.quality = Quality::kGood;
    return out;
  }
  const DecodeResult d = decode(regs_of(p), p.encoding);
  if (d.is_missing()) return out;
  if (!d.is_number()) {
    out.quality = Quality::kError;
    return out;
  }
  Scale scale{p.scale, std::nullopt};
  if (!p.scale_point.empty()) {
    const Point* sf = profile.find(p.scale_point);
    const DecodeResult sfd = sf ? decode(regs_of(*sf), sf->encoding) : DecodeResult{};
    const auto e = sfd.is_number() ? sfd.number.as_i64() : std::nullopt;
    if (!e) return out;  // a scale factor that is not implemented: the value is missing
    scale.exponent = *e;
  }
  const ScaledValue v = apply_scale(d.number, scale);
  if (v.status != DecodeStatus::kNumber) {
    out.quality = v.status == DecodeStatus::kMissing ? Quality::kMissing : Quality::kError;
    return out;
  }
  out.value = v.value;
  if ((p.min && v.value < *p.min) || (p.max && v.value > *p.max)) {
    out.out_of_range = true;
    out.quality = Quality::kError;
    return out;
  }
  out.quality = Quality::kGood;
  out.counter = p.kind == PointKind::kCounter;
  out.counter_range = out.counter && is_integer_type(p.encoding.type) && p.register_count() <= 2 && !scale.exponent
                          ? std::ldexp(1.0, 16 * p.register_count()) * p.scale
                          : 0.0;
  return out;
}

}  // namespace gridlet::adapters::modbus
