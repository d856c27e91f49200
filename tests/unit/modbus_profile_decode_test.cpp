// Profile points out of a register block: scale factors from the same block, sentinels, ranges,
// counters and bit tables, with no bus.
#include "adapters/modbus/profile_decode.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace gridlet::adapters::modbus {
namespace {

Profile profile() {
  auto r = load_profile_string(R"([profile]
name = "decode"
kind = "meter"
source = "test map"

[[points]]
name = "SF"
table = "holding"
address = 100
type = "sunssf"

[[points]]
name = "W"
table = "holding"
address = 101
type = "i16"
scale_point = "SF"
unit = "W"
min = -5000
max = 5000

[[points]]
name = "Wh"
table = "holding"
address = 102
type = "u32"
scale = 0.1
unit = "Wh"
kind = "counter"

[[points]]
name = "Relay"
table = "coil"
address = 7
type = "bool"
)",
                                 "decode.toml");
  EXPECT_TRUE(r.profile) << (r.errors.empty() ? "" : r.errors.front().format());
  return *r.profile;
}

TEST(ProfileDecode, ValueAndItsScaleFactorComeFromTheSameBlock) {
  const Profile p = profile();
  const std::vector<std::uint16_t> block{static_cast<std::uint16_t>(-1), 1234, 0, 50};
  const PointValue w = decode_point(p, *p.find("W"), block, 100);
  EXPECT_EQ(w.quality, Quality::kGood);
  EXPECT_DOUBLE_EQ(w.value, 123.4);
  EXPECT_FALSE(w.counter);
}

TEST(ProfileDecode, AnUnimplementedScaleFactorMakesTheValueMissing) {
  const Profile p = profile();
  const std::vector<std::uint16_t> block{0x8000, 1234};
  EXPECT_EQ(decode_point(p, *p.find("W"), block, 100).quality, Quality::kMissing);
}

TEST(ProfileDecode, OutOfRangeIsAnErrorWithItsValue) {
  const Profile p = profile();
  const std::vector<std::uint16_t> block{0, 6000};
  const PointValue w = decode_point(p, *p.find("W"), block, 100);
  EXPECT_EQ(w.quality, Quality::kError);
  EXPECT_TRUE(w.out_of_range);
  EXPECT_EQ(w.value, 6000);
}

TEST(ProfileDecode, CountersCarryTheirRawRange) {
  const Profile p = profile();
  const std::vector<std::uint16_t> block{0, 0, 1, 0};  // Wh = 0x00010000
  const PointValue wh = decode_point(p, *p.find("Wh"), block, 100);
  EXPECT_EQ(wh.quality, Quality::kGood);
  EXPECT_DOUBLE_EQ(wh.value, 6553.6);
  EXPECT_TRUE(wh.counter);
  EXPECT_DOUBLE_EQ(wh.counter_range, std::ldexp(1.0, 32) * 0.1);
}

TEST(ProfileDecode, BitTablesHoldOneBitPerEntry) {
  const Profile p = profile();
  const std::vector<std::uint16_t> bits{0, 1};
  const PointValue relay = decode_point(p, *p.find("Relay"), bits, 6);
  EXPECT_EQ(relay.quality, Quality::kGood);
  EXPECT_EQ(relay.value, 1);
}

}  // namespace
}  // namespace gridlet::adapters::modbus
