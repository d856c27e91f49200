// A Modbus bus: one TCP endpoint or one serial line, shared by every unit id behind it.
//
// libmodbus is blocking, so each bus owns one worker thread and ONE queue; nothing here ever runs
// on the gateway's event loop. Everything that uses the line is an item of that queue with a
// priority: setpoint writes, then keep-alives and heartbeats, then the poll classes (fast, normal,
// slow), then discovery and probes of units that are not online. The worker always runs the most
// urgent item that is due, and a task that makes several requests (a poll, a SunSpec model read)
// lets due writes and keep-alives go between its requests, so a write waits at most for the one
// request on the line.
//
// Units are judged by UnitPolicy (unit_policy.hpp): adaptive timeouts, offline after failures,
// exponential backoff, short probe timeouts for units that are not online (a silent unit costs the
// line at most probe_timeout per attempt). The line is a Transport (transport.hpp): libmodbus, or a
// fake in tests. After a timeout or a garbled reply the line is resynchronised before the next
// request; a garbled reply right after another unit's timeout is that unit's late answer: it is
// charged to the late unit and the innocent request is tried once more.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/modbus/transport.hpp"

namespace gridlet::adapters::modbus {

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
  // The most a request to a unit that is not online (never answered, or backing off) may wait.
  std::chrono::milliseconds probe_timeout{500};
  // Backoff of a unit that stopped answering.
  std::chrono::milliseconds backoff_initial{2000};
  std::chrono::milliseconds backoff_max{300000};
  // A unit that left a request unanswered for d is not asked again for quiet_factor x d (see
  // unit_policy.hpp); 0 only for tests that want every request on the line.
  int quiet_factor = 4;
  std::size_t queue_limit = 1024;  // requests waiting; beyond it submit() refuses
  // Due work that has waited longer than this ranks with the fast polls (no starvation).
  std::chrono::milliseconds starvation_limit{5000};
};

using Callback = std::function<void(const Response&)>;

struct UnitHealth {
  bool online = false;  // answered the last request (an exception counts as an answer)
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::int64_t last_ok_ms = 0;
  std::int64_t backoff_until_ms = 0;  // a unit not online: its polls held back until then (0: not)
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

// Order of the bus queue, most urgent first.
enum class Priority : std::uint8_t {
  kWrite = 0,      // setpoint writes and releases (and the reads that check them)
  kKeepAlive = 1,  // keep-alives, re-assertions, controller heartbeats
  kFast = 2,       // poll classes
  kNormal = 3,
  kSlow = 4,
  kDiscovery = 5,  // discovery, and any task of a unit that is not online (a probe)
};
std::string_view to_string(Priority p);

// A task that is not about one unit.
inline constexpr int kAnyUnit = -1;

class Bus {
 public:
  // start_worker = false makes a bus without a thread, driven only by execute_now() from one
  // thread (command-line tools).
  explicit Bus(BusSettings settings, bool start_worker = true);
  // For tests: the line is `transport` instead of libmodbus.
  Bus(BusSettings settings, std::unique_ptr<Transport> transport, bool start_worker = true);
  ~Bus();  // stops the worker; pending callbacks get kRefused
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Queues one request; `done` is called on the bus thread. Writes are kWrite, reads kFast unless
  // `priority` says otherwise. Returns false (and calls nothing) when the queue is full
  // (settings.queue_limit) or the bus is stopping.
  bool submit(Request request, Callback done, std::optional<Priority> priority = std::nullopt);

  // Runs `fn` on the bus thread every `period`, on a fixed grid (a run that is late by more than a
  // period skips, it never bursts); the first run is immediate. `unit` (or kAnyUnit) names the unit
  // the task polls: while that unit is not online the task runs as a kDiscovery probe.
  using TaskId = std::uint64_t;
  TaskId every(std::chrono::milliseconds period, Priority priority, int unit, std::function<void()> fn);
  // Runs `fn` once on the bus thread, as soon as nothing more urgent is due. Returns 0 (and drops
  // fn) when the bus is stopping.
  TaskId post(Priority priority, std::function<void()> fn);
  // Removes a task; when the task is running on the bus thread right now, waits until it is done
  // (unless called from the bus thread itself). After it returns, fn is never called again.
  void cancel(TaskId id);

  // Executes a request synchronously. Only on the bus thread (inside every()/post() work or a
  // callback): it is how multi-step exchanges such as SunSpec discovery run. Before the request,
  // due writes and keep-alives of other tasks run (they do not wait for the whole task).
  Response execute_now(const Request& request);

  BusHealth health() const;
  const BusSettings& settings() const;

  // Shutdown, first step: only kWrite work runs from now on (setpoint releases), every other
  // request is refused without touching the line, and the request on the line is interrupted (TCP
  // at once; a serial line at its response timeout).
  void drain();
  bool draining() const;
  // Asks the worker to stop after what it is doing; queued work is refused.
  void request_stop();
  // request_stop(), then waits for the worker up to `deadline`. False when the worker is still in
  // an exchange then: it is detached and the bus's state is left to it (the process is ending).
  bool stop(std::chrono::milliseconds deadline = std::chrono::milliseconds::max());

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::thread worker_;
};

}  // namespace gridlet::adapters::modbus
