// The SunSpec RegisterReader over one unit id of a Bus, for multi-step exchanges (discovery, model
// reads) that run synchronously on the bus's thread, or on a bus without a worker.
#pragma once

#include <cstdint>
#include <span>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/sunspec_discovery.hpp"

namespace gridlet::adapters::modbus {

// Reads the holding registers of one unit id through a Bus (execute_now, so only on the thread
// that drives the bus). Bus outcomes map to ReadStatus; "not sent" (offline, refused) is an I/O
// error, which ends a SunSpec discovery at once.
class UnitRegisterReader final : public sunspec::RegisterReader {
 public:
  UnitRegisterReader(Bus& bus, std::uint8_t unit) : bus_(bus), unit_(unit) {}
  sunspec::ReadStatus read_holding(std::uint16_t address, std::uint16_t count,
                                   std::span<std::uint16_t> out) override;

 private:
  Bus& bus_;
  std::uint8_t unit_;
};

// The bus's rule (answered() in transport.hpp) for a SunSpec read: data, an inconsistent model
// (the device answered every request) or a Modbus exception of the unit's own.
bool answered(const sunspec::ReadStatus& status);
// contact() (transport.hpp) of a SunSpec read.
Contact contact(const sunspec::ReadStatus& status);

}  // namespace gridlet::adapters::modbus
