// Register codec: every type, both word and byte orders, sentinels, scale factors, encode ranges.
#include "adapters/modbus/codec.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace gridlet::adapters::modbus {
namespace {

using Regs = std::vector<std::uint16_t>;

Encoding enc(DataType t, WordOrder w = WordOrder::kHighFirst, ByteOrder b = ByteOrder::kBigEndian,
             bool sentinels = true) {
  Encoding e;
  e.type = t;
  e.word_order = w;
  e.byte_order = b;
  e.sentinels = sentinels;
  return e;
}

TEST(ModbusCodec, RegisterCounts) {
  EXPECT_EQ(register_count(DataType::kU16), 1);
  EXPECT_EQ(register_count(DataType::kI16), 1);
  EXPECT_EQ(register_count(DataType::kScaleFactor), 1);
  EXPECT_EQ(register_count(DataType::kEnum16), 1);
  EXPECT_EQ(register_count(DataType::kBitfield16), 1);
  EXPECT_EQ(register_count(DataType::kAcc16), 1);
  EXPECT_EQ(register_count(DataType::kU32), 2);
  EXPECT_EQ(register_count(DataType::kI32), 2);
  EXPECT_EQ(register_count(DataType::kF32), 2);
  EXPECT_EQ(register_count(DataType::kEnum32), 2);
  EXPECT_EQ(register_count(DataType::kBitfield32), 2);
  EXPECT_EQ(register_count(DataType::kAcc32), 2);
  EXPECT_EQ(register_count(DataType::kU64), 4);
  EXPECT_EQ(register_count(DataType::kI64), 4);
  EXPECT_EQ(register_count(DataType::kF64), 4);
  EXPECT_EQ(register_count(DataType::kAcc64), 4);
  EXPECT_EQ(register_count(DataType::kBitfield64), 4);
  EXPECT_EQ(register_count(DataType::kString, 8), 8);
  EXPECT_EQ(register_count(DataType::kString), 0);
  EXPECT_EQ(register_count(DataType::kBool), 1);
}

TEST(ModbusCodec, TypeNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(DataType::kBool); ++i) {
    const auto t = static_cast<DataType>(i);
    EXPECT_EQ(parse_data_type(to_string(t)), t) << to_string(t);
  }
  EXPECT_EQ(parse_data_type("uint16"), DataType::kU16);
  EXPECT_EQ(parse_data_type("float32"), DataType::kF32);
  EXPECT_EQ(parse_data_type("enum"), DataType::kEnum16);
  EXPECT_EQ(parse_data_type("bitfield"), DataType::kBitfield16);
  EXPECT_FALSE(parse_data_type("u128"));
  EXPECT_EQ(parse_word_order("low_first"), WordOrder::kLowFirst);
  EXPECT_EQ(parse_byte_order("swapped"), ByteOrder::kSwapped);
  EXPECT_FALSE(parse_word_order("little"));
}

TEST(ModbusCodec, U16AndI16) {
  auto r = decode(Regs{0x1234}, enc(DataType::kU16));
  ASSERT_TRUE(r.is_number());
  EXPECT_EQ(r.number.as_u64(), 0x1234U);
  EXPECT_EQ(r.number.as_i64(), 0x1234);
  EXPECT_DOUBLE_EQ(r.number.real, 4660.0);

  r = decode(Regs{0xFFFE}, enc(DataType::kI16));
  ASSERT_TRUE(r.is_number());
  EXPECT_EQ(r.number.as_i64(), -2);
  EXPECT_FALSE(r.number.as_u64());
  EXPECT_TRUE(r.number.negative);

  r = decode(Regs{0x7FFF}, enc(DataType::kI16));
  EXPECT_EQ(r.number.as_i64(), 32767);
  r = decode(Regs{0x8001}, enc(DataType::kI16));
  EXPECT_EQ(r.number.as_i64(), -32767);
}

TEST(ModbusCodec, ByteSwapWithinRegister) {
  auto r = decode(Regs{0x3412}, enc(DataType::kU16, WordOrder::kHighFirst, ByteOrder::kSwapped));
  EXPECT_EQ(r.number.as_u64(), 0x1234U);
  r = decode(Regs{0xFEFF}, enc(DataType::kI16, WordOrder::kHighFirst, ByteOrder::kSwapped));
  EXPECT_EQ(r.number.as_i64(), -2);
}

TEST(ModbusCodec, ThirtyTwoBitAllFourOrders) {
  // 0x12345678 laid out as ABCD, CDAB, BADC, DCBA.
  struct Case {
    Regs regs;
    WordOrder w;
    ByteOrder b;
  };
  const Case cases[] = {
      {{0x1234, 0x5678}, WordOrder::kHighFirst, ByteOrder::kBigEndian},
      {{0x5678, 0x1234}, WordOrder::kLowFirst, ByteOrder::kBigEndian},
      {{0x3412, 0x7856}, WordOrder::kHighFirst, ByteOrder::kSwapped},
      {{0x7856, 0x3412}, WordOrder::kLowFirst, ByteOrder::kSwapped},
  };
  for (const auto& c : cases) {
    for (auto t : {DataType::kU32, DataType::kI32, DataType::kAcc32, DataType::kEnum32, DataType::kBitfield32}) {
      auto r = decode(c.regs, enc(t, c.w, c.b));
      ASSERT_TRUE(r.is_number()) << to_string(t);
      EXPECT_EQ(r.number.as_u64(), 0x12345678U) << to_string(t);
      // And back: encode gives the same layout.
      auto e = encode_unsigned(0x12345678U, enc(t, c.w, c.b));
      ASSERT_TRUE(e.ok());
      EXPECT_EQ(e.registers, c.regs);
    }
  }
}

TEST(ModbusCodec, SignedThirtyTwoAndSixtyFour) {
  auto r = decode(Regs{0xFFFF, 0xFFFE}, enc(DataType::kI32));
  EXPECT_EQ(r.number.as_i64(), -2);
  r = decode(Regs{0xFFFE, 0xFFFF}, enc(DataType::kI32, WordOrder::kLowFirst));
  EXPECT_EQ(r.number.as_i64(), -2);
  r = decode(Regs{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFD}, enc(DataType::kI64));
  EXPECT_EQ(r.number.as_i64(), -3);
  r = decode(Regs{0xFFFD, 0xFFFF, 0xFFFF, 0xFFFF}, enc(DataType::kI64, WordOrder::kLowFirst));
  EXPECT_EQ(r.number.as_i64(), -3);
  r = decode(Regs{0x0001, 0x0002, 0x0003, 0x0004}, enc(DataType::kU64));
  EXPECT_EQ(r.number.as_u64(), 0x0001000200030004ULL);
  r = decode(Regs{0x0004, 0x0003, 0x0002, 0x0001}, enc(DataType::kU64, WordOrder::kLowFirst));
  EXPECT_EQ(r.number.as_u64(), 0x0001000200030004ULL);
  // A u64 above INT64_MAX is exact as u64 only.
  r = decode(Regs{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, enc(DataType::kU64));
  EXPECT_EQ(r.number.as_u64(), 0xFFFFFFFFFFFFFFFEULL);
  EXPECT_FALSE(r.number.as_i64());
  // INT64_MIN + 1
  r = decode(Regs{0x8000, 0, 0, 1}, enc(DataType::kI64));
  EXPECT_EQ(r.number.as_i64(), std::numeric_limits<std::int64_t>::min() + 1);
}

TEST(ModbusCodec, Floats) {
  std::uint32_t bits;
  const float f = 230.5F;
  std::memcpy(&bits, &f, 4);
  const auto hi = static_cast<std::uint16_t>(bits >> 16), lo = static_cast<std::uint16_t>(bits);
  auto r = decode(Regs{hi, lo}, enc(DataType::kF32));
  ASSERT_TRUE(r.is_number());
  EXPECT_FALSE(r.number.is_integer);
  EXPECT_FALSE(r.number.as_i64());
  EXPECT_DOUBLE_EQ(r.number.real, 230.5);
  r = decode(Regs{lo, hi}, enc(DataType::kF32, WordOrder::kLowFirst));
  EXPECT_DOUBLE_EQ(r.number.real, 230.5);

  std::uint64_t dbits;
  const double d = -1234.0625;
  std::memcpy(&dbits, &d, 8);
  Regs regs{static_cast<std::uint16_t>(dbits >> 48), static_cast<std::uint16_t>(dbits >> 32),
            static_cast<std::uint16_t>(dbits >> 16), static_cast<std::uint16_t>(dbits)};
  r = decode(regs, enc(DataType::kF64));
  EXPECT_DOUBLE_EQ(r.number.real, -1234.0625);
  auto e = encode(-1234.0625, enc(DataType::kF64));
  EXPECT_EQ(e.registers, regs);
}

TEST(ModbusCodec, NaNAndInfinityAreMissingEvenWithoutSentinels) {
  EXPECT_TRUE(decode(Regs{0x7FC0, 0x0000}, enc(DataType::kF32)).is_missing());
  EXPECT_TRUE(decode(Regs{0x7FC0, 0x0000}, enc(DataType::kF32, WordOrder::kHighFirst, ByteOrder::kBigEndian, false))
                  .is_missing());
  EXPECT_TRUE(decode(Regs{0x7F80, 0x0000}, enc(DataType::kF32)).is_missing());  // +inf
  EXPECT_TRUE(decode(Regs{0x7FF8, 0, 0, 0}, enc(DataType::kF64)).is_missing());
}

TEST(ModbusCodec, SunSpecSentinels) {
  EXPECT_TRUE(decode(Regs{0x8000}, enc(DataType::kI16)).is_missing());
  EXPECT_TRUE(decode(Regs{0x8000}, enc(DataType::kScaleFactor)).is_missing());
  EXPECT_TRUE(decode(Regs{0xFFFF}, enc(DataType::kU16)).is_missing());
  EXPECT_TRUE(decode(Regs{0xFFFF}, enc(DataType::kEnum16)).is_missing());
  EXPECT_TRUE(decode(Regs{0xFFFF}, enc(DataType::kBitfield16)).is_missing());
  EXPECT_TRUE(decode(Regs{0x8000, 0x0000}, enc(DataType::kI32)).is_missing());
  EXPECT_TRUE(decode(Regs{0xFFFF, 0xFFFF}, enc(DataType::kU32)).is_missing());
  EXPECT_TRUE(decode(Regs{0xFFFF, 0xFFFF}, enc(DataType::kEnum32)).is_missing());
  EXPECT_TRUE(decode(Regs{0x8000, 0, 0, 0}, enc(DataType::kI64)).is_missing());
  EXPECT_TRUE(decode(Regs{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, enc(DataType::kU64)).is_missing());
  // Word order applies before the sentinel check: 0x80000000 stored low word first.
  EXPECT_TRUE(decode(Regs{0x0000, 0x8000}, enc(DataType::kI32, WordOrder::kLowFirst)).is_missing());
  EXPECT_TRUE(decode(Regs{0x8000, 0x0000}, enc(DataType::kI32, WordOrder::kLowFirst)).is_number());
  // Accumulators: 0 and all-ones are valid counts.
  EXPECT_EQ(decode(Regs{0, 0}, enc(DataType::kAcc32)).number.as_u64(), 0U);
  EXPECT_EQ(decode(Regs{0xFFFF, 0xFFFF}, enc(DataType::kAcc32)).number.as_u64(), 0xFFFFFFFFU);
  EXPECT_EQ(decode(Regs{0xFFFF}, enc(DataType::kAcc16)).number.as_u64(), 0xFFFFU);
  // Near-sentinels are numbers.
  EXPECT_EQ(decode(Regs{0xFFFE}, enc(DataType::kU16)).number.as_u64(), 0xFFFEU);
  EXPECT_EQ(decode(Regs{0x8001}, enc(DataType::kI16)).number.as_i64(), -32767);
}

TEST(ModbusCodec, SentinelsCanBeSwitchedOff) {
  const auto off = [](DataType t) { return enc(t, WordOrder::kHighFirst, ByteOrder::kBigEndian, false); };
  EXPECT_EQ(decode(Regs{0xFFFF}, off(DataType::kU16)).number.as_u64(), 0xFFFFU);
  EXPECT_EQ(decode(Regs{0x8000}, off(DataType::kI16)).number.as_i64(), -32768);
  EXPECT_EQ(decode(Regs{0xFFFF, 0xFFFF}, off(DataType::kU32)).number.as_u64(), 0xFFFFFFFFU);
  auto s = decode(Regs{0, 0}, [] {
    Encoding e;
    e.type = DataType::kString;
    e.string_registers = 2;
    e.sentinels = false;
    return e;
  }());
  EXPECT_EQ(s.status, DecodeStatus::kString);
  EXPECT_EQ(s.text, "");
}

TEST(ModbusCodec, Strings) {
  Encoding e;
  e.type = DataType::kString;
  e.string_registers = 4;
  // "SunS" then NUL padding.
  auto r = decode(Regs{0x5375, 0x6E53, 0x0000, 0x0000}, e);
  ASSERT_EQ(r.status, DecodeStatus::kString);
  EXPECT_EQ(r.text, "SunS");
  // Odd length, trailing spaces dropped, byte swap.
  r = decode(Regs{0x4241, 0x4320, 0x2020, 0x2020}, [&] {
    Encoding s = e;
    s.byte_order = ByteOrder::kSwapped;
    return s;
  }());
  EXPECT_EQ(r.text, "AB C");
  // All NUL: not implemented.
  EXPECT_TRUE(decode(Regs{0, 0, 0, 0}, e).is_missing());
  // Control bytes are made safe.
  r = decode(Regs{0x4101, 0xC342, 0, 0}, e);
  EXPECT_EQ(r.text, "A??B");
  // Too few registers, no length.
  EXPECT_EQ(decode(Regs{0x4142}, e).error, CodecError::kShortInput);
  e.string_registers = 0;
  EXPECT_EQ(decode(Regs{0x4142}, e).error, CodecError::kBadLength);

  Encoding w;
  w.type = DataType::kString;
  w.string_registers = 3;
  auto out = encode_string("Hello", w);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.registers, (Regs{0x4865, 0x6C6C, 0x6F00}));
  EXPECT_EQ(decode(out.registers, w).text, "Hello");
  EXPECT_EQ(encode_string("Hello!!", w).error, CodecError::kBadLength);
  EXPECT_EQ(encode_string("a\nb", w).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode_string("x", enc(DataType::kU16)).error, CodecError::kWrongType);
}

TEST(ModbusCodec, ShortInputIsAnError) {
  EXPECT_EQ(decode(Regs{}, enc(DataType::kU16)).error, CodecError::kShortInput);
  EXPECT_EQ(decode(Regs{1}, enc(DataType::kU32)).error, CodecError::kShortInput);
  EXPECT_EQ(decode(Regs{1, 2, 3}, enc(DataType::kF64)).error, CodecError::kShortInput);
  EXPECT_EQ(decode(Regs{1}, enc(DataType::kBool)).error, CodecError::kWrongType);
  // Extra registers are ignored.
  EXPECT_EQ(decode(Regs{7, 8, 9}, enc(DataType::kU16)).number.as_u64(), 7U);
}

TEST(ModbusCodec, Bits) {
  const std::vector<std::uint8_t> bits{0, 1, 5};
  EXPECT_EQ(decode_bit(bits, 0).number.as_u64(), 0U);
  EXPECT_EQ(decode_bit(bits, 1).number.as_u64(), 1U);
  EXPECT_EQ(decode_bit(bits, 2).number.as_u64(), 1U);
  EXPECT_EQ(decode_bit(bits, 3).error, CodecError::kShortInput);
  EXPECT_EQ(encode_bit(1.0), true);
  EXPECT_EQ(encode_bit(0.0), false);
  EXPECT_FALSE(encode_bit(0.5));
  EXPECT_FALSE(encode_bit(2.0));
}

TEST(ModbusCodec, ConstantScale) {
  auto r = decode(Regs{2305}, enc(DataType::kU16));
  auto s = apply_scale(r.number, Scale{0.1, std::nullopt});
  ASSERT_EQ(s.status, DecodeStatus::kNumber);
  EXPECT_NEAR(s.value, 230.5, 1e-12);
  auto exact = apply_scale_exact(r.number, Scale{0.1, std::nullopt});
  ASSERT_TRUE(exact);
  EXPECT_EQ(*exact, (Decimal{2305, -1}));
  // kWh -> Wh on an integer register stays exact.
  exact = apply_scale_exact(decode(Regs{0, 12}, enc(DataType::kU32)).number, Scale{1000.0, std::nullopt});
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->to_units(0), 12000);
  // A factor that is not a power of ten has no exact form.
  EXPECT_FALSE(apply_scale_exact(r.number, Scale{0.5, std::nullopt}));
  // Zero/NaN factor is an error, not a number.
  EXPECT_EQ(apply_scale(r.number, Scale{0.0, std::nullopt}).status, DecodeStatus::kError);
  EXPECT_EQ(apply_scale(r.number, Scale{std::nan(""), std::nullopt}).status, DecodeStatus::kError);
}

TEST(ModbusCodec, SunSpecScaleFactor) {
  const Number w = decode(Regs{12345}, enc(DataType::kI16)).number;
  auto sf = decode(Regs{0xFFFE}, enc(DataType::kScaleFactor));  // -2
  ASSERT_TRUE(sf.is_number());
  auto s = apply_scale(w, Scale{1.0, sf.number.as_i64()});
  EXPECT_NEAR(s.value, 123.45, 1e-12);
  auto d = apply_scale_exact(w, *sf.number.as_i64());
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (Decimal{12345, -2}));
  EXPECT_EQ(d->to_units(-3), 123450);  // mW
  EXPECT_EQ(d->to_units(0), 123);      // W, rounded
  EXPECT_EQ(d->to_units(-1), 1235);    // half away from zero
  EXPECT_EQ((Decimal{-12345, -1}).to_units(0), -1235);
  EXPECT_EQ((Decimal{-12344, -1}).to_units(0), -1234);

  // Positive SF.
  s = apply_scale(w, Scale{1.0, 3});
  EXPECT_DOUBLE_EQ(s.value, 12345000.0);
  EXPECT_EQ(apply_scale_exact(w, 3)->to_units(0), 12345000);
  // Out-of-range SF: missing, never a number.
  for (std::int64_t bad : {-11, 11, -32768, 100}) {
    auto m = apply_scale(w, Scale{1.0, bad});
    EXPECT_EQ(m.status, DecodeStatus::kMissing) << bad;
    EXPECT_EQ(m.error, CodecError::kBadScaleFactor);
    EXPECT_FALSE(apply_scale_exact(w, bad));
  }
  // Combined with a constant: SF then factor (e.g. Wh -> kWh with 0.001).
  auto combo = apply_scale_exact(w, Scale{0.001, -2});
  ASSERT_TRUE(combo);
  EXPECT_EQ(*combo, (Decimal{12345, -5}));
}

TEST(ModbusCodec, DecimalOverflowIsDetected) {
  EXPECT_FALSE((Decimal{std::numeric_limits<std::int64_t>::max(), 1}).to_units(0));
  EXPECT_FALSE((Decimal{2, 19}).to_units(0));
  EXPECT_EQ((Decimal{0, 40}).to_units(0), 0);
  EXPECT_EQ((Decimal{std::numeric_limits<std::int64_t>::min(), 0}).to_units(0),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ((Decimal{std::numeric_limits<std::int64_t>::max(), -19}).to_units(0), 1);  // 0.92 rounds up
  EXPECT_EQ((Decimal{5, -30}).to_units(0), 0);
  EXPECT_DOUBLE_EQ((Decimal{12345, -2}).to_double(), 123.45);
}

TEST(ModbusCodec, EncodeRoundsToNearest) {
  auto e = encode(230.46, enc(DataType::kU16), Scale{0.1, std::nullopt});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.registers, Regs{2305});
  e = encode(-2.5, enc(DataType::kI16));
  EXPECT_EQ(e.registers, Regs{0xFFFD});  // -3: half away from zero
  e = encode(1500.0, enc(DataType::kI16), Scale{1.0, 2});  // SF 2: raw 15
  EXPECT_EQ(e.registers, Regs{15});
  e = encode(12.34, enc(DataType::kI32, WordOrder::kLowFirst), Scale{1.0, -2});
  EXPECT_EQ(e.registers, (Regs{1234, 0}));
}

TEST(ModbusCodec, EncodeRangeErrorsNeverWrap) {
  EXPECT_EQ(encode(65535.0, enc(DataType::kU16)).error, CodecError::kReservedValue);
  EXPECT_TRUE(encode(65535.0, enc(DataType::kU16, WordOrder::kHighFirst, ByteOrder::kBigEndian, false)).ok());
  EXPECT_EQ(encode(65536.0, enc(DataType::kU16)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(-1.0, enc(DataType::kU16)).error, CodecError::kOutOfRange);
  EXPECT_TRUE(encode(-0.4, enc(DataType::kU16)).ok());  // rounds to 0
  EXPECT_EQ(encode(32768.0, enc(DataType::kI16)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(-32768.0, enc(DataType::kI16)).error, CodecError::kReservedValue);
  EXPECT_EQ(encode(-32769.0, enc(DataType::kI16)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(4294967296.0, enc(DataType::kU32)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(2147483648.0, enc(DataType::kI32)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(1e19, enc(DataType::kI64)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(2e19, enc(DataType::kU64)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(1e39, enc(DataType::kF32)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(std::nan(""), enc(DataType::kF32)).error, CodecError::kNotFinite);
  EXPECT_EQ(encode(INFINITY, enc(DataType::kI32)).error, CodecError::kNotFinite);
  EXPECT_EQ(encode(1.0, enc(DataType::kU16), Scale{0.0, std::nullopt}).error, CodecError::kNotFinite);
  EXPECT_EQ(encode(1.0, enc(DataType::kU16), Scale{1.0, 11}).error, CodecError::kBadScaleFactor);
  // Scale pushes a small physical value out of range.
  EXPECT_EQ(encode(70.0, enc(DataType::kU16), Scale{0.001, std::nullopt}).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode(1.0, enc(DataType::kString)).error, CodecError::kWrongType);
  EXPECT_EQ(encode(1.0, enc(DataType::kBool)).error, CodecError::kWrongType);

  EXPECT_EQ(encode_integer(-1, enc(DataType::kU32)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode_integer(70000, enc(DataType::kU16)).error, CodecError::kOutOfRange);
  EXPECT_EQ(encode_integer(std::numeric_limits<std::int64_t>::min(), enc(DataType::kI64)).error,
            CodecError::kReservedValue);
  EXPECT_TRUE(encode_integer(std::numeric_limits<std::int64_t>::min() + 1, enc(DataType::kI64)).ok());
  EXPECT_EQ(encode_unsigned(0x8000'0000'0000'0000ULL, enc(DataType::kI64)).error, CodecError::kOutOfRange);
  EXPECT_TRUE(encode_unsigned(0xFFFF'FFFF'FFFF'FFFEULL, enc(DataType::kU64)).ok());
}

TEST(ModbusCodec, EncodeDecodeRoundTripEveryIntegerType) {
  for (auto t : {DataType::kU16, DataType::kI16, DataType::kU32, DataType::kI32, DataType::kU64, DataType::kI64,
                 DataType::kEnum16, DataType::kEnum32, DataType::kBitfield16, DataType::kBitfield32,
                 DataType::kBitfield64, DataType::kAcc16, DataType::kAcc32, DataType::kAcc64,
                 DataType::kScaleFactor}) {
    for (auto w : {WordOrder::kHighFirst, WordOrder::kLowFirst}) {
      for (auto b : {ByteOrder::kBigEndian, ByteOrder::kSwapped}) {
        const Encoding e = enc(t, w, b);
        for (std::int64_t v : {0LL, 1LL, 7LL, 300LL, 32767LL, -1LL, -32767LL}) {
          auto out = encode_integer(v, e);
          if (!out.ok()) {
            EXPECT_TRUE(v < 0 && !is_signed_type(t)) << to_string(t) << " " << v;
            continue;
          }
          ASSERT_EQ(out.registers.size(), e.registers());
          auto back = decode(out.registers, e);
          ASSERT_TRUE(back.is_number()) << to_string(t) << " " << v;
          EXPECT_EQ(back.number.as_i64(), v) << to_string(t);
        }
      }
    }
  }
}

}  // namespace
}  // namespace gridlet::adapters::modbus
