#include "adapters/modbus/bus.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "adapters/clock.hpp"
#include "adapters/modbus/unit_policy.hpp"
#include "adapters/thread_safety.hpp"

namespace gridlet::adapters::modbus {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// Reconnect attempts of a broken TCP connection or serial port back off up to this.
constexpr milliseconds kReconnectBackoffMax{30000};
constexpr milliseconds kReconnectBackoffInitial{500};
// After a timeout or a garbled reply a serial line must be quiet this long before the next frame.
constexpr milliseconds kResyncQuietMin{50};

struct UnitRecord {
  explicit UnitRecord(const UnitPolicySettings& s) : policy(s) {}
  UnitPolicy policy;
  UnitHealth health;
};

// One entry of the bus queue: a periodic task, a one-shot task, or a submitted request.
struct Item {
  std::uint64_t id = 0;
  Priority priority = Priority::kNormal;
  int unit = kAnyUnit;
  milliseconds period{0};  // 0: one-shot
  SteadyClock::time_point due{};
  std::shared_ptr<std::function<void()>> fn;
  std::function<void()> refuse;  // submitted requests: answers kRefused when never run
};

UnitPolicySettings policy_settings(const BusSettings& s) {
  UnitPolicySettings p;
  p.timeout = s.timeout;
  p.timeout_floor = std::min(s.timeout_floor, s.timeout);
  p.timeout_ceiling = std::max(s.timeout_ceiling, p.timeout_floor);
  p.probe_timeout = std::min(s.probe_timeout, s.timeout);
  p.backoff_initial = s.backoff_initial;
  p.backoff_max = s.backoff_max;
  p.quiet_factor = s.quiet_factor;
  return p;
}

}  // namespace

std::string_view to_string(Priority p) {
  switch (p) {
    case Priority::kWrite: return "write";
    case Priority::kKeepAlive: return "keepalive";
    case Priority::kFast: return "fast";
    case Priority::kNormal: return "normal";
    case Priority::kSlow: return "slow";
    case Priority::kDiscovery: return "discovery";
  }
  return "unknown";
}

struct Bus::Impl {
  Impl(BusSettings s, std::unique_ptr<Transport> t)
      : settings(std::move(s)), policy(policy_settings(settings)), transport(std::move(t)) {
    stats.id = settings.id;
  }

  const BusSettings settings;
  const UnitPolicySettings policy;
  const std::unique_ptr<Transport> transport;
  bool has_worker = false;

  // Bus thread only (or the one thread of a bus without a worker).
  milliseconds reconnect_backoff{0};
  SteadyClock::time_point reconnect_at{};
  SteadyClock::time_point last_frame_end{};
  bool connect_failing = false;
  std::optional<std::uint8_t> late_unit;  // timed out last: a garbled reply next is its answer
  std::atomic<bool> connected{false};

  mutable Mutex mu;
  CondVar cv;
  int depth GUARDED_BY(mu) = 0;  // nesting of running items (bus thread)
  Priority running_priority GUARDED_BY(mu) = Priority::kWrite;
  bool draining GUARDED_BY(mu) = false;
  bool stopping GUARDED_BY(mu) = false;
  bool finished GUARDED_BY(mu) = false;
  std::vector<Item> items GUARDED_BY(mu);
  std::uint64_t next_id GUARDED_BY(mu) = 1;
  std::size_t queued_requests GUARDED_BY(mu) = 0;
  std::set<std::uint64_t> running GUARDED_BY(mu);  // ids whose fn runs right now
  std::thread::id worker_id GUARDED_BY(mu);
  std::map<std::uint8_t, UnitRecord> units GUARDED_BY(mu);
  BusHealth stats GUARDED_BY(mu);

  void run();
  Response execute(const Request& r);
  bool ensure_connected();
  Response exchange(const Request& r, milliseconds timeout);
  void record(const Request& r, const Response& resp, UnitRecord& unit) REQUIRES(mu);
  UnitRecord& unit_of(std::uint8_t unit) REQUIRES(mu) { return units.try_emplace(unit, policy).first->second; }

  // Caller holds mu. The priority an item runs at now: a poll of a unit that is not online is a
  // probe, the least urgent work.
  Priority effective(const Item& item) REQUIRES(mu) {
    if (item.unit == kAnyUnit || item.priority <= Priority::kKeepAlive) return item.priority;
    const auto it = units.find(static_cast<std::uint8_t>(item.unit));
    const bool online = it != units.end() && it->second.policy.state() == UnitPolicy::State::kOnline;
    return online ? item.priority : Priority::kDiscovery;
  }
  // Caller holds mu. The most urgent due item no less urgent than `limit`, or items.end().
  std::vector<Item>::iterator pick(SteadyClock::time_point now, Priority limit) REQUIRES(mu) {
    auto best = items.end();
    Priority best_priority = Priority::kDiscovery;
    for (auto it = items.begin(); it != items.end(); ++it) {
      if (it->due > now || running.contains(it->id)) continue;
      Priority p = effective(*it);
      // Work that has waited too long (a saturated line) ranks with the fast polls, so slow
      // polls, discovery and probes are never starved for good.
      if (p > Priority::kFast && now - it->due > settings.starvation_limit) p = Priority::kFast;
      if (p > limit) continue;
      if (best == items.end() || p < best_priority || (p == best_priority && it->due < best->due)) {
        best = it;
        best_priority = p;
      }
    }
    return best;
  }
  // Caller holds mu; runs the item without it.
  void run_item(std::vector<Item>::iterator it, SteadyClock::time_point now) REQUIRES(mu) {
    const std::uint64_t id = it->id;
    const Priority priority = effective(*it);
    auto fn = it->fn;
    if (it->period.count() > 0) {
      it->due += it->period * ((now - it->due) / it->period + 1);  // stay on the grid, never burst
    } else {
      if (it->refuse) --queued_requests;
      items.erase(it);
      stats.queue_depth = queued_requests;
    }
    running.insert(id);
    const Priority outer = running_priority;
    running_priority = priority;
    ++depth;
    mu.unlock();
    (*fn)();
    mu.lock();
    --depth;
    running_priority = outer;
    running.erase(id);
    cv.notify_all();
  }
};

bool Bus::Impl::ensure_connected() {
  if (transport->connected()) return true;
  const auto now = SteadyClock::now();
  if (now < reconnect_at) return false;
  if (transport->connect()) {
    if (connect_failing) spdlog::info("bus {}: connected again", settings.id);
    connect_failing = false;
    connected = true;
    reconnect_backoff = milliseconds(0);
    return true;
  }
  connected = false;
  reconnect_backoff = std::min(kReconnectBackoffMax, reconnect_backoff.count() == 0
                                                         ? kReconnectBackoffInitial
                                                         : reconnect_backoff * 2);
  reconnect_at = now + reconnect_backoff;
  if (!connect_failing) {
    spdlog::warn("bus {}: cannot connect to {}: {} (retrying, backing off up to {} s)", settings.id,
                 settings.rtu ? settings.device : settings.host + ":" + std::to_string(settings.port),
                 transport->last_error(), kReconnectBackoffMax.count() / 1000);
  }
  connect_failing = true;
  return false;
}

Response Bus::Impl::exchange(const Request& r, milliseconds timeout) {
  // RTU: keep the line silent for the configured gap between frames (slow devices need more than
  // the 3.5 character times of the standard).
  if (settings.rtu) {
    const auto quiet_until = last_frame_end + settings.frame_gap;
    if (SteadyClock::now() < quiet_until) std::this_thread::sleep_until(quiet_until);
  }
  const auto t0 = SteadyClock::now();
  Response resp = transport->exchange(r, timeout);
  const auto t1 = SteadyClock::now();
  last_frame_end = t1;
  resp.latency = duration_cast<microseconds>(t1 - t0);
  resp.completed_ms = unix_ms();
  if (!transport->connected()) connected = false;
  return resp;
}

Response Bus::Impl::execute(const Request& r) {
  Response resp;
  milliseconds timeout{0};
  {
    MutexLock lock(mu);
    // Stopping, or draining and this is not setpoint work: refused without touching the line.
    if (stopping || (draining && running_priority > Priority::kWrite)) {
      resp.outcome = Outcome::kRefused;
      resp.completed_ms = unix_ms();
      return resp;
    }
    // Setpoint work while draining runs on a line that the drain interrupted: let it through.
    if (draining) transport->resume();
    UnitRecord& unit = unit_of(r.unit);
    if (!unit.policy.may_send(SteadyClock::now(), running_priority <= Priority::kKeepAlive)) {
      resp.outcome = Outcome::kOffline;
      resp.completed_ms = unix_ms();
      ++stats.errors["offline"];  // not sent: the unit backs off
      return resp;
    }
    timeout = unit.policy.timeout();
  }
  if (!ensure_connected()) {
    // The line is down, not the unit: counted for the bus, no unit backs off for it.
    resp.outcome = Outcome::kIoError;
    resp.completed_ms = unix_ms();
    MutexLock lock(mu);
    ++stats.requests;
    ++stats.errors["io_error"];
    return resp;
  }
  const milliseconds resync_quiet = std::max(kResyncQuietMin, settings.frame_gap * 2);
  resp = exchange(r, timeout);
  if (settings.rtu && resp.outcome == Outcome::kMalformed && late_unit && *late_unit != r.unit) {
    // On a serial line, most likely the late answer of the unit that timed out just before, not
    // this unit's fault: charged to the late unit; this request is tried once more on a quiet
    // line. (TCP drops the connection after a timeout, so a late answer never arrives there.)
    {
      MutexLock lock(mu);
      ++stats.errors["late_reply"];
      ++unit_of(*late_unit).health.failures;
    }
    transport->resync(resync_quiet, timeout);
    if (ensure_connected()) resp = exchange(r, timeout);
  }
  late_unit.reset();  // only the first exchange after a timeout can meet its late answer
  if (resp.outcome == Outcome::kTimeout || resp.outcome == Outcome::kMalformed) {
    transport->resync(resync_quiet, timeout);
    if (resp.outcome == Outcome::kTimeout) late_unit = r.unit;
  }
  MutexLock lock(mu);
  if (resp.outcome == Outcome::kRefused) {  // interrupted by shutdown: says nothing of the unit
    ++stats.errors["refused"];
    return resp;
  }
  record(r, resp, unit_of(r.unit));
  return resp;
}

// Updates statistics and the unit's health. Caller holds mu.
void Bus::Impl::record(const Request& r, const Response& resp, UnitRecord& unit) {
  (void)r;
  ++stats.requests;
  ++unit.health.requests;
  if (resp.outcome == Outcome::kOk) {
    ++stats.ok;
  } else {
    ++stats.errors[std::string(to_string(resp.outcome))];
  }
  if (answered(resp)) {
    unit.policy.on_answer(resp.latency);
    const double l = static_cast<double>(resp.latency.count()) / 1000.0;
    stats.latency_avg_ms = stats.latency_avg_ms == 0 ? l : 0.875 * stats.latency_avg_ms + 0.125 * l;
    stats.latency_max_ms = std::max(stats.latency_max_ms, l);
    unit.health.last_ok_ms = resp.completed_ms;
  } else {
    ++unit.health.failures;
    const auto now = SteadyClock::now();
    unit.policy.on_silence(resp.outcome, now, resp.latency);
  }
  unit.health.online = unit.policy.state() == UnitPolicy::State::kOnline;
  // For a unit that is not online: until when its polls are held back (backoff or quiet period).
  const auto now = SteadyClock::now();
  const auto held_back = unit.policy.send_after();
  unit.health.backoff_until_ms =
      !unit.health.online && held_back > now
          ? resp.completed_ms + duration_cast<milliseconds>(held_back - now).count()
          : 0;
}

void Bus::Impl::run() {
  MutexLock lock(mu);
  worker_id = std::this_thread::get_id();
  while (!stopping) {
    const auto now = SteadyClock::now();
    const auto it = pick(now, draining ? Priority::kWrite : Priority::kDiscovery);
    if (it != items.end()) {
      run_item(it, now);
      continue;
    }
    auto next_due = SteadyClock::time_point::max();
    for (const auto& item : items) {
      if (!draining || item.priority <= Priority::kWrite) next_due = std::min(next_due, item.due);
    }
    cv.wait_until(lock, next_due);
  }
  // Stopping: whatever is still queued is refused, so every submitted callback is called once.
  std::vector<std::function<void()>> refusals;
  for (auto& item : items) {
    if (item.refuse) refusals.push_back(std::move(item.refuse));
  }
  items.clear();
  queued_requests = 0;
  lock.unlock();
  for (auto& r : refusals) r();
  transport->close();
  connected = false;
  lock.lock();
  finished = true;
  cv.notify_all();
}

Bus::Bus(BusSettings settings, bool start_worker)
    : Bus(settings, make_libmodbus_transport(settings), start_worker) {}

Bus::Bus(BusSettings settings, std::unique_ptr<Transport> transport, bool start_worker)
    : impl_(std::make_shared<Impl>(std::move(settings), std::move(transport))) {
  if (!start_worker) return;
  impl_->has_worker = true;
  // The thread holds the state too: a worker abandoned at shutdown (stuck in an exchange) never
  // touches freed memory.
  std::thread([impl = impl_] { impl->run(); }).swap(worker_);
}

Bus::~Bus() { stop(); }

Response Bus::execute_now(const Request& request) {
  Impl& s = *impl_;
  if (s.has_worker) {
    // Between the requests of a task: due work more urgent than it, up to keep-alives, goes
    // first (writes also go between a keep-alive's requests). One level: what runs in between
    // is not interrupted itself.
    MutexLock lock(s.mu);
    while (s.depth == 1 && s.running_priority > Priority::kWrite && !s.stopping) {
      const auto now = SteadyClock::now();
      const Priority limit = s.draining || s.running_priority <= Priority::kKeepAlive ? Priority::kWrite
                                                                                      : Priority::kKeepAlive;
      const auto it = s.pick(now, limit);
      if (it == s.items.end()) break;
      s.run_item(it, now);
    }
  }
  return s.execute(request);
}

bool Bus::submit(Request request, Callback done, std::optional<Priority> priority) {
  Impl& s = *impl_;
  const Priority p = priority.value_or(request.op == Request::Op::kRead ? Priority::kFast : Priority::kWrite);
  {
    MutexLock lock(s.mu);
    if (s.stopping || s.queued_requests >= s.settings.queue_limit) {
      ++s.stats.errors["refused"];
      return false;
    }
    Item item;
    item.id = s.next_id++;
    item.priority = p;
    item.due = SteadyClock::now();
    auto shared = std::make_shared<std::pair<Request, Callback>>(std::move(request), std::move(done));
    Impl* impl = &s;
    item.fn = std::make_shared<std::function<void()>>([impl, shared] {
      const Response resp = impl->execute(shared->first);
      if (shared->second) shared->second(resp);
    });
    item.refuse = [shared] {
      Response refused;
      refused.outcome = Outcome::kRefused;
      if (shared->second) shared->second(refused);
    };
    s.items.push_back(std::move(item));
    s.stats.queue_depth = ++s.queued_requests;
  }
  s.cv.notify_all();
  return true;
}

Bus::TaskId Bus::every(milliseconds period, Priority priority, int unit, std::function<void()> fn) {
  Impl& s = *impl_;
  TaskId id = 0;
  {
    MutexLock lock(s.mu);
    id = s.next_id++;
    Item item;
    item.id = id;
    item.priority = priority;
    item.unit = unit;
    item.period = std::max(period, milliseconds(1));
    item.due = SteadyClock::now();
    item.fn = std::make_shared<std::function<void()>>(std::move(fn));
    s.items.push_back(std::move(item));
  }
  s.cv.notify_all();
  return id;
}

Bus::TaskId Bus::post(Priority priority, std::function<void()> fn) {
  Impl& s = *impl_;
  TaskId id = 0;
  {
    MutexLock lock(s.mu);
    if (s.stopping) return 0;  // it would never run
    id = s.next_id++;
    Item item;
    item.id = id;
    item.priority = priority;
    item.due = SteadyClock::now();
    item.fn = std::make_shared<std::function<void()>>(std::move(fn));
    s.items.push_back(std::move(item));
  }
  s.cv.notify_all();
  return id;
}

void Bus::cancel(TaskId id) {
  Impl& s = *impl_;
  MutexLock lock(s.mu);
  std::erase_if(s.items, [&](const Item& t) { return t.id == id; });
  if (std::this_thread::get_id() == s.worker_id) return;
  while (s.running.contains(id) && !s.finished) s.cv.wait(lock);
}

void Bus::drain() {
  {
    MutexLock lock(impl_->mu);
    impl_->draining = true;
  }
  impl_->transport->interrupt();
  impl_->cv.notify_all();
}

bool Bus::draining() const {
  MutexLock lock(impl_->mu);
  return impl_->draining;
}

void Bus::request_stop() {
  {
    MutexLock lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->transport->interrupt();
  impl_->cv.notify_all();
}

bool Bus::stop(milliseconds deadline) {
  request_stop();
  if (!worker_.joinable()) return true;
  {
    MutexLock lock(impl_->mu);
    const auto until = deadline == milliseconds::max() ? SteadyClock::time_point::max()
                                                       : SteadyClock::now() + deadline;
    while (!impl_->finished && SteadyClock::now() < until) impl_->cv.wait_until(lock, until);
    if (!impl_->finished) {
      lock.unlock();
      spdlog::warn("bus {}: still in an exchange after {} ms; abandoned", impl_->settings.id, deadline.count());
      worker_.detach();
      return false;
    }
  }
  worker_.join();
  return true;
}

BusHealth Bus::health() const {
  MutexLock lock(impl_->mu);
  BusHealth h = impl_->stats;
  h.connected = impl_->connected;
  h.timeout = impl_->settings.timeout;
  for (const auto& [unit, state] : impl_->units) {
    h.units[unit] = state.health;
    h.timeout = std::max(h.timeout, state.policy.adaptive_timeout());
  }
  return h;
}

const BusSettings& Bus::settings() const { return impl_->settings; }

}  // namespace gridlet::adapters::modbus
