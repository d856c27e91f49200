#include "tests/sim/request.hpp"

namespace gridlet::devsim {
namespace {

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

}  // namespace

std::optional<Request> parse_request(std::span<const std::uint8_t> adu, int header_length) {
  const auto h = static_cast<std::size_t>(header_length);
  if (header_length < 1 || adu.size() < h + 1) return std::nullopt;
  Request r;
  r.unit = adu[h - 1];
  r.function = adu[h];
  const auto pdu = adu.subspan(h);  // function code first; for RTU the CRC is still at the end
  switch (r.function) {
    case 3:
    case 4:
    case 6:
      r.supported = true;
      if (pdu.size() < 5) return r;
      r.address = be16(pdu, 1);
      if (r.function == 6) {
        r.count = 1;
        r.values.push_back(be16(pdu, 3));
      } else {
        r.count = be16(pdu, 3);
      }
      r.well_formed = true;
      return r;
    case 16: {
      r.supported = true;
      if (pdu.size() < 6) return r;
      r.address = be16(pdu, 1);
      r.count = be16(pdu, 3);
      const std::size_t bytes = pdu[5];
      if (bytes != 2u * r.count || pdu.size() < 6 + bytes) return r;
      for (std::size_t i = 0; i < r.count; ++i) r.values.push_back(be16(pdu, 6 + 2 * i));
      r.well_formed = true;
      return r;
    }
    default:
      return r;
  }
}

std::uint16_t crc16(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0xFFFF;
  for (const auto b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001) : static_cast<std::uint16_t>(crc >> 1);
  }
  return crc;
}

bool rtu_crc_ok(std::span<const std::uint8_t> frame) {
  if (frame.size() < 4) return false;
  const auto crc = crc16(frame.first(frame.size() - 2));
  return frame[frame.size() - 2] == (crc & 0xFF) && frame[frame.size() - 1] == (crc >> 8);
}

std::optional<std::size_t> rtu_request_length(std::span<const std::uint8_t> buf) {
  if (buf.size() < 2) return std::nullopt;
  switch (buf[1]) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 8:
      return 8;  // unit, function, 4 bytes, CRC
    case 7: case 11: case 12: case 17:
      return 4;
    case 15: case 16:
      if (buf.size() < 7) return std::nullopt;
      return 9 + std::size_t{buf[6]};
    case 23:
      if (buf.size() < 11) return std::nullopt;
      return 13 + std::size_t{buf[10]};
    default:
      return 0;
  }
}

}  // namespace gridlet::devsim
