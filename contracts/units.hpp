// Integer quantities used by every contract. Money and energy never touch floating point:
// energy in watt-hours, power in milliwatts, money in micro-units of the settlement currency.
#pragma once

#include <compare>
#include <cstdint>

namespace gridlet::contracts {

// A strongly typed integer so that Wh cannot be added to micro-currency by mistake.
template <typename Tag>
struct Quantity {
  std::int64_t value = 0;

  constexpr auto operator<=>(const Quantity&) const = default;
  constexpr Quantity operator+(Quantity o) const { return {value + o.value}; }
  constexpr Quantity operator-(Quantity o) const { return {value - o.value}; }
};

struct EnergyWhTag {};
struct PowerMilliwattTag {};
struct MicroCurrencyTag {};

using EnergyWh = Quantity<EnergyWhTag>;
using PowerMw = Quantity<PowerMilliwattTag>;
using MicroAmount = Quantity<MicroCurrencyTag>;

}  // namespace gridlet::contracts
