#include "adapters/modbus/bus.hpp"

#include <modbus/modbus.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

namespace gridlet::adapters::modbus {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// Consecutive failures after which a unit is offline and backs off.
constexpr int kFailuresBeforeBackoff = 3;
// Reconnect attempts of a broken TCP connection or serial port back off up to this.
constexpr milliseconds kReconnectBackoffMax{30000};

std::int64_t unix_ms() {
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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

struct UnitState {
  UnitHealth health;
  int consecutive_failures = 0;
  milliseconds backoff{0};
  Clock::time_point backoff_until{};
  // Adaptive response timeout (RFC 6298 style), per unit: a slow unit behind a TCP gateway does
  // not slow the timeouts of its neighbours.
  double srtt_ms = -1;
  double rttvar_ms = 0;
  milliseconds timeout{0};
};

struct PeriodicTask {
  std::uint64_t id;
  milliseconds period;
  Clock::time_point due;
  std::function<void()> fn;
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

struct Bus::Impl {
  explicit Impl(BusSettings s) : settings(std::move(s)) {}

  BusSettings settings;
  modbus_t* ctx = nullptr;
  std::atomic<bool> connected{false};  // written by the worker, read by health()
  milliseconds reconnect_backoff{0};
  Clock::time_point reconnect_at{};
  Clock::time_point last_frame_end{};

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::deque<std::pair<Request, Callback>> writes;
  std::deque<std::pair<Request, Callback>> reads;
  std::vector<PeriodicTask> tasks;
  std::uint64_t tasks_generation = 0;
  std::uint64_t next_task_id = 1;
  std::set<std::uint64_t> running_tasks;  // ids whose fn runs right now (on the worker)
  std::thread::id worker_id;  // bumped when tasks are added: the worker re-plans its wait
  std::map<std::uint8_t, UnitState> units;  // guarded by mu (read by health())
  BusHealth stats;                          // guarded by mu
  std::thread worker;

  void run();
  Response execute(const Request& r);
  bool ensure_connected();
  void disconnect();
  void record(const Request& r, const Response& resp, UnitState& unit);
};

bool Bus::Impl::ensure_connected() {
  if (connected) return true;
  const auto now = Clock::now();
  if (now < reconnect_at) return false;
  if (ctx == nullptr) {
    ctx = settings.rtu ? modbus_new_rtu(settings.device.c_str(), settings.baud, settings.parity,
                                        settings.data_bits, settings.stop_bits)
                       : modbus_new_tcp_pi(settings.host.c_str(),
                                           std::to_string(settings.port).c_str());
    if (ctx == nullptr) return false;
  }
  if (modbus_connect(ctx) == 0) {
    connected = true;
    reconnect_backoff = milliseconds(0);
    return true;
  }
  reconnect_backoff = std::min(kReconnectBackoffMax,
                               reconnect_backoff.count() == 0 ? milliseconds(500) : reconnect_backoff * 2);
  reconnect_at = now + reconnect_backoff;
  return false;
}

void Bus::Impl::disconnect() {
  if (ctx != nullptr && connected) modbus_close(ctx);
  connected = false;
}

Response Bus::Impl::execute(const Request& r) {
  Response resp;
  UnitState* unit = nullptr;
  {
    std::lock_guard lock(mu);
    unit = &units[r.unit];
    if (unit->timeout.count() == 0) unit->timeout = settings.timeout;
    if (Clock::now() < unit->backoff_until) {
      resp.outcome = Outcome::kOffline;
      resp.completed_ms = unix_ms();
      ++stats.errors["offline"];  // not sent: the unit backs off
      return resp;
    }
  }
  if (!ensure_connected()) {
    // The line is down, not the unit: counted for the bus, no unit backs off for it.
    resp.outcome = Outcome::kIoError;
    resp.completed_ms = unix_ms();
    std::lock_guard lock(mu);
    ++stats.requests;
    ++stats.errors["io_error"];
    return resp;
  }
  // RTU: keep the line silent for the configured gap between frames (slow devices need more than
  // the 3.5 character times of the standard).
  if (settings.rtu) {
    const auto quiet_until = last_frame_end + settings.frame_gap;
    if (Clock::now() < quiet_until) std::this_thread::sleep_until(quiet_until);
  }
  modbus_set_slave(ctx, r.unit);
  const auto to = duration_cast<microseconds>(unit->timeout);
  modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(to.count() / 1000000),
                              static_cast<std::uint32_t>(to.count() % 1000000));
  const auto t0 = Clock::now();
  int rc = -1;
  if (r.op == Request::Op::kRead) {
    resp.registers.assign(r.count, 0);
    switch (r.table) {
      case Table::kHolding:
        rc = modbus_read_registers(ctx, r.address, r.count, resp.registers.data());
        break;
      case Table::kInput:
        rc = modbus_read_input_registers(ctx, r.address, r.count, resp.registers.data());
        break;
      case Table::kCoil:
      case Table::kDiscrete: {
        std::vector<std::uint8_t> bits(r.count, 0);
        rc = r.table == Table::kCoil ? modbus_read_bits(ctx, r.address, r.count, bits.data())
                                     : modbus_read_input_bits(ctx, r.address, r.count, bits.data());
        for (std::size_t i = 0; i < bits.size(); ++i) resp.registers[i] = bits[i] ? 1 : 0;
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
    rc = modbus_write_registers(ctx, r.address, static_cast<int>(r.values.size()), r.values.data());
  } else {
    rc = modbus_write_bit(ctx, r.address, !r.values.empty() && r.values[0] != 0);
  }
  const int err = errno;
  const auto t1 = Clock::now();
  last_frame_end = t1;
  resp.latency = duration_cast<microseconds>(t1 - t0);
  resp.completed_ms = unix_ms();
  if (rc < 0) {
    resp.registers.clear();
    resp.outcome = classify(err, &resp.exception_code);
    if (resp.outcome == Outcome::kIoError) {
      disconnect();
    } else if (resp.outcome == Outcome::kTimeout || resp.outcome == Outcome::kMalformed) {
      // A late or garbled reply must not be taken as the answer to the next request.
      modbus_flush(ctx);
    }
  }
  std::lock_guard lock(mu);
  record(r, resp, *unit);
  return resp;
}

// Updates statistics, the unit's health, backoff and adaptive timeout. Caller holds mu.
void Bus::Impl::record(const Request& r, const Response& resp, UnitState& unit) {
  (void)r;
  ++stats.requests;
  ++unit.health.requests;
  // Exceptions 10/11 come from a gateway in front of the unit: the unit itself did not answer.
  const bool gateway_exception = resp.outcome == Outcome::kException &&
                                 (resp.exception_code == 10 || resp.exception_code == 11);
  const bool answered =
      resp.outcome == Outcome::kOk || (resp.outcome == Outcome::kException && !gateway_exception);
  if (resp.outcome == Outcome::kOk) {
    ++stats.ok;
  } else {
    ++stats.errors[std::string(to_string(resp.outcome))];
  }
  if (answered) {
    const double l = static_cast<double>(resp.latency.count()) / 1000.0;
    if (unit.srtt_ms < 0) {
      unit.srtt_ms = l;
      unit.rttvar_ms = l / 2;
    } else {
      unit.rttvar_ms = 0.75 * unit.rttvar_ms + 0.25 * std::abs(unit.srtt_ms - l);
      unit.srtt_ms = 0.875 * unit.srtt_ms + 0.125 * l;
    }
    const auto rto = milliseconds(static_cast<std::int64_t>(std::ceil(unit.srtt_ms + 4 * unit.rttvar_ms)));
    unit.timeout = std::clamp(rto, settings.timeout_floor, settings.timeout_ceiling);
    stats.latency_avg_ms = stats.latency_avg_ms == 0 ? l : 0.875 * stats.latency_avg_ms + 0.125 * l;
    stats.latency_max_ms = std::max(stats.latency_max_ms, l);
    unit.health.online = true;
    unit.health.last_ok_ms = resp.completed_ms;
    unit.health.backoff_until_ms = 0;
    unit.consecutive_failures = 0;
    unit.backoff = milliseconds(0);
    return;
  }
  ++unit.health.failures;
  if (resp.outcome == Outcome::kTimeout) {
    unit.timeout = std::min(settings.timeout_ceiling, unit.timeout * 2);
  }
  if (++unit.consecutive_failures >= kFailuresBeforeBackoff) {
    unit.health.online = false;
    unit.backoff = unit.backoff.count() == 0 ? settings.backoff_initial
                                             : std::min(settings.backoff_max, unit.backoff * 2);
    unit.backoff_until = Clock::now() + unit.backoff;
    unit.health.backoff_until_ms = resp.completed_ms + unit.backoff.count();
  }
}

void Bus::Impl::run() {
  std::unique_lock lock(mu);
  worker_id = std::this_thread::get_id();
  for (;;) {
    auto next_due = Clock::time_point::max();
    for (const auto& t : tasks) next_due = std::min(next_due, t.due);
    const std::uint64_t generation = tasks_generation;
    cv.wait_until(lock, next_due, [&] {
      return stopping || !writes.empty() || !reads.empty() || Clock::now() >= next_due ||
             tasks_generation != generation;
    });
    if (stopping) break;
    // Periodic work (device poll loops) runs between requests, without the lock.
    const auto now = Clock::now();
    struct Due {
      std::uint64_t id;
      bool periodic;
      std::function<void()> fn;
    };
    std::vector<Due> due;
    for (auto& t : tasks) {
      if (t.due <= now) {
        due.push_back({t.id, t.period.count() > 0, t.fn});
        if (t.period.count() > 0) t.due += t.period * ((now - t.due) / t.period + 1);  // on grid
      }
    }
    if (!due.empty()) {
      for (auto& d : due) {
        if (stopping) break;
        // A task cancelled meanwhile (by an earlier task, or another thread) is skipped.
        if (std::none_of(tasks.begin(), tasks.end(), [&](const PeriodicTask& t) { return t.id == d.id; })) {
          continue;
        }
        if (!d.periodic) std::erase_if(tasks, [&](const PeriodicTask& t) { return t.id == d.id; });
        running_tasks.insert(d.id);
        lock.unlock();
        d.fn();
        lock.lock();
        running_tasks.erase(d.id);
        cv.notify_all();
      }
      if (stopping) break;
      // Fall through: one queued request (writes first) between rounds of tasks, so that polls
      // that take longer than their period never starve setpoint writes.
    }
    auto& q = !writes.empty() ? writes : reads;
    if (q.empty()) continue;
    auto [request, done] = std::move(q.front());
    q.pop_front();
    stats.queue_depth = writes.size() + reads.size();
    lock.unlock();
    const Response resp = execute(request);
    if (done) done(resp);
    lock.lock();
  }
  // Stopping: whatever is still queued is refused, so every callback is called once.
  std::deque<std::pair<Request, Callback>> left;
  left.swap(writes);
  for (auto& item : reads) left.push_back(std::move(item));
  reads.clear();
  lock.unlock();
  Response refused;
  refused.outcome = Outcome::kRefused;
  for (auto& [request, done] : left) {
    if (done) done(refused);
  }
  disconnect();
}

Bus::Bus(BusSettings settings, bool start_worker)
    : impl_(std::make_unique<Impl>(std::move(settings))) {
  impl_->stats.id = impl_->settings.id;
  if (start_worker) impl_->worker = std::thread([impl = impl_.get()] { impl->run(); });
}

Response Bus::execute_now(const Request& request) { return impl_->execute(request); }

Bus::TaskId Bus::post(std::function<void()> fn) {
  TaskId id = 0;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return 0;  // it would never run
    // A one-shot task: due now, removed after it ran (period 0 marks it).
    id = impl_->next_task_id++;
    impl_->tasks.push_back({id, milliseconds(0), Clock::now(), std::move(fn)});
    ++impl_->tasks_generation;
  }
  impl_->cv.notify_one();
  return id;
}

Bus::~Bus() {
  stop();
  if (impl_->ctx != nullptr) modbus_free(impl_->ctx);
}

void Bus::request_stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
}

void Bus::stop() {
  request_stop();
  if (impl_->worker.joinable()) impl_->worker.join();
}

bool Bus::submit(Request request, Callback done) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping || impl_->writes.size() + impl_->reads.size() >= impl_->settings.queue_limit) {
      ++impl_->stats.errors["refused"];
      return false;
    }
    auto& q = request.op == Request::Op::kRead ? impl_->reads : impl_->writes;
    q.emplace_back(std::move(request), std::move(done));
    impl_->stats.queue_depth = impl_->writes.size() + impl_->reads.size();
  }
  impl_->cv.notify_one();
  return true;
}

Bus::TaskId Bus::every(std::chrono::milliseconds period, std::function<void()> fn) {
  TaskId id = 0;
  {
    std::lock_guard lock(impl_->mu);
    id = impl_->next_task_id++;
    impl_->tasks.push_back({id, std::max(period, milliseconds(1)), Clock::now(), std::move(fn)});
    ++impl_->tasks_generation;
  }
  impl_->cv.notify_all();
  return id;
}

void Bus::cancel(TaskId id) {
  std::unique_lock lock(impl_->mu);
  std::erase_if(impl_->tasks, [&](const PeriodicTask& t) { return t.id == id; });
  if (std::this_thread::get_id() == impl_->worker_id) return;
  impl_->cv.wait(lock, [&] { return !impl_->running_tasks.contains(id); });
}

BusHealth Bus::health() const {
  std::lock_guard lock(impl_->mu);
  BusHealth h = impl_->stats;
  h.connected = impl_->connected;
  h.timeout = impl_->settings.timeout;
  for (const auto& [unit, state] : impl_->units) {
    h.units[unit] = state.health;
    h.timeout = std::max(h.timeout, state.timeout);
  }
  return h;
}

const BusSettings& Bus::settings() const { return impl_->settings; }

}  // namespace gridlet::adapters::modbus
