// Modbus TCP: one listening socket, up to kMaxClients connections, select() over all of them.
// Requests are received with modbus_receive() on the connection's socket; a unit's response
// delay parks the connection (no reads from it) until its reply is due, so other clients are
// served meanwhile and each client still gets its answers in order.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "tests/sim/responder.hpp"
#include "tests/sim/servers.hpp"

namespace gridlet::devsim {
namespace {

constexpr std::size_t kMaxClients = 32;  // select() and a small simulator need no more
constexpr int kBacklog = 16;

struct PendingReply {
  TimePoint due;
  std::vector<std::uint8_t> adu;
};

struct Connection {
  int fd;
  std::optional<PendingReply> pending;
};

}  // namespace

TcpServer::~TcpServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (ctx_ != nullptr) modbus_free(ctx_);
}

bool TcpServer::listen(const std::string& host, int port) {
  ctx_ = modbus_new_tcp(host.c_str(), port);
  if (ctx_ == nullptr) return false;
  // A client that sends half a frame holds the loop at most this long.
  modbus_set_byte_timeout(ctx_, 0, 200000);
  listen_fd_ = modbus_tcp_listen(ctx_, kBacklog);
  if (listen_fd_ < 0) return false;
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  port_ = ntohs(addr.sin_port);
  return true;
}

void TcpServer::run(Simulator& sim, int stop_fd) {
  std::vector<Connection> conns;
  std::vector<std::uint8_t> buf(MODBUS_TCP_MAX_ADU_LENGTH);
  const int header_length = modbus_get_header_length(ctx_);

  auto answer = [&](int fd, std::span<const std::uint8_t> adu) {
    LibmodbusResponder out(ctx_, fd, Link::kTcp);
    sim.answer(adu, header_length, Link::kTcp, out, Clock::now());
  };

  for (;;) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(stop_fd, &readable);
    int max_fd = stop_fd;
    if (conns.size() < kMaxClients) {
      FD_SET(listen_fd_, &readable);
      max_fd = std::max(max_fd, listen_fd_);
    }
    auto wait = std::chrono::milliseconds(500);
    const auto now = Clock::now();
    for (const auto& c : conns) {
      if (c.pending) {
        wait = std::min(wait, std::max(std::chrono::milliseconds(0),
                                       std::chrono::duration_cast<std::chrono::milliseconds>(c.pending->due - now)));
      } else {
        FD_SET(c.fd, &readable);
        max_fd = std::max(max_fd, c.fd);
      }
    }
    timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
    const int n = ::select(max_fd + 1, &readable, nullptr, nullptr, &tv);
    if (n < 0 && errno != EINTR) break;
    if (n > 0 && FD_ISSET(stop_fd, &readable)) break;

    if (n > 0 && conns.size() < kMaxClients && FD_ISSET(listen_fd_, &readable)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns.push_back(Connection{fd, std::nullopt});
      }
    }

    for (auto& c : conns) {
      if (c.pending && Clock::now() >= c.pending->due) {
        answer(c.fd, c.pending->adu);
        c.pending.reset();
        continue;
      }
      if (n <= 0 || c.pending || !FD_ISSET(c.fd, &readable)) continue;
      modbus_set_socket(ctx_, c.fd);
      const int len = modbus_receive(ctx_, buf.data());
      if (len < 0) {
        // Closed by the peer, or a frame libmodbus cannot parse: drop the connection, as a real
        // device's TCP stack would, and keep serving everyone else.
        ::close(c.fd);
        c.fd = -1;
        continue;
      }
      if (len == 0) continue;
      const std::span<const std::uint8_t> adu(buf.data(), static_cast<std::size_t>(len));
      const auto delay = sim.response_delay(adu, header_length);
      if (delay.count() > 0) {
        c.pending = PendingReply{Clock::now() + delay, std::vector<std::uint8_t>(adu.begin(), adu.end())};
      } else {
        answer(c.fd, adu);
      }
    }
    std::erase_if(conns, [](const Connection& c) { return c.fd < 0; });
  }
  for (const auto& c : conns) ::close(c.fd);
}

}  // namespace gridlet::devsim
