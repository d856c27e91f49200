// Responder over a libmodbus context: normal replies and exceptions through libmodbus itself
// (so the framing is libmodbus'), deliberately broken replies written raw to the socket or line.
#pragma once

#include <modbus/modbus.h>

#include "tests/sim/simulator.hpp"

namespace gridlet::devsim {

class LibmodbusResponder final : public Responder {
 public:
  LibmodbusResponder(modbus_t* ctx, int fd, Link link) : ctx_(ctx), fd_(fd), link_(link) {}

  void reply(std::span<const std::uint8_t> adu, modbus_mapping_t* mapping) override;
  void exception(std::span<const std::uint8_t> adu, std::uint8_t code) override;
  void malformed(std::span<const std::uint8_t> adu, const Request& request) override;

 private:
  modbus_t* ctx_;
  int fd_;
  Link link_;
};

}  // namespace gridlet::devsim
