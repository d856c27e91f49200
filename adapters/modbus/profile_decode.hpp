// Profile points out of the registers of one read: the decoding a poll does, as a pure function
// from a register block to values with their quality. Values and their scale factors always
// come from the same block (the read planner puts them in one request).
#pragma once

#include <cstdint>
#include <span>

#include "adapters/device.hpp"
#include "adapters/modbus/profile.hpp"

namespace gridlet::adapters::modbus {

struct PointValue {
  double value = 0.0;                  // physical units (scale and scale factor applied)
  Quality quality = Quality::kMissing; // good; missing (sentinel, bad scale factor); error
  bool out_of_range = false;           // outside the point's [min, max]: quality error
  bool counter = false;                // an energy counter: the caller absorbs resets and wraps
  double counter_range = 0.0;          // 2^bits x scale of the raw counter (0: unknown)
  bool text = false;                   // a string point (identity): not a reading
};

// Decodes `point` from `block`, the registers of its table from address `block_start` on. The
// point (and its scale-factor point) must lie inside the block.
PointValue decode_point(const Profile& profile, const Point& point, std::span<const std::uint16_t> block,
                        std::uint16_t block_start);

}  // namespace gridlet::adapters::modbus
