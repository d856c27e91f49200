// Fuzzes the register codec: any registers with any encoding decode without crashing, and what
// decodes to a number or a string encodes back to the same value (integers and floats bit-exact).
//
// Input layout: byte 0 type, byte 1 flags (bit 0 word order, bit 1 byte order, bit 2 sentinels),
// byte 2 string length in registers, byte 3 scale factor (signed), rest registers (big-endian).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "adapters/modbus/codec.hpp"

using namespace gridlet::adapters::modbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  Encoding enc;
  enc.type = static_cast<DataType>(data[0] % (static_cast<unsigned>(DataType::kBool) + 1));
  enc.word_order = (data[1] & 1) != 0 ? WordOrder::kLowFirst : WordOrder::kHighFirst;
  enc.byte_order = (data[1] & 2) != 0 ? ByteOrder::kSwapped : ByteOrder::kBigEndian;
  enc.sentinels = (data[1] & 4) != 0;
  enc.string_registers = data[2] % 64;
  const auto sf = static_cast<std::int8_t>(data[3]);
  std::vector<std::uint16_t> regs;
  for (std::size_t i = 4; i + 1 < size; i += 2) {
    regs.push_back(static_cast<std::uint16_t>((data[i] << 8) | data[i + 1]));
  }

  const DecodeResult r = decode(regs, enc);
  if (r.status == DecodeStatus::kError && r.error == CodecError::kNone) std::abort();
  if (r.status == DecodeStatus::kNumber) {
    const Number& n = r.number;
    // Scaling never crashes; an exact form agrees with the double form where both exist.
    (void)apply_scale(n, Scale{1.0, sf});
    if (auto d = apply_scale_exact(n, sf)) {
      (void)d->to_units(-3);
      (void)d->to_units(3);
      (void)d->to_double();
    }
    EncodeResult back;
    if (is_float_type(enc.type)) {
      back = encode(n.real, enc);
    } else if (n.negative) {
      back = encode_integer(*n.as_i64(), enc);
    } else {
      back = encode_unsigned(*n.as_u64(), enc);
    }
    if (!back.ok() || back.registers.size() != enc.registers()) std::abort();
    if (!std::equal(back.registers.begin(), back.registers.end(), regs.begin())) std::abort();
  } else if (r.status == DecodeStatus::kString) {
    const EncodeResult back = encode_string(r.text, enc);
    if (!back.ok()) std::abort();
    const DecodeResult again = decode(back.registers, enc);
    // Text that decoded to "" re-encodes as all NUL, which is "missing" with sentinels on.
    if (!(again.status == DecodeStatus::kString && again.text == r.text) &&
        !(r.text.empty() && again.is_missing())) {
      std::abort();
    }
  }

  // Encoding an arbitrary double never crashes and yields the right size when it succeeds.
  if (regs.size() >= 4) {
    double v;
    std::uint64_t bits = 0;
    for (int i = 0; i < 4; ++i) bits = (bits << 16) | regs[static_cast<std::size_t>(i)];
    std::memcpy(&v, &bits, sizeof v);
    const EncodeResult e = encode(v, enc, Scale{1.0, sf});
    if (e.ok() && e.registers.size() != enc.registers()) std::abort();
  }
  std::vector<std::uint8_t> bits(regs.size());
  for (std::size_t i = 0; i < regs.size(); ++i) bits[i] = static_cast<std::uint8_t>(regs[i]);
  (void)decode_bit(bits, data[2]);
  return 0;
}
