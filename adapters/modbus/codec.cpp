#include "adapters/modbus/codec.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>

namespace gridlet::adapters::modbus {
namespace {

constexpr std::array<std::pair<DataType, std::string_view>, 19> kTypeNames{{
    {DataType::kU16, "u16"},
    {DataType::kI16, "i16"},
    {DataType::kU32, "u32"},
    {DataType::kI32, "i32"},
    {DataType::kU64, "u64"},
    {DataType::kI64, "i64"},
    {DataType::kF32, "f32"},
    {DataType::kF64, "f64"},
    {DataType::kString, "string"},
    {DataType::kBitfield16, "bitfield16"},
    {DataType::kBitfield32, "bitfield32"},
    {DataType::kEnum16, "enum16"},
    {DataType::kEnum32, "enum32"},
    {DataType::kScaleFactor, "sunssf"},
    {DataType::kAcc16, "acc16"},
    {DataType::kAcc32, "acc32"},
    {DataType::kAcc64, "acc64"},
    {DataType::kBitfield64, "bitfield64"},
    {DataType::kBool, "bool"},
}};

// Other spellings accepted on input: SunSpec JSON names and the short forms.
constexpr std::array<std::pair<std::string_view, DataType>, 11> kTypeAliases{{
    {"uint16", DataType::kU16},
    {"int16", DataType::kI16},
    {"uint32", DataType::kU32},
    {"int32", DataType::kI32},
    {"uint64", DataType::kU64},
    {"int64", DataType::kI64},
    {"float32", DataType::kF32},
    {"float64", DataType::kF64},
    {"bitfield", DataType::kBitfield16},
    {"enum", DataType::kEnum16},
    {"scale_factor", DataType::kScaleFactor},
}};

// Exact double values of the powers of ten a scale may use; 10^0..10^22 are exact in binary64.
constexpr std::array<double, 23> kPow10{1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
// The doubles nearest 10^-k, as the TOML parser produces them from "0.1", "0.01", ...
constexpr std::array<double, 11> kPow10Neg{1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5,
                                           1e-6, 1e-7, 1e-8, 1e-9, 1e-10};

constexpr std::array<std::uint64_t, 20> kPow10U{1ULL,
                                                10ULL,
                                                100ULL,
                                                1000ULL,
                                                10000ULL,
                                                100000ULL,
                                                1000000ULL,
                                                10000000ULL,
                                                100000000ULL,
                                                1000000000ULL,
                                                10000000000ULL,
                                                100000000000ULL,
                                                1000000000000ULL,
                                                10000000000000ULL,
                                                100000000000000ULL,
                                                1000000000000000ULL,
                                                10000000000000000ULL,
                                                100000000000000000ULL,
                                                1000000000000000000ULL,
                                                10000000000000000000ULL};

unsigned bit_width_of(DataType t) {
  switch (t) {
    case DataType::kU16:
    case DataType::kI16:
    case DataType::kBitfield16:
    case DataType::kEnum16:
    case DataType::kScaleFactor:
    case DataType::kAcc16:
      return 16;
    case DataType::kU32:
    case DataType::kI32:
    case DataType::kF32:
    case DataType::kBitfield32:
    case DataType::kEnum32:
    case DataType::kAcc32:
      return 32;
    case DataType::kU64:
    case DataType::kI64:
    case DataType::kF64:
    case DataType::kAcc64:
    case DataType::kBitfield64:
      return 64;
    case DataType::kString:
    case DataType::kBool:
      return 0;
  }
  return 0;
}

// The SunSpec "not implemented" bit pattern of a numeric type, if it has one.
std::optional<std::uint64_t> sentinel_bits(DataType t) {
  switch (t) {
    case DataType::kI16:
    case DataType::kScaleFactor:
      return 0x8000ULL;
    case DataType::kU16:
    case DataType::kEnum16:
    case DataType::kBitfield16:
      return 0xFFFFULL;
    case DataType::kI32:
      return 0x8000'0000ULL;
    case DataType::kU32:
    case DataType::kEnum32:
    case DataType::kBitfield32:
      return 0xFFFF'FFFFULL;
    case DataType::kI64:
      return 0x8000'0000'0000'0000ULL;
    case DataType::kU64:
    case DataType::kBitfield64:
      return 0xFFFF'FFFF'FFFF'FFFFULL;
    default:
      return std::nullopt;
  }
}

std::uint16_t swap_bytes(std::uint16_t w) {
  return static_cast<std::uint16_t>((w >> 8) | (w << 8));
}

// Joins `n` registers into one integer, most significant word first after applying the orders.
std::uint64_t join_words(std::span<const std::uint16_t> regs, unsigned n, const Encoding& enc) {
  std::uint64_t bits = 0;
  for (unsigned i = 0; i < n; ++i) {
    const unsigned idx = enc.word_order == WordOrder::kHighFirst ? i : n - 1 - i;
    std::uint16_t w = regs[idx];
    if (enc.byte_order == ByteOrder::kSwapped) w = swap_bytes(w);
    bits = (bits << 16) | w;
  }
  return bits;
}

std::vector<std::uint16_t> split_words(std::uint64_t bits, unsigned n, const Encoding& enc) {
  std::vector<std::uint16_t> out(n);
  for (unsigned i = 0; i < n; ++i) {
    // i counts from the most significant word.
    auto w = static_cast<std::uint16_t>(bits >> (16 * (n - 1 - i)));
    if (enc.byte_order == ByteOrder::kSwapped) w = swap_bytes(w);
    const unsigned idx = enc.word_order == WordOrder::kHighFirst ? i : n - 1 - i;
    out[idx] = w;
  }
  return out;
}

std::int64_t sign_extend(std::uint64_t bits, unsigned width) {
  if (width == 64) return std::bit_cast<std::int64_t>(bits);
  const std::uint64_t sign = 1ULL << (width - 1);
  const std::uint64_t v = bits & ((1ULL << width) - 1);
  return (v & sign) != 0 ? static_cast<std::int64_t>(v) - static_cast<std::int64_t>(1ULL << width)
                         : static_cast<std::int64_t>(v);
}

DecodeResult error_result(CodecError e) {
  DecodeResult r;
  r.status = DecodeStatus::kError;
  r.error = e;
  return r;
}

DecodeResult missing_result() {
  DecodeResult r;
  r.status = DecodeStatus::kMissing;
  return r;
}

DecodeResult number_result(Number n) {
  DecodeResult r;
  r.status = DecodeStatus::kNumber;
  r.number = n;
  return r;
}

DecodeResult decode_string(std::span<const std::uint16_t> regs, const Encoding& enc) {
  const unsigned n = enc.string_registers;
  bool all_zero = true;
  for (unsigned i = 0; i < n; ++i) all_zero = all_zero && regs[i] == 0;
  if (all_zero && enc.sentinels) return missing_result();
  std::string text;
  text.reserve(2U * n);
  bool ended = false;
  for (unsigned i = 0; i < n && !ended; ++i) {
    std::uint16_t w = regs[i];
    if (enc.byte_order == ByteOrder::kSwapped) w = swap_bytes(w);
    for (const auto byte : {static_cast<unsigned char>(w >> 8), static_cast<unsigned char>(w & 0xFF)}) {
      if (byte == 0) {
        ended = true;
        break;
      }
      text.push_back(byte >= 0x20 && byte <= 0x7E ? static_cast<char>(byte) : '?');
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  DecodeResult r;
  r.status = DecodeStatus::kString;
  r.text = std::move(text);
  return r;
}

// Range of a type's raw integer values, as [min, max] in int64/uint64 terms.
struct IntRange {
  bool is_signed;
  std::int64_t smin;
  std::int64_t smax;
  std::uint64_t umax;
};

IntRange range_of(DataType t) {
  const unsigned w = bit_width_of(t);
  if (is_signed_type(t)) {
    if (w == 64) {
      return {true, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
              0};
    }
    const auto half = static_cast<std::int64_t>(1ULL << (w - 1));
    return {true, -half, half - 1, 0};
  }
  return {false, 0, 0, w == 64 ? std::numeric_limits<std::uint64_t>::max() : (1ULL << w) - 1};
}

EncodeResult encode_fail(CodecError e) {
  EncodeResult r;
  r.error = e;
  return r;
}

EncodeResult encode_bits(std::uint64_t bits, const Encoding& enc) {
  const unsigned w = bit_width_of(enc.type);
  if (w < 64) bits &= (1ULL << w) - 1;
  if (enc.sentinels) {
    if (auto s = sentinel_bits(enc.type); s && *s == bits) return encode_fail(CodecError::kReservedValue);
  }
  EncodeResult r;
  r.registers = split_words(bits, w / 16, enc);
  return r;
}

// Divides a non-negative magnitude by 10^k, rounding half away from zero.
std::uint64_t div_round_pow10(std::uint64_t mag, unsigned k) {
  if (k >= kPow10U.size()) return 0;  // 10^20 > 2 * 2^63: always rounds to zero
  const std::uint64_t p = kPow10U[k];
  const std::uint64_t q = mag / p;
  const std::uint64_t r = mag % p;
  return r >= p - r ? q + 1 : q;
}

// 10^e as a double, exact for |e| <= 22 (the caller keeps e within that).
double scale_by_pow10(double v, int e) {
  if (e >= 0) return v * kPow10[static_cast<std::size_t>(e)];
  return v / kPow10[static_cast<std::size_t>(-e)];  // division keeps 123 / 10 == 12.3 exactly rounded
}

bool valid_sf(std::int64_t sf) { return sf >= kMinScaleFactor && sf <= kMaxScaleFactor; }

}  // namespace

std::string_view to_string(DataType t) {
  for (const auto& [value, name] : kTypeNames) {
    if (value == t) return name;
  }
  return "unknown";
}

std::optional<DataType> parse_data_type(std::string_view s) {
  for (const auto& [value, name] : kTypeNames) {
    if (name == s) return value;
  }
  for (const auto& [name, value] : kTypeAliases) {
    if (name == s) return value;
  }
  return std::nullopt;
}

std::string_view to_string(WordOrder o) { return o == WordOrder::kHighFirst ? "high_first" : "low_first"; }

std::optional<WordOrder> parse_word_order(std::string_view s) {
  if (s == "high_first") return WordOrder::kHighFirst;
  if (s == "low_first") return WordOrder::kLowFirst;
  return std::nullopt;
}

std::string_view to_string(ByteOrder o) { return o == ByteOrder::kBigEndian ? "big_endian" : "swapped"; }

std::optional<ByteOrder> parse_byte_order(std::string_view s) {
  if (s == "big_endian") return ByteOrder::kBigEndian;
  if (s == "swapped") return ByteOrder::kSwapped;
  return std::nullopt;
}

bool is_float_type(DataType t) { return t == DataType::kF32 || t == DataType::kF64; }

bool is_signed_type(DataType t) {
  return t == DataType::kI16 || t == DataType::kI32 || t == DataType::kI64 || t == DataType::kScaleFactor;
}

bool is_integer_type(DataType t) {
  return !is_float_type(t) && t != DataType::kString && t != DataType::kBool;
}

std::uint16_t register_count(DataType type, std::uint16_t string_registers) {
  if (type == DataType::kString) return string_registers;
  if (type == DataType::kBool) return 1;
  return static_cast<std::uint16_t>(bit_width_of(type) / 16);
}

std::string_view to_string(CodecError e) {
  switch (e) {
    case CodecError::kNone: return "none";
    case CodecError::kShortInput: return "fewer registers than the type needs";
    case CodecError::kBadLength: return "string length missing or exceeded";
    case CodecError::kOutOfRange: return "value out of range for the type";
    case CodecError::kNotFinite: return "value or scale is not a finite number";
    case CodecError::kBadScaleFactor: return "scale factor outside [-10, 10]";
    case CodecError::kReservedValue: return "value is the type's not-implemented sentinel";
    case CodecError::kWrongType: return "value does not suit the type";
  }
  return "unknown";
}

std::optional<std::int64_t> Number::as_i64() const {
  if (!fits_i64()) return std::nullopt;
  return i64;
}

std::optional<std::uint64_t> Number::as_u64() const {
  if (!fits_u64()) return std::nullopt;
  return u64;
}

Number Number::from_signed(std::int64_t v) {
  if (v >= 0) return from_unsigned(static_cast<std::uint64_t>(v));
  Number n;
  n.negative = true;
  n.i64 = v;
  n.magnitude_bits = std::bit_cast<std::uint64_t>(v);
  n.real = static_cast<double>(v);
  return n;
}

Number Number::from_unsigned(std::uint64_t v) {
  Number n;
  n.u64 = v;
  n.i64 = v <= 0x7FFF'FFFF'FFFF'FFFFULL ? static_cast<std::int64_t>(v) : 0;
  n.magnitude_bits = v;
  n.real = static_cast<double>(v);
  return n;
}

Number Number::from_real(double v) {
  Number n;
  n.is_integer = false;
  n.negative = std::signbit(v) && v != 0.0;
  n.real = v;
  n.magnitude_bits = std::bit_cast<std::uint64_t>(v);
  return n;
}

DecodeResult decode(std::span<const std::uint16_t> regs, const Encoding& enc) {
  if (enc.type == DataType::kBool) return error_result(CodecError::kWrongType);
  if (enc.type == DataType::kString) {
    if (enc.string_registers == 0) return error_result(CodecError::kBadLength);
    if (regs.size() < enc.string_registers) return error_result(CodecError::kShortInput);
    return decode_string(regs, enc);
  }
  const unsigned width = bit_width_of(enc.type);
  const unsigned n = width / 16;
  if (regs.size() < n) return error_result(CodecError::kShortInput);
  const std::uint64_t bits = join_words(regs, n, enc);

  if (enc.type == DataType::kF32) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    if (!std::isfinite(f)) return missing_result();
    Number num = Number::from_real(static_cast<double>(f));
    num.magnitude_bits = bits;
    return number_result(num);
  }
  if (enc.type == DataType::kF64) {
    const double d = std::bit_cast<double>(bits);
    if (!std::isfinite(d)) return missing_result();
    return number_result(Number::from_real(d));
  }
  if (enc.sentinels) {
    if (auto s = sentinel_bits(enc.type); s && *s == bits) return missing_result();
  }
  Number num = is_signed_type(enc.type) ? Number::from_signed(sign_extend(bits, width))
                                        : Number::from_unsigned(bits);
  num.magnitude_bits = bits;
  return number_result(num);
}

DecodeResult decode_bit(std::span<const std::uint8_t> bits, std::size_t index) {
  if (index >= bits.size()) return error_result(CodecError::kShortInput);
  Number n = Number::from_unsigned(bits[index] != 0 ? 1 : 0);
  return number_result(n);
}

std::optional<std::int64_t> Decimal::to_units(int unit_exponent) const {
  if (mantissa == 0) return 0;
  const bool neg = mantissa < 0;
  // |mantissa| without overflow for INT64_MIN.
  const std::uint64_t mag = neg ? ~static_cast<std::uint64_t>(mantissa) + 1 : static_cast<std::uint64_t>(mantissa);
  const std::uint64_t limit = neg ? (1ULL << 63) : (1ULL << 63) - 1;
  const long shift = static_cast<long>(exponent) - unit_exponent;
  std::uint64_t out;
  if (shift >= 0) {
    if (shift >= static_cast<long>(kPow10U.size())) return std::nullopt;
    const std::uint64_t p = kPow10U[static_cast<std::size_t>(shift)];
    if (mag > limit / p) return std::nullopt;
    out = mag * p;
  } else {
    out = -shift >= static_cast<long>(kPow10U.size()) ? 0 : div_round_pow10(mag, static_cast<unsigned>(-shift));
    if (out > limit) return std::nullopt;
  }
  if (!neg) return static_cast<std::int64_t>(out);
  return out == (1ULL << 63) ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(out);
}

double Decimal::to_double() const {
  double v = static_cast<double>(mantissa);
  int e = exponent;
  // Apply in exact steps of at most 10^22 so typical exponents round once.
  while (e > 22) { v *= 1e22; e -= 22; }
  while (e < -22) { v /= 1e22; e += 22; }
  return scale_by_pow10(v, e);
}

ScaledValue apply_scale(const Number& raw, const Scale& scale) {
  ScaledValue out;
  if (!std::isfinite(scale.factor) || scale.factor == 0.0) {
    out.error = CodecError::kNotFinite;
    return out;
  }
  double v = raw.real;
  if (scale.exponent) {
    if (!valid_sf(*scale.exponent)) {
      out.status = DecodeStatus::kMissing;
      out.error = CodecError::kBadScaleFactor;
      return out;
    }
    v = scale_by_pow10(v, static_cast<int>(*scale.exponent));
  }
  if (scale.factor != 1.0) v *= scale.factor;
  if (!std::isfinite(v)) {
    out.error = CodecError::kOutOfRange;
    return out;
  }
  out.status = DecodeStatus::kNumber;
  out.value = v;
  return out;
}

std::optional<Decimal> apply_scale_exact(const Number& raw, std::int64_t sf) {
  if (!raw.fits_i64() || !valid_sf(sf)) return std::nullopt;
  return Decimal{raw.i64, static_cast<int>(sf)};
}

std::optional<Decimal> apply_scale_exact(const Number& raw, const Scale& scale) {
  std::optional<int> factor_exp;
  for (std::size_t k = 0; k < kPow10Neg.size() && !factor_exp; ++k) {
    if (scale.factor == kPow10[k]) factor_exp = static_cast<int>(k);
    else if (scale.factor == kPow10Neg[k]) factor_exp = -static_cast<int>(k);
  }
  if (!factor_exp) return std::nullopt;
  const std::int64_t sf = scale.exponent.value_or(0);
  if (!valid_sf(sf)) return std::nullopt;
  auto d = apply_scale_exact(raw, 0);
  if (!d) return std::nullopt;
  d->exponent = static_cast<int>(sf) + *factor_exp;
  return d;
}

EncodeResult encode_integer(std::int64_t raw, const Encoding& enc) {
  if (is_float_type(enc.type)) return encode(static_cast<double>(raw), enc);
  if (!is_integer_type(enc.type)) return encode_fail(CodecError::kWrongType);
  const IntRange r = range_of(enc.type);
  if (r.is_signed) {
    if (raw < r.smin || raw > r.smax) return encode_fail(CodecError::kOutOfRange);
  } else if (raw < 0 || static_cast<std::uint64_t>(raw) > r.umax) {
    return encode_fail(CodecError::kOutOfRange);
  }
  return encode_bits(std::bit_cast<std::uint64_t>(raw), enc);
}

EncodeResult encode_unsigned(std::uint64_t raw, const Encoding& enc) {
  if (is_float_type(enc.type)) return encode(static_cast<double>(raw), enc);
  if (!is_integer_type(enc.type)) return encode_fail(CodecError::kWrongType);
  const IntRange r = range_of(enc.type);
  if (r.is_signed) {
    if (raw > static_cast<std::uint64_t>(r.smax)) return encode_fail(CodecError::kOutOfRange);
  } else if (raw > r.umax) {
    return encode_fail(CodecError::kOutOfRange);
  }
  return encode_bits(raw, enc);
}

EncodeResult encode(double value, const Encoding& enc, const Scale& scale) {
  if (enc.type == DataType::kString || enc.type == DataType::kBool) {
    return encode_fail(CodecError::kWrongType);
  }
  if (!std::isfinite(value) || !std::isfinite(scale.factor) || scale.factor == 0.0) {
    return encode_fail(CodecError::kNotFinite);
  }
  double raw = value;
  if (scale.exponent) {
    if (!valid_sf(*scale.exponent)) return encode_fail(CodecError::kBadScaleFactor);
    raw = scale_by_pow10(raw, -static_cast<int>(*scale.exponent));
  }
  if (scale.factor != 1.0) raw /= scale.factor;
  if (!std::isfinite(raw)) return encode_fail(CodecError::kOutOfRange);

  if (enc.type == DataType::kF32) {
    if (std::fabs(raw) > static_cast<double>(std::numeric_limits<float>::max())) {
      return encode_fail(CodecError::kOutOfRange);
    }
    return encode_bits(std::bit_cast<std::uint32_t>(static_cast<float>(raw)), enc);
  }
  if (enc.type == DataType::kF64) return encode_bits(std::bit_cast<std::uint64_t>(raw), enc);

  const double rounded = std::round(raw);  // half away from zero
  if (is_signed_type(enc.type)) {
    // [-2^63, 2^63) is exactly representable at its ends; narrower types are checked exactly too.
    if (!(rounded >= -9223372036854775808.0 && rounded < 9223372036854775808.0)) {
      return encode_fail(CodecError::kOutOfRange);
    }
    return encode_integer(static_cast<std::int64_t>(rounded), enc);
  }
  if (!(rounded >= 0.0 && rounded < 18446744073709551616.0)) return encode_fail(CodecError::kOutOfRange);
  return encode_unsigned(static_cast<std::uint64_t>(rounded), enc);
}

EncodeResult encode_string(std::string_view text, const Encoding& enc) {
  if (enc.type != DataType::kString) return encode_fail(CodecError::kWrongType);
  const std::size_t n = enc.string_registers;
  if (n == 0 || text.size() > 2 * n) return encode_fail(CodecError::kBadLength);
  for (char ch : text) {
    if (ch < 0x20 || ch > 0x7E) return encode_fail(CodecError::kOutOfRange);
  }
  EncodeResult r;
  r.registers.assign(n, 0);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<std::uint16_t>(static_cast<unsigned char>(text[i]));
    r.registers[i / 2] = static_cast<std::uint16_t>(r.registers[i / 2] | (i % 2 == 0 ? byte << 8 : byte));
  }
  if (enc.byte_order == ByteOrder::kSwapped) {
    for (auto& w : r.registers) w = swap_bytes(w);
  }
  return r;
}

std::optional<bool> encode_bit(double value) {
  if (value == 0.0) return false;
  if (value == 1.0) return true;
  return std::nullopt;
}

}  // namespace gridlet::adapters::modbus
