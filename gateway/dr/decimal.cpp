#include "gateway/dr/decimal.hpp"

#include <cstddef>

namespace gridlet::dr {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

InputError bad(std::string message) { return InputError{"", std::move(message)}; }

}  // namespace

Result<Decimal> parse_decimal(std::string_view s) {
  constexpr std::string_view kShape = "expected a number";
  std::size_t pos = 0;
  const bool negative = pos < s.size() && s[pos] == '-';
  if (negative) ++pos;

  // The significant digits of integer and fraction part, and how many of them follow the point.
  std::string digits;
  const std::size_t int_begin = pos;
  while (pos < s.size() && is_digit(s[pos])) digits.push_back(s[pos++]);
  if (pos == int_begin) return bad(std::string(kShape));
  if (pos - int_begin > 1 && s[int_begin] == '0') return bad("leading zeros are not allowed");
  std::int64_t scale = 0;  // value = digits * 10^scale
  if (pos < s.size() && s[pos] == '.') {
    const std::size_t frac_begin = ++pos;
    while (pos < s.size() && is_digit(s[pos])) digits.push_back(s[pos++]);
    if (pos == frac_begin) return bad(std::string(kShape));
    scale -= static_cast<std::int64_t>(pos - frac_begin);
  }
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    const bool exp_negative = pos < s.size() && s[pos] == '-';
    if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) ++pos;
    const std::size_t exp_begin = pos;
    std::int64_t exponent = 0;
    for (; pos < s.size() && is_digit(s[pos]); ++pos) {
      // Saturate: any exponent beyond this makes the value zero or out of range alike.
      if (exponent < 100'000) exponent = exponent * 10 + (s[pos] - '0');
    }
    if (pos == exp_begin) return bad(std::string(kShape));
    scale += exp_negative ? -exponent : exponent;
  }
  if (pos != s.size()) return bad(std::string(kShape));

  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Decimal{0};
  digits.erase(0, first);
  // Bring the scale to micro-units: value_micro = digits * 10^(scale + 6).
  const std::int64_t shift = scale + 6;
  const auto length = static_cast<std::int64_t>(digits.size());
  constexpr std::int64_t kMaxDigits = 19;  // kMaxDecimalMicro has 19 digits
  std::uint64_t magnitude = 0;
  if (shift >= 0) {
    if (length + shift > kMaxDigits) return bad("out of range (magnitude above 1e12)");
    for (const char c : digits) magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');
    for (std::int64_t i = 0; i < shift; ++i) magnitude *= 10;
  } else {
    const std::int64_t kept = length + shift;  // digits left of the rounding position
    if (kept < 0) return Decimal{0};            // below half a micro-unit
    if (kept > kMaxDigits) return bad("out of range (magnitude above 1e12)");
    for (std::int64_t i = 0; i < kept; ++i) {
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(digits[static_cast<std::size_t>(i)] - '0');
    }
    if (digits[static_cast<std::size_t>(kept)] >= '5') ++magnitude;  // half away from zero
  }
  if (magnitude > static_cast<std::uint64_t>(kMaxDecimalMicro)) return bad("out of range (magnitude above 1e12)");
  const auto micro = static_cast<std::int64_t>(magnitude);
  return Decimal{negative ? -micro : micro};
}

std::string format_decimal(Decimal value) {
  auto magnitude = static_cast<std::uint64_t>(value.micro);
  std::string out;
  if (value.micro < 0) {
    out.push_back('-');
    magnitude = 0 - magnitude;
  }
  out += std::to_string(magnitude / kMicroPerUnit);
  std::uint64_t fraction = magnitude % kMicroPerUnit;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction + kMicroPerUnit).substr(1);  // six digits
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

}  // namespace gridlet::dr
