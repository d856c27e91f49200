#include "tests/sim/responder.hpp"

#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace gridlet::devsim {
namespace {

void write_all(int fd, const std::vector<std::uint8_t>& bytes, bool socket) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = socket ? ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL)
                             : ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) return;  // the peer went away; nothing to do for a reply nobody reads
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void LibmodbusResponder::reply(std::span<const std::uint8_t> adu, modbus_mapping_t* mapping) {
  modbus_set_socket(ctx_, fd_);
  modbus_reply(ctx_, adu.data(), static_cast<int>(adu.size()), mapping);
}

void LibmodbusResponder::exception(std::span<const std::uint8_t> adu, std::uint8_t code) {
  modbus_set_socket(ctx_, fd_);
  modbus_reply_exception(ctx_, adu.data(), code);
}

void LibmodbusResponder::malformed(std::span<const std::uint8_t> adu, const Request& r) {
  // The PDU: for reads, a byte count for one register more than asked (consistent framing, wrong
  // quantity); for anything else, the echo of a write under the wrong function code.
  std::vector<std::uint8_t> pdu;
  if (r.is_read()) {
    const std::size_t n = std::min<std::size_t>(r.count, 124) + 1;
    pdu.push_back(r.function);
    pdu.push_back(static_cast<std::uint8_t>(2 * n));
    pdu.insert(pdu.end(), 2 * n, 0x00);
  } else {
    pdu = {static_cast<std::uint8_t>(r.function == 6 ? 16 : 6), static_cast<std::uint8_t>(r.address >> 8),
           static_cast<std::uint8_t>(r.address & 0xFF), 0x00, 0x01};
  }
  std::vector<std::uint8_t> frame;
  if (link_ == Link::kTcp) {
    if (adu.size() < 7) return;
    const auto length = pdu.size() + 1;
    frame = {adu[0], adu[1], 0, 0, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length & 0xFF),
             adu[6]};
    frame.insert(frame.end(), pdu.begin(), pdu.end());
    write_all(fd_, frame, true);
  } else {
    // Over RTU the reply is well shaped (the real function, right length) but its CRC is wrong,
    // as after noise on the line.
    if (r.is_read()) {
      const std::size_t n = std::min<std::size_t>(r.count, 125);
      pdu = {r.function, static_cast<std::uint8_t>(2 * n)};
      pdu.insert(pdu.end(), 2 * n, 0x00);
    } else if (adu.size() >= 6) {
      pdu.assign(adu.begin() + 1, adu.begin() + 6);
    }
    frame.push_back(adu[0]);
    frame.insert(frame.end(), pdu.begin(), pdu.end());
    const auto crc = static_cast<std::uint16_t>(crc16(frame) ^ 0x5A5A);
    frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
    frame.push_back(static_cast<std::uint8_t>(crc >> 8));
    write_all(fd_, frame, false);
    ::tcdrain(fd_);
  }
}

}  // namespace gridlet::devsim
