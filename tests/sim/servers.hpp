// The two transports of devsim, one backend each (as libmodbus has one per transport): Modbus
// TCP on one listening socket with several clients multiplexed by select(), and Modbus RTU on a
// serial device (a pty in tests). Both run until `stop_fd` becomes readable.
#pragma once

#include <modbus/modbus.h>

#include <cstdint>
#include <string>

#include "tests/sim/simulator.hpp"

namespace gridlet::devsim {

class TcpServer {
 public:
  TcpServer() = default;
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Binds and listens; port 0 picks a free port. Returns false (with errno set) on failure.
  bool listen(const std::string& host, int port);
  int port() const { return port_; }
  void run(Simulator& sim, int stop_fd);

 private:
  modbus_t* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
};

struct SerialSettings {
  std::string path;
  int baud = 9600;
  char parity = 'N';
  int stop_bits = 1;
};

class RtuServer {
 public:
  RtuServer() = default;
  ~RtuServer();
  RtuServer(const RtuServer&) = delete;
  RtuServer& operator=(const RtuServer&) = delete;

  bool open(const SerialSettings& settings);
  void run(Simulator& sim, int stop_fd);

 private:
  modbus_t* ctx_ = nullptr;
  int fd_ = -1;
  int baud_ = 9600;
};

}  // namespace gridlet::devsim
