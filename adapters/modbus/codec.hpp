// Register codec: turns Modbus registers (16-bit words as read) into numbers or strings, and
// values to write back into registers. Pure functions; no I/O, no libmodbus, no exceptions.
//
// Conventions (written down once, relied on everywhere):
// - A register is one 16-bit word as libmodbus delivers it (host integer, protocol big-endian
//   already undone). ByteOrder::kSwapped swaps the two bytes of each register for devices that
//   put the low byte first.
// - Multi-register values: WordOrder::kHighFirst means regs[0] holds the most significant word
//   (Modbus "big-endian", ABCD); kLowFirst means regs[0] holds the least significant (CDAB).
// - Strings are two ASCII characters per register, the first in the high byte (unless
//   kSwapped); word order does not apply. Decoding stops at the first NUL, drops trailing spaces
//   and replaces bytes outside printable ASCII with '?', so the text is always safe to log/JSON.
// - SunSpec "not implemented" sentinels (DecodeStatus::kMissing) when Encoding::sentinels:
//   i16/sunssf 0x8000, u16/enum16/bitfield16 0xFFFF, i32 0x80000000, u32/enum32/bitfield32
//   0xFFFFFFFF, i64 0x8000..00, u64/bitfield64 0xFFFF..FF, strings of only 0x0000.
//   Accumulators (acc16/32/64) have none: 0 is a valid count. A NaN or infinite f32/f64 is
//   missing whether or not sentinels are on: it is never a measurement.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::adapters::modbus {

enum class DataType : std::uint8_t {
  kU16,
  kI16,
  kU32,
  kI32,
  kU64,
  kI64,
  kF32,
  kF64,
  kString,
  kBitfield16,
  kBitfield32,
  kEnum16,
  kEnum32,
  kScaleFactor,  // SunSpec sunssf: i16 power-of-ten exponent
  kAcc16,        // SunSpec accumulators: unsigned counters, no sentinel
  kAcc32,
  kAcc64,
  kBitfield64,
  kBool,  // one coil or discrete input (tables kCoil / kDiscreteInput only)
};

enum class WordOrder : std::uint8_t { kHighFirst, kLowFirst };
enum class ByteOrder : std::uint8_t { kBigEndian, kSwapped };

// Profile spelling of the enums ("u16", "high_first", "swapped", ...); nullopt when unknown.
std::string_view to_string(DataType t);
std::optional<DataType> parse_data_type(std::string_view s);
std::string_view to_string(WordOrder o);
std::optional<WordOrder> parse_word_order(std::string_view s);
std::string_view to_string(ByteOrder o);
std::optional<ByteOrder> parse_byte_order(std::string_view s);

bool is_integer_type(DataType t);  // every type but f32, f64, string, bool
bool is_signed_type(DataType t);   // i16, i32, i64, sunssf
bool is_float_type(DataType t);    // f32, f64

// Registers (or bits, for kBool) one value occupies. `string_registers` is used only by kString.
std::uint16_t register_count(DataType type, std::uint16_t string_registers = 0);

// How one value is laid out in registers.
struct Encoding {
  DataType type = DataType::kU16;
  WordOrder word_order = WordOrder::kHighFirst;
  ByteOrder byte_order = ByteOrder::kBigEndian;
  std::uint16_t string_registers = 0;  // kString only: length in registers (2 characters each)
  bool sentinels = true;               // treat SunSpec "not implemented" values as missing

  std::uint16_t registers() const { return register_count(type, string_registers); }
  friend bool operator==(const Encoding&, const Encoding&) = default;
};

// Why a decode, encode or scale failed. Failures come from device data or requested values,
// never from our bugs, so they are values and not exceptions.
enum class CodecError : std::uint8_t {
  kNone,
  kShortInput,     // fewer registers than the type needs
  kBadLength,      // string without a length, or a string too long for its registers
  kOutOfRange,     // value does not fit the type (never wrapped)
  kNotFinite,      // NaN or infinity requested, or a scale that is zero/NaN
  kBadScaleFactor, // SunSpec scale factor outside [kMinScaleFactor, kMaxScaleFactor]
  kReservedValue,  // the value would encode as the type's "not implemented" sentinel
  kWrongType,      // e.g. a number for a string point, or bool value other than 0/1
};
std::string_view to_string(CodecError e);

// A decoded number. Integer types are exact: use as_i64()/as_u64(); `real` is the same value as
// a double (rounded beyond 2^53). For f32/f64 only `real` is meaningful.
struct Number {
  bool is_integer = true;
  bool negative = false;
  std::uint64_t magnitude_bits = 0;  // the raw bits after word/byte order, zero-extended
  std::int64_t i64 = 0;              // valid when fits_i64()
  std::uint64_t u64 = 0;             // valid when fits_u64()
  double real = 0.0;

  bool fits_i64() const { return is_integer && (negative || u64 <= 0x7FFF'FFFF'FFFF'FFFFULL); }
  bool fits_u64() const { return is_integer && !negative; }
  std::optional<std::int64_t> as_i64() const;
  std::optional<std::uint64_t> as_u64() const;

  static Number from_signed(std::int64_t v);
  static Number from_unsigned(std::uint64_t v);
  static Number from_real(double v);
};

enum class DecodeStatus : std::uint8_t { kNumber, kString, kMissing, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kError;
  Number number;     // kNumber
  std::string text;  // kString
  CodecError error = CodecError::kNone;  // kError

  bool is_number() const { return status == DecodeStatus::kNumber; }
  bool is_missing() const { return status == DecodeStatus::kMissing; }
};

// Decodes the first enc.registers() registers of `regs` (extra registers are ignored).
// kBool is not a register type: use decode_bit.
DecodeResult decode(std::span<const std::uint16_t> regs, const Encoding& enc);

// Coils and discrete inputs as libmodbus delivers them (one byte per bit): nonzero -> 1.
DecodeResult decode_bit(std::span<const std::uint8_t> bits, std::size_t index);

// --- Scaling ------------------------------------------------------------------------------------

inline constexpr int kMinScaleFactor = -10;
inline constexpr int kMaxScaleFactor = 10;

// physical = raw * factor * 10^exponent. `factor` is a profile's constant (`scale = 0.1`);
// `exponent` the value of a SunSpec scale-factor point when the point has one.
struct Scale {
  double factor = 1.0;
  std::optional<std::int64_t> exponent;
};

// An exact decimal: value = mantissa * 10^exponent. For integer units (mW, Wh) without floats.
struct Decimal {
  std::int64_t mantissa = 0;
  int exponent = 0;

  // The value in units of 10^unit_exponent (e.g. -3 for milli), rounded half away from zero;
  // nullopt on int64 overflow.
  std::optional<std::int64_t> to_units(int unit_exponent) const;
  double to_double() const;
  friend bool operator==(const Decimal&, const Decimal&) = default;
};

struct ScaledValue {
  DecodeStatus status = DecodeStatus::kError;  // kNumber, kMissing (bad SF) or kError
  double value = 0.0;
  CodecError error = CodecError::kNone;
};

// Applies a scale to a decoded number. An exponent outside [-10, 10] (or the SunSpec sentinel
// -32768 that decode already reports as missing) gives kMissing with kBadScaleFactor.
ScaledValue apply_scale(const Number& raw, const Scale& scale);

// The exact form: raw * 10^sf. nullopt when raw is not an int64-representable integer or sf is
// out of range.
std::optional<Decimal> apply_scale_exact(const Number& raw, std::int64_t sf);
// Same, for a Scale whose factor is an exact power of ten (1000, 0.1, ...); nullopt otherwise.
std::optional<Decimal> apply_scale_exact(const Number& raw, const Scale& scale);

// --- Encoding for writes -----------------------------------------------------------------------

struct EncodeResult {
  std::vector<std::uint16_t> registers;  // enc.registers() words, ready for write_registers
  CodecError error = CodecError::kNone;
  bool ok() const { return error == CodecError::kNone; }
};

// Physical value -> registers: raw = value / (factor * 10^exponent), rounded to nearest (half
// away from zero) for integer types, then range-checked against the type (never wrapped). With
// sentinels on, a raw value equal to the type's sentinel is refused (kReservedValue).
EncodeResult encode(double value, const Encoding& enc, const Scale& scale = {});
// Exact raw integers (no scaling). kOutOfRange when `raw` does not fit the type.
EncodeResult encode_integer(std::int64_t raw, const Encoding& enc);
EncodeResult encode_unsigned(std::uint64_t raw, const Encoding& enc);
// Text -> registers, NUL-padded; kBadLength when longer than 2 * string_registers.
EncodeResult encode_string(std::string_view text, const Encoding& enc);
// Coil value: 0 or 1 only, else kWrongType.
std::optional<bool> encode_bit(double value);

}  // namespace gridlet::adapters::modbus
