// A Modbus bus: one TCP endpoint or one serial line, shared by every unit id behind it.
//
// libmodbus is blocking, so each bus owns one worker thread and one bounded queue; nothing here
// ever runs on the gateway's event loop. Writes jump ahead of reads. A unit that stops answering
// backs off exponentially (2 s .. 300 s) and is marked offline: while it backs off its requests
// fail at once without touching the line, so it never stalls the other units on the bus. The
// response timeout adapts to the measured latency (smoothed RTT + 4 x deviation, as TCP's RTO)
// within a floor and a ceiling.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::adapters::modbus {

enum class Table : std::uint8_t { kHolding, kInput, kCoil, kDiscrete };
std::string_view to_string(Table t);

struct BusSettings {
  std::string id;
  bool rtu = false;
  // TCP
  std::string host;
  std::uint16_t port = 502;
  // RTU
  std::string device;
  int baud = 9600;
  char parity = 'N';
  int data_bits = 8;
  int stop_bits = 1;
  std::chrono::milliseconds frame_gap{25};  // silence between frames on the line
  // Response timeout: starts at `timeout`, adapts to each unit's measured latency within
  // [timeout_floor, timeout_ceiling]; a timeout doubles it (up to the ceiling).
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds timeout_floor{100};
  std::chrono::milliseconds timeout_ceiling{5000};
  // Backoff of a unit that stopped answering.
  std::chrono::milliseconds backoff_initial{2000};
  std::chrono::milliseconds backoff_max{300000};
  std::size_t queue_limit = 1024;  // requests waiting; beyond it submit() refuses
};

// Why a request failed. Exceptions carry the Modbus exception code.
enum class Outcome : std::uint8_t {
  kOk,
  kTimeout,      // no (complete) answer within the response timeout
  kException,    // the device answered with a Modbus exception (see exception_code)
  kMalformed,    // bad CRC, bad length, wrong transaction id, wrong unit: the reply is discarded
  kIoError,      // connection refused/reset, serial port error
  kOffline,      // not sent: the unit is backing off after failures
  kRefused,      // not sent: queue full or bus stopped
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

using Callback = std::function<void(const Response&)>;

struct UnitHealth {
  bool online = false;  // answered the last request (an exception counts as an answer)
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::int64_t last_ok_ms = 0;
  std::int64_t backoff_until_ms = 0;  // 0 = not backing off
};

struct BusHealth {
  std::string id;
  bool connected = false;
  std::uint64_t requests = 0;
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> errors;  // by Outcome name
  std::uint64_t queue_depth = 0;
  double latency_avg_ms = 0;  // smoothed
  double latency_max_ms = 0;
  std::chrono::milliseconds timeout{0};  // current adaptive timeout
  std::map<std::uint8_t, UnitHealth> units;
};

class Bus {
 public:
  // start_worker = false makes a bus without a thread, driven only by execute_now() from one
  // thread (command-line tools).
  explicit Bus(BusSettings settings, bool start_worker = true);
  ~Bus();  // stops the worker; pending callbacks get kRefused
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Queues a request; `done` is called on the bus thread. Writes go ahead of reads.
  // Returns false (and calls nothing) when the queue is full or the bus is stopped.
  bool submit(Request request, Callback done);

  // Runs `fn` on the bus thread between requests, every `period` (the poll loop of devices
  // lives there). The first run is immediate.
  using TaskId = std::uint64_t;
  TaskId every(std::chrono::milliseconds period, std::function<void()> fn);
  // Removes a task; when the task is running on the bus thread right now, waits until it is done
  // (unless called from the bus thread itself). After it returns, fn is never called again.
  void cancel(TaskId id);
  // Runs `fn` once on the bus thread, as soon as the request in progress (if any) is done.
  // cancel(id) before it ran drops it; after it ran, cancel is a no-op. Returns 0 (and drops fn)
  // when the bus is stopping.
  TaskId post(std::function<void()> fn);

  // Executes a request synchronously. Only on the bus thread (inside every()/post() work or a
  // callback): it is how multi-step exchanges such as SunSpec discovery run without interleaving.
  Response execute_now(const Request& request);


  BusHealth health() const;
  const BusSettings& settings() const;

  // Asks the worker to stop after the request or task in progress; stop() also waits for it.
  void request_stop();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gridlet::adapters::modbus
