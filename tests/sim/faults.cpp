#include "tests/sim/faults.hpp"

#include <charconv>
#include <string>

#include "tests/sim/registers.hpp"

namespace gridlet::devsim {
namespace {

constexpr std::uint16_t kMode = 0, kArg = 1, kDelay = 2, kPowerSf = 3, kRequests = 4, kHeartbeatLosses = 6;
constexpr std::uint16_t kDefaultSf = 0x8000;
constexpr std::uint16_t kDefaultDisappearS = 10;
constexpr std::uint16_t kDefaultException = MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE;

}  // namespace

std::uint8_t FaultBlock::check_write(std::uint16_t address, std::span<const std::uint16_t> values) const {
  // Judge the block as it would be after the write, so that mode and argument can be written
  // together in one request.
  std::uint16_t after[kFaultRegs];
  for (std::uint16_t i = 0; i < kFaultRegs; ++i) after[i] = reg(i);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto r = static_cast<std::uint16_t>(address - kFaultBase + i);
    if (r >= kRequests) return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;  // read-only counters
    after[r] = values[i];
  }
  if (after[kMode] > static_cast<std::uint16_t>(FaultMode::kDisappear)) return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  if (after[kMode] == static_cast<std::uint16_t>(FaultMode::kException) && (after[kArg] < 1 || after[kArg] > 11)) {
    return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  }
  if (after[kMode] == static_cast<std::uint16_t>(FaultMode::kDisappear) && after[kArg] > 3600) {
    return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  }
  if (after[kDelay] > 60000) return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  const auto sf = static_cast<std::int16_t>(after[kPowerSf]);
  if (after[kPowerSf] != kDefaultSf && (sf < -6 || sf > 6)) return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  if (after[kPowerSf] != reg(kPowerSf) && !device_.has_power_sf()) return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  return 0;
}

void FaultBlock::on_written(TimePoint now) {
  if (reg(kMode) == static_cast<std::uint16_t>(FaultMode::kDisappear)) {
    if (!disappear_until_) {
      const std::uint16_t s = reg(kArg) > 0 ? reg(kArg) : kDefaultDisappearS;
      disappear_until_ = now + std::chrono::seconds(s);
    }
  } else {
    disappear_until_.reset();
  }
  if (device_.has_power_sf()) {
    const auto raw = reg(kPowerSf);
    device_.set_power_sf(raw == kDefaultSf ? std::nullopt : std::optional<int>(static_cast<std::int16_t>(raw)));
  }
}

void FaultBlock::set(FaultMode mode, std::uint16_t arg, TimePoint now) {
  reg(kMode) = static_cast<std::uint16_t>(mode);
  reg(kArg) = arg;
  disappear_until_.reset();
  on_written(now);
}

void FaultBlock::set_delay_ms(std::uint16_t ms) { reg(kDelay) = ms; }

void FaultBlock::set_power_sf(std::optional<int> sf) {
  reg(kPowerSf) = sf ? static_cast<std::uint16_t>(*sf) : kDefaultSf;
  device_.set_power_sf(sf);
}

FaultMode FaultBlock::active(TimePoint now) {
  auto mode = static_cast<FaultMode>(reg(kMode));
  if (mode == FaultMode::kDisappear && disappear_until_ && now >= *disappear_until_) {
    reg(kMode) = 0;  // back on the line, as if it had been power-cycled
    disappear_until_.reset();
    mode = FaultMode::kNone;
  }
  return mode;
}

std::uint8_t FaultBlock::exception_code() const {
  const auto code = reg(kArg);
  return code >= 1 && code <= 11 ? static_cast<std::uint8_t>(code) : kDefaultException;
}

std::chrono::milliseconds FaultBlock::delay() const { return std::chrono::milliseconds(reg(kDelay)); }

void FaultBlock::count_request() {
  put_u32(device_.holding(), kFaultBase + kRequests, get_u32(device_.holding(), kFaultBase + kRequests) + 1);
}

void FaultBlock::show_heartbeat_losses(std::uint32_t n) {
  put_u32(device_.holding(), kFaultBase + kHeartbeatLosses, n);
}

std::optional<std::pair<FaultMode, std::uint16_t>> parse_fault_mode(std::string_view text) {
  const auto colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  std::uint16_t arg = 0;
  if (colon != std::string_view::npos) {
    const auto a = text.substr(colon + 1);
    const auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), arg);
    if (ec != std::errc() || p != a.data() + a.size()) return std::nullopt;
  }
  if (name == "none") return std::pair{FaultMode::kNone, arg};
  if (name == "timeout" || name == "no-reply") return std::pair{FaultMode::kNoReply, arg};
  if (name == "exception") {
    if (colon == std::string_view::npos) arg = kDefaultException;
    if (arg < 1 || arg > 11) return std::nullopt;
    return std::pair{FaultMode::kException, arg};
  }
  if (name == "malformed") return std::pair{FaultMode::kMalformed, arg};
  if (name == "wrong-tid" || name == "wrong-id") return std::pair{FaultMode::kWrongId, arg};
  if (name == "ignore-writes") return std::pair{FaultMode::kIgnoreWrites, arg};
  if (name == "disappear") {
    if (colon == std::string_view::npos) arg = kDefaultDisappearS;
    if (arg > 3600) return std::nullopt;
    return std::pair{FaultMode::kDisappear, arg};
  }
  return std::nullopt;
}

}  // namespace gridlet::devsim
