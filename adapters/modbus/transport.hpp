// One Modbus connection (a TCP endpoint or a serial line) and the messages that cross it.
//
// A Transport executes one request at a time and blocks until the answer, a timeout or an error:
// it is used only from its bus's worker thread, except interrupt(), which any thread may call to
// end a blocked exchange at once (shutdown). The libmodbus transport does all framing, CRCs and
// transaction ids; we never frame Modbus ourselves. Tests use an in-memory fake
// (tests/unit/fake_transport.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::adapters::modbus {

enum class Table : std::uint8_t { kHolding, kInput, kCoil, kDiscrete };
std::string_view to_string(Table t);

// Why a request failed. Exceptions carry the Modbus exception code.
enum class Outcome : std::uint8_t {
  kOk,
  kTimeout,      // no (complete) answer within the response timeout
  kException,    // the device answered with a Modbus exception (see exception_code)
  kMalformed,    // bad CRC, bad length, wrong transaction id, wrong unit: the reply is discarded
  kIoError,      // connection refused/reset, serial port error
  kOffline,      // not sent: the unit is backing off after failures
  kRefused,      // not sent: queue full, bus stopping, or interrupted by shutdown
};
std::string_view to_string(Outcome o);

struct Request {
  enum class Op : std::uint8_t { kRead, kWriteRegisters, kWriteCoil };
  Op op = Op::kRead;
  std::uint8_t unit = 1;
  Table table = Table::kHolding;
  std::uint16_t address = 0;  // 0-based protocol address
  std::uint16_t count = 0;    // registers or bits to read
  std::vector<std::uint16_t> values;  // for writes (coil: values[0] != 0)
};

struct Response {
  Outcome outcome = Outcome::kOk;
  int exception_code = 0;
  std::vector<std::uint16_t> registers;  // reads: registers, or bits as 0/1
  std::chrono::microseconds latency{0};
  std::int64_t completed_ms = 0;  // Unix ms
};

// The one rule for "the unit answered": data, or a Modbus exception of its own. Exceptions 10 and
// 11 come from a gateway in front of the unit (path unavailable, target failed to respond): the
// unit itself was silent. Timeouts, I/O errors and garbled or mismatched replies are silence too.
bool answered(Outcome outcome, int exception_code);
inline bool answered(const Response& r) { return answered(r.outcome, r.exception_code); }

// What a request says about the unit being there, for re-asserting setpoints after silence: it
// answered (answered() above), it was silent (timeout, I/O error, offline, a gateway's 10/11), or
// it says nothing (a garbled reply on a noisy line, a request not sent because the bus stops).
enum class Contact : std::uint8_t { kAnswered, kSilent, kUnknown };
Contact contact(Outcome outcome, int exception_code);
inline Contact contact(const Response& r) { return contact(r.outcome, r.exception_code); }

class Transport {
 public:
  virtual ~Transport() = default;

  // Opens the connection when it is not open. False when it cannot (last_error() says why).
  virtual bool connect() = 0;
  virtual void close() = 0;
  virtual bool connected() const = 0;

  // Sends one request to its unit and waits at most `timeout` for the answer. Fills outcome,
  // exception_code and registers (latency and completed_ms are the bus's). kIoError closes the
  // connection. After an interrupt() the exchange ends with kRefused.
  virtual Response exchange(const Request& request, std::chrono::milliseconds timeout) = 0;

  // After a timeout or a garbled reply: makes sure that a late reply is not read as the answer to
  // the next request. TCP drops the connection (the next exchange reconnects), so the late reply
  // goes to a closed socket; a serial line is read and discarded until it has been quiet for
  // `quiet`, for at most `limit`.
  virtual void resync(std::chrono::milliseconds quiet, std::chrono::milliseconds limit) = 0;

  // Any thread: ends the exchange on the line now (kRefused), and refuses every later one until
  // resume() (so an interrupt that lands between exchanges is not lost).
  virtual void interrupt() = 0;
  // Lets exchanges run again after interrupt() (the bus, for setpoint releases at shutdown).
  virtual void resume() = 0;

  virtual std::string last_error() const = 0;
};

struct BusSettings;
// libmodbus TCP or RTU, from the bus's settings.
std::unique_ptr<Transport> make_libmodbus_transport(const BusSettings& settings);

}  // namespace gridlet::adapters::modbus
