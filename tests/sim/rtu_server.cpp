// Modbus RTU on a serial line shared by all units. libmodbus' own receive drops every frame not
// addressed to the context's single slave id, so the line is framed here (length from the
// function code, CRC checked, silence ends garbage) and only the reply goes through libmodbus
// (modbus_reply adds the CRC). Like a real multi-drop line: a frame with a bad CRC, or for a unit
// nobody has, gets no answer at all.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "tests/sim/responder.hpp"
#include "tests/sim/servers.hpp"

namespace gridlet::devsim {
namespace {

// End of frame by silence: 3.5 characters (11 bits each), but never below what a pty's
// scheduling jitter needs.
std::chrono::milliseconds silence_gap(int baud) {
  const auto ms = static_cast<long>(3.5 * 11 * 1000 / std::max(baud, 1)) + 1;
  return std::chrono::milliseconds(std::max(20L, ms));
}

}  // namespace

RtuServer::~RtuServer() {
  if (ctx_ != nullptr) {
    modbus_close(ctx_);
    modbus_free(ctx_);
  }
}

bool RtuServer::open(const SerialSettings& s) {
  ctx_ = modbus_new_rtu(s.path.c_str(), s.baud, s.parity, 8, s.stop_bits);
  if (ctx_ == nullptr) return false;
  if (modbus_connect(ctx_) != 0) return false;
  fd_ = modbus_get_socket(ctx_);
  baud_ = s.baud;
  return fd_ >= 0;
}

void RtuServer::run(Simulator& sim, int stop_fd) {
  std::vector<std::uint8_t> buf;
  const auto gap = silence_gap(baud_);
  LibmodbusResponder out(ctx_, fd_, Link::kRtu);

  auto serve_frame = [&](std::span<const std::uint8_t> frame) -> bool {
    const auto delay = sim.response_delay(frame, 1);
    if (delay.count() > 0) {
      // The line is serialized anyway: the device just answers late. Still leave on a stop.
      pollfd p{stop_fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(delay.count())) > 0) return false;
    }
    sim.answer(frame, 1, Link::kRtu, out, Clock::now());
    return true;
  };

  for (;;) {
    pollfd fds[2] = {{stop_fd, POLLIN, 0}, {fd_, POLLIN, 0}};
    const int timeout_ms = buf.empty() ? 500 : static_cast<int>(gap.count());
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    if (n > 0 && (fds[0].revents & POLLIN)) return;
    if (n == 0) {
      // Silence: whatever is buffered is a whole frame. Answer it if its CRC is right (a function
      // code we cannot size), else drop it as noise.
      if (!buf.empty() && rtu_crc_ok(buf)) {
        if (!serve_frame(buf)) return;
      }
      buf.clear();
      continue;
    }
    if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      // The other end of the pty is closed; wait for someone to open it again.
      if (!(fds[1].revents & POLLIN)) {
        pollfd p{stop_fd, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) return;
        continue;
      }
    }
    std::uint8_t chunk[kRtuMaxAdu];
    const ssize_t got = ::read(fd_, chunk, sizeof chunk);
    if (got <= 0) continue;
    buf.insert(buf.end(), chunk, chunk + got);
    while (!buf.empty()) {
      const auto need = rtu_request_length(buf);
      if (!need || *need == 0 || buf.size() < *need) break;  // more bytes, or framed by silence
      const std::vector<std::uint8_t> frame(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*need));
      if (!rtu_crc_ok(frame)) {
        buf.clear();  // lost sync: drop until the next silence
        break;
      }
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*need));
      if (!serve_frame(frame)) return;
    }
    if (buf.size() > kRtuMaxAdu) buf.clear();
  }
}

}  // namespace gridlet::devsim
