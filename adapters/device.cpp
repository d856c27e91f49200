#include "adapters/device.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace gridlet::adapters {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxNameLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}
namespace {

constexpr std::array<std::pair<Quality, std::string_view>, 4> kQualityNames{{
    {Quality::kGood, "good"},
    {Quality::kStale, "stale"},
    {Quality::kMissing, "missing"},
    {Quality::kError, "error"},
}};

constexpr std::array<std::pair<DeviceKind, std::string_view>, 5> kKindNames{{
    {DeviceKind::kInverter, "inverter"},
    {DeviceKind::kBattery, "battery"},
    {DeviceKind::kMeter, "meter"},
    {DeviceKind::kEvCharger, "ev_charger"},
    {DeviceKind::kOther, "other"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "unknown";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table,
                          std::string_view s) {
  for (const auto& [value, name] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(ControlOutcome o) {
  switch (o) {
    case ControlOutcome::kApplied: return "applied";
    case ControlOutcome::kRejected: return "rejected";
    case ControlOutcome::kRefused: return "refused";
    case ControlOutcome::kMismatch: return "mismatch";
    case ControlOutcome::kFailed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(ControlAction a) {
  switch (a) {
    case ControlAction::kSet: return "set";
    case ControlAction::kKeepAlive: return "keepalive";
    case ControlAction::kReassert: return "reassert";
    case ControlAction::kRelease: return "release";
    case ControlAction::kHeartbeat: return "heartbeat";
  }
  return "unknown";
}

std::string_view to_string(Quality q) { return name_of(kQualityNames, q); }
std::optional<Quality> parse_quality(std::string_view s) { return value_of<Quality>(kQualityNames, s); }
std::string_view to_string(DeviceKind k) { return name_of(kKindNames, k); }
std::optional<DeviceKind> parse_device_kind(std::string_view s) {
  return value_of<DeviceKind>(kKindNames, s);
}

}  // namespace gridlet::adapters
