#include "adapters/modbus/transport.hpp"

#include <modbus/modbus.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "adapters/modbus/bus.hpp"

namespace gridlet::adapters::modbus {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Maps libmodbus's errno after a failed call to our outcome.
Outcome classify(int err, int* exception_code) {
  if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
    *exception_code = err - MODBUS_ENOBASE;
    return Outcome::kException;
  }
  switch (err) {
    case ETIMEDOUT:
      return Outcome::kTimeout;
    case EMBBADCRC:
    case EMBBADDATA:
    case EMBBADEXC:
    case EMBUNKEXC:
    case EMBMDATA:
    case EMBBADSLAVE:
      return Outcome::kMalformed;
    default:
      return Outcome::kIoError;
  }
}

class LibmodbusTransport final : public Transport {
 public:
  explicit LibmodbusTransport(const BusSettings& s) : settings_(s) {}
  ~LibmodbusTransport() override {
    close();
    if (ctx_ != nullptr) modbus_free(ctx_);
  }

  bool connect() override {
    {
      std::lock_guard lock(fd_mu_);
      if (fd_ >= 0) return true;
    }
    // Without the lock: a connect may take a name lookup and a SYN timeout, and interrupt()
    // must never wait for it. Only this (the bus) thread opens and closes the connection.
    if (ctx_ == nullptr) {
      ctx_ = settings_.rtu ? modbus_new_rtu(settings_.device.c_str(), settings_.baud, settings_.parity,
                                            settings_.data_bits, settings_.stop_bits)
                           : modbus_new_tcp_pi(settings_.host.c_str(), std::to_string(settings_.port).c_str());
      if (ctx_ == nullptr) {
        error_ = std::string("cannot set up the connection: ") + std::strerror(errno);
        return false;
      }
    }
    if (modbus_connect(ctx_) != 0) {
      error_ = modbus_strerror(errno);
      return false;
    }
    std::lock_guard lock(fd_mu_);
    fd_ = modbus_get_socket(ctx_);
    error_.clear();
    return true;
  }

  void close() override {
    std::lock_guard lock(fd_mu_);
    close_locked();
  }

  bool connected() const override {
    std::lock_guard lock(fd_mu_);
    return fd_ >= 0;
  }

  Response exchange(const Request& r, milliseconds timeout) override {
    Response resp;
    {
      std::lock_guard lock(fd_mu_);
      if (interrupted_) {  // interrupted before it started: not sent
        resp.outcome = Outcome::kRefused;
        return resp;
      }
      if (fd_ < 0) {
        resp.outcome = Outcome::kIoError;
        return resp;
      }
      in_flight_ = true;
    }
    modbus_set_slave(ctx_, r.unit);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(us / 1000000),
                                static_cast<std::uint32_t>(us % 1000000));
    int rc = -1;
    if (r.op == Request::Op::kRead) {
      resp.registers.assign(r.count, 0);
      switch (r.table) {
        case Table::kHolding:
          rc = modbus_read_registers(ctx_, r.address, r.count, resp.registers.data());
          break;
        case Table::kInput:
          rc = modbus_read_input_registers(ctx_, r.address, r.count, resp.registers.data());
          break;
        case Table::kCoil:
        case Table::kDiscrete: {
          bits_.assign(r.count, 0);
          rc = r.table == Table::kCoil ? modbus_read_bits(ctx_, r.address, r.count, bits_.data())
                                       : modbus_read_input_bits(ctx_, r.address, r.count, bits_.data());
          for (std::size_t i = 0; i < bits_.size(); ++i) resp.registers[i] = bits_[i] ? 1 : 0;
          break;
        }
      }
      if (rc >= 0 && rc != r.count) {
        rc = -1;
        errno = EMBBADDATA;
      }
    } else if (r.op == Request::Op::kWriteRegisters) {
      // Function 16 even for one register: SunSpec devices must support it, and it is atomic for
      // multi-register values.
      rc = modbus_write_registers(ctx_, r.address, static_cast<int>(r.values.size()), r.values.data());
    } else {
      rc = modbus_write_bit(ctx_, r.address, !r.values.empty() && r.values[0] != 0);
    }
    const int err = errno;
    bool interrupted = false;
    {
      std::lock_guard lock(fd_mu_);
      in_flight_ = false;
      interrupted = interrupted_;
    }
    if (interrupted) close();  // shut down under the exchange, even if its answer made it
    if (rc >= 0) return resp;
    resp.registers.clear();
    resp.outcome = interrupted ? Outcome::kRefused : classify(err, &resp.exception_code);
    if (resp.outcome == Outcome::kIoError || interrupted) {
      error_ = interrupted ? "interrupted" : modbus_strerror(err);
      close();
    }
    return resp;
  }

  void resync(milliseconds quiet, milliseconds limit) override {
    if (!settings_.rtu) {
      close();  // the late reply goes to a socket we no longer read
      return;
    }
    // A serial line has no connection to drop: read and discard until it has been quiet.
    int fd = -1;
    {
      std::lock_guard lock(fd_mu_);
      fd = fd_;
    }
    if (fd < 0) return;
    const auto until = SteadyClock::now() + limit;
    std::array<std::uint8_t, 256> sink{};
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(until - SteadyClock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::min(left, quiet).count()));
      if (n <= 0) break;  // quiet for `quiet` (or an error): the line is clear
      if (::read(fd, sink.data(), sink.size()) <= 0) break;
    }
    modbus_flush(ctx_);
  }

  void interrupt() override {
    std::lock_guard lock(fd_mu_);
    interrupted_ = true;  // also ends the next exchange before it starts, until resume()
    // TCP: the blocked select() sees end of stream at once. A serial line cannot be woken from
    // another thread without signals; its exchange ends at its (bounded) response timeout.
    if (in_flight_ && fd_ >= 0 && !settings_.rtu) ::shutdown(fd_, SHUT_RDWR);
  }

  void resume() override {
    std::lock_guard lock(fd_mu_);
    interrupted_ = false;
  }

  std::string last_error() const override { return error_; }

 private:
  void close_locked() {
    if (ctx_ != nullptr && fd_ >= 0) modbus_close(ctx_);
    fd_ = -1;
  }

  BusSettings settings_;
  modbus_t* ctx_ = nullptr;  // used by the bus thread only
  std::vector<std::uint8_t> bits_;
  std::string error_;  // bus thread only
  // fd_ and the flags are read by interrupt() from other threads: the socket is never shut down
  // after it was closed (its number could belong to another file by then).
  mutable std::mutex fd_mu_;
  int fd_ = -1;
  bool in_flight_ = false;
  bool interrupted_ = false;
};

}  // namespace

std::string_view to_string(Table t) {
  switch (t) {
    case Table::kHolding: return "holding";
    case Table::kInput: return "input";
    case Table::kCoil: return "coil";
    case Table::kDiscrete: return "discrete";
  }
  return "unknown";
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kException: return "exception";
    case Outcome::kMalformed: return "malformed";
    case Outcome::kIoError: return "io_error";
    case Outcome::kOffline: return "offline";
    case Outcome::kRefused: return "refused";
  }
  return "unknown";
}

bool answered(Outcome outcome, int exception_code) {
  return outcome == Outcome::kOk ||
         (outcome == Outcome::kException && exception_code != 10 && exception_code != 11);
}

Contact contact(Outcome outcome, int exception_code) {
  if (answered(outcome, exception_code)) return Contact::kAnswered;
  return outcome == Outcome::kMalformed || outcome == Outcome::kRefused ? Contact::kUnknown : Contact::kSilent;
}

std::unique_ptr<Transport> make_libmodbus_transport(const BusSettings& settings) {
  return std::make_unique<LibmodbusTransport>(settings);
}

}  // namespace gridlet::adapters::modbus
