// Encoding of values into a Modbus register image (16-bit words, as they go on the wire).
// Multi-register values are big-endian word order (high word first), as SunSpec and Eastron use.
// Scaled SunSpec values saturate at their type's range instead of wrapping, so an overflowing
// value reads as the largest representable number and never as a sign-flipped one.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace gridlet::devsim {

// SunSpec "not implemented" values, per type.
inline constexpr std::uint16_t kNotImplU16 = 0xFFFF;
inline constexpr std::uint16_t kNotImplI16 = 0x8000;  // also sunssf
inline constexpr std::uint32_t kNotImplU32 = 0xFFFFFFFF;
inline constexpr std::uint32_t kNotImplI32 = 0x80000000;

inline void put_u16(std::uint16_t* regs, std::uint16_t address, std::uint16_t v) { regs[address] = v; }

inline void put_i16(std::uint16_t* regs, std::uint16_t address, std::int16_t v) {
  regs[address] = static_cast<std::uint16_t>(v);
}

inline void put_u32(std::uint16_t* regs, std::uint16_t address, std::uint32_t v) {
  regs[address] = static_cast<std::uint16_t>(v >> 16);
  regs[address + 1] = static_cast<std::uint16_t>(v & 0xFFFF);
}

inline void put_u64(std::uint16_t* regs, std::uint16_t address, std::uint64_t v) {
  put_u32(regs, address, static_cast<std::uint32_t>(v >> 32));
  put_u32(regs, static_cast<std::uint16_t>(address + 2), static_cast<std::uint32_t>(v & 0xFFFFFFFF));
}

inline std::uint32_t get_u32(const std::uint16_t* regs, std::uint16_t address) {
  return (std::uint32_t{regs[address]} << 16) | regs[address + 1];
}

// IEEE 754 single precision, high word first (Eastron "ABCD").
inline void put_f32(std::uint16_t* regs, std::uint16_t address, float v) {
  put_u32(regs, address, std::bit_cast<std::uint32_t>(v));
}

inline float get_f32(const std::uint16_t* regs, std::uint16_t address) {
  return std::bit_cast<float>(get_u32(regs, address));
}

// A SunSpec string: two characters per register, high byte first, NUL padded.
inline void put_string(std::uint16_t* regs, std::uint16_t address, std::uint16_t size_regs,
                       std::string_view s) {
  for (std::uint16_t i = 0; i < size_regs; ++i) {
    const std::size_t c = 2u * i;
    const auto hi = c < s.size() ? static_cast<unsigned char>(s[c]) : 0u;
    const auto lo = c + 1 < s.size() ? static_cast<unsigned char>(s[c + 1]) : 0u;
    regs[address + i] = static_cast<std::uint16_t>((hi << 8) | lo);
  }
}

// physical / 10^sf, rounded.
inline double to_raw(double physical, int sf) { return std::round(physical / std::pow(10.0, sf)); }

inline std::int16_t scale_i16(double physical, int sf) {
  return static_cast<std::int16_t>(std::clamp(to_raw(physical, sf), -32767.0, 32767.0));
}

inline std::uint16_t scale_u16(double physical, int sf) {
  return static_cast<std::uint16_t>(std::clamp(to_raw(physical, sf), 0.0, 65534.0));
}

inline std::int32_t scale_i32(double physical, int sf) {
  return static_cast<std::int32_t>(std::clamp(to_raw(physical, sf), -2147483647.0, 2147483647.0));
}

inline std::uint64_t scale_u64(double physical, int sf) {
  return static_cast<std::uint64_t>(std::clamp(to_raw(physical, sf), 0.0, 9.0e18));
}

inline std::uint32_t scale_acc32(double physical, int sf) {
  // Accumulators wrap by definition (SunSpec acc32); fmod keeps that rule for huge counters.
  return static_cast<std::uint32_t>(std::fmod(std::max(0.0, to_raw(physical, sf)), 4294967296.0));
}

}  // namespace gridlet::devsim
