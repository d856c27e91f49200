// Decoding of the requests devsim answers (functions 03, 04, 06, 16) from a raw ADU, and the
// RTU framing rules (expected length by function code, CRC) for the serial line. Input comes
// from untrusted clients: every length is checked before use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace gridlet::devsim {

struct Request {
  std::uint8_t unit = 0;
  std::uint8_t function = 0;
  bool supported = false;  // function 03, 04, 06 or 16
  bool well_formed = false;  // lengths consistent (else exception 3)
  std::uint16_t address = 0;
  std::uint16_t count = 0;
  std::vector<std::uint16_t> values;  // for writes

  bool is_read() const { return function == 3 || function == 4; }
  bool is_write() const { return function == 6 || function == 16; }
};

// `adu` is the whole frame as received (TCP: MBAP header first; RTU: with CRC); header_length is
// libmodbus' (7 for TCP, 1 for RTU). nullopt when the frame is too short to hold a function code.
std::optional<Request> parse_request(std::span<const std::uint8_t> adu, int header_length);

// Modbus RTU CRC-16 (polynomial 0xA001, init 0xFFFF); on the wire low byte first.
std::uint16_t crc16(std::span<const std::uint8_t> bytes);
bool rtu_crc_ok(std::span<const std::uint8_t> frame);

// Length of the RTU request frame that starts `buf`, including the CRC: nullopt while more bytes
// are needed to tell; 0 for a function code whose length cannot be known (framed by silence).
std::optional<std::size_t> rtu_request_length(std::span<const std::uint8_t> buf);

inline constexpr std::size_t kRtuMaxAdu = 256;

}  // namespace gridlet::devsim
