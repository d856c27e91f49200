#include "tests/sim/simulator.hpp"

#include <algorithm>
#include <vector>

namespace gridlet::devsim {
namespace {

constexpr std::uint16_t kMaxWriteCount = 123;  // Modbus limit for function 16
constexpr std::uint16_t kMaxReadCount = 125;   // Modbus limit for functions 03/04

bool targets_fault_block(const Request& r) {
  return (r.function == 3 || r.is_write()) && r.well_formed && FaultBlock::covers(r.address, r.count);
}

}  // namespace

Simulator::Simulator(const SimulatorConfig& config, TimePoint now)
    : config_(config), building_(config.physics), rng_(config.physics.seed), last_(now) {}

bool Simulator::add_device(std::uint8_t unit, std::string_view kind) {
  std::lock_guard lock(mu_);
  if (unit == 0 || unit > 247 || units_.count(unit) != 0) return false;
  auto device = make_device(kind, unit,
                            DeviceContext{&building_, config_.setpoint_delay, &rng_, config_.heartbeat_timeout});
  if (!device) return false;
  auto faults = std::make_unique<FaultBlock>(*device);
  faults->set(FaultMode::kNone, 0, last_);
  faults->set_power_sf(std::nullopt);
  units_.emplace(unit, Unit{std::move(device), std::move(faults)});
  return true;
}

void Simulator::set_fault(std::uint8_t unit, FaultMode mode, std::uint16_t arg, TimePoint now) {
  std::lock_guard lock(mu_);
  units_.at(unit).faults->set(mode, arg, now);
}

void Simulator::set_delay_ms(std::uint8_t unit, std::uint16_t ms) {
  std::lock_guard lock(mu_);
  units_.at(unit).faults->set_delay_ms(ms);
}

bool Simulator::set_power_sf(std::uint8_t unit, int sf) {
  std::lock_guard lock(mu_);
  auto& u = units_.at(unit);
  if (!u.device->has_power_sf()) return false;
  u.faults->set_power_sf(sf);
  return true;
}

void Simulator::advance(TimePoint now) {
  if (now < last_) now = last_;
  const double real_s = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  for (auto& [id, u] : units_) u.device->control(now);
  building_.advance(real_s * config_.speed);
  for (auto& [id, u] : units_) {
    u.device->refresh(now);
    u.faults->show_heartbeat_losses(u.device->heartbeat_losses());
  }
}

std::chrono::milliseconds Simulator::response_delay(std::span<const std::uint8_t> adu, int header_length) {
  std::lock_guard lock(mu_);
  const auto r = parse_request(adu, header_length);
  if (!r || targets_fault_block(*r)) return std::chrono::milliseconds(0);
  const auto it = units_.find(r->unit);
  return it == units_.end() ? std::chrono::milliseconds(0) : it->second.faults->delay();
}

void Simulator::answer(std::span<const std::uint8_t> adu, int header_length, Link link, Responder& out,
                       TimePoint now) {
  std::lock_guard lock(mu_);
  const auto request = parse_request(adu, header_length);
  if (!request) return;  // not even a function code: a real device ignores line noise
  const auto it = units_.find(request->unit);
  if (it == units_.end()) {
    // A TCP gateway answers for the missing device; on a serial line nobody does.
    if (link == Link::kTcp) out.exception(adu, MODBUS_EXCEPTION_GATEWAY_TARGET);
    return;
  }
  Unit& unit = it->second;
  advance(now);

  std::vector<std::uint8_t> query(adu.begin(), adu.end());
  bool ignore_writes = false;
  if (!targets_fault_block(*request)) {
    unit.faults->count_request();
    switch (unit.faults->active(now)) {
      case FaultMode::kNone:
        break;
      case FaultMode::kNoReply:
      case FaultMode::kDisappear:
        return;
      case FaultMode::kException:
        out.exception(adu, unit.faults->exception_code());
        return;
      case FaultMode::kMalformed:
        out.malformed(adu, *request);
        return;
      case FaultMode::kWrongId:
        // libmodbus builds the reply from the request's header: answer a doctored copy.
        if (link == Link::kTcp) {
          query[1] = static_cast<std::uint8_t>(query[1] + 1);
        } else {
          query[0] = static_cast<std::uint8_t>(query[0] % 247 + 1);
        }
        break;
      case FaultMode::kIgnoreWrites:
        ignore_writes = true;
        break;
    }
  }
  serve(unit, *request, query, ignore_writes, out, now);
}

void Simulator::serve(Unit& unit, const Request& r, std::span<const std::uint8_t> adu, bool ignore_writes,
                      Responder& out, TimePoint now) {
  Device& device = *unit.device;
  if (!r.supported) {
    out.exception(adu, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    return;
  }
  if (!r.well_formed) {
    out.exception(adu, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    return;
  }
  const bool fault_block = targets_fault_block(r);
  if (r.is_read()) {
    const auto max = fault_block ? kMaxReadCount : std::min(kMaxReadCount, device.max_read_count());
    if (r.count < 1 || r.count > max) {
      out.exception(adu, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
      return;
    }
    const auto table = r.function == 3 ? Table::kHolding : Table::kInput;
    if (!fault_block && !device.has_registers(table, r.address, r.count)) {
      out.exception(adu, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
      return;
    }
    out.reply(adu, device.mapping());
    return;
  }

  // Writes (06, 16).
  if (r.count < 1 || r.count > kMaxWriteCount) {
    out.exception(adu, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    return;
  }
  if (!fault_block && !device.has_registers(Table::kHolding, r.address, r.count)) {
    out.exception(adu, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    return;
  }
  const auto code = fault_block ? unit.faults->check_write(r.address, r.values) : device.check_write(r.address, r.values);
  if (code != 0) {
    out.exception(adu, code);
    return;
  }
  std::uint16_t* regs = device.holding() + r.address;
  const std::vector<std::uint16_t> before(regs, regs + r.count);
  out.reply(adu, device.mapping());  // libmodbus stores the values and echoes the request
  if (fault_block) {
    unit.faults->on_written(now);
  } else if (ignore_writes) {
    std::copy(before.begin(), before.end(), regs);  // acknowledged, never stored nor applied
  } else {
    device.on_written(r.address, r.count, now);
    device.control(now);
  }
  device.refresh(now);
}

}  // namespace gridlet::devsim
