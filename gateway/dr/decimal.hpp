// Decimal numbers of DR payloads (prices, limits, setpoints) as fixed-point integers of
// micro-units, so that "0.17" stays exactly 0.17 from the wire through planning, storage and
// the ledger (which takes integers only). Pure; no floating point anywhere on the way.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/dr/result.hpp"

namespace gridlet::dr {

inline constexpr std::int64_t kMicroPerUnit = 1'000'000;
// Largest magnitude we accept: 1e12 units (1e18 micro-units), far above any price, power or
// energy a gateway sees, and safely inside int64 for sums of a few values.
inline constexpr std::int64_t kMaxDecimalMicro = 1'000'000'000'000'000'000;

// A decimal value in millionths: micro == 170000 is 0.17.
struct Decimal {
  std::int64_t micro = 0;

  static constexpr Decimal units(std::int64_t whole) { return {whole * kMicroPerUnit}; }
  bool is_integer() const { return micro % kMicroPerUnit == 0; }
  auto operator<=>(const Decimal&) const = default;
};

// Reads a JSON number's text ("-12", "0.17", "1.5e3", "2E-7") exactly. Digits beyond the sixth
// decimal place are rounded half away from zero ("0.0000005" -> 1 micro), so any number a peer
// writes is accepted at micro precision. Refuses text that is not a JSON number and magnitudes
// above kMaxDecimalMicro.
Result<Decimal> parse_decimal(std::string_view json_number);

// The shortest exact text: "0.17", "-3", "12.000001". parse_decimal reads it back to the same value.
std::string format_decimal(Decimal value);

}  // namespace gridlet::dr
