#include "adapters/modbus/device_poller.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <set>

#include "adapters/clock.hpp"
#include "adapters/modbus/control.hpp"
#include "adapters/modbus/profile_decode.hpp"
#include "adapters/setpoint_holder.hpp"
#include "adapters/thread_safety.hpp"
#include "adapters/modbus/read_plan.hpp"
#include "adapters/modbus/sunspec_discovery.hpp"
#include "adapters/modbus/sunspec_models.hpp"
#include "adapters/modbus/unit_register_reader.hpp"

namespace gridlet::adapters::modbus {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// After a failed SunSpec discovery, try again after this long (doubling up to the maximum).
constexpr milliseconds kRediscoverInitial{5000};
constexpr milliseconds kRediscoverMax{300000};
// Setpoint keep-alives, expiries, re-assertion and heartbeats are checked this often.
constexpr milliseconds kControlTick{1000};


bool is_counter_type(sunspec::PointType t) {
  return t == sunspec::PointType::kAcc16 || t == sunspec::PointType::kAcc32 ||
         t == sunspec::PointType::kAcc64;
}

int counter_bits(sunspec::PointType t) {
  return t == sunspec::PointType::kAcc16 ? 16 : t == sunspec::PointType::kAcc32 ? 32 : 64;
}

bool publishable(sunspec::PointType t) {
  using T = sunspec::PointType;
  return t != T::kSunssf && t != T::kPad && t != T::kString && t != T::kIpaddr &&
         t != T::kIpv6addr && t != T::kEui48;
}

Priority poll_priority(PollClass c) {
  return c == PollClass::kFast ? Priority::kFast : c == PollClass::kNormal ? Priority::kNormal : Priority::kSlow;
}

}  // namespace

CounterTracker::Result CounterTracker::update(double raw) {
  if (last_raw_ && raw < *last_raw_) {
    const double drop = *last_raw_ - raw;
    if (range_ > 0 && drop > range_ / 2) {
      offset_ += range_;  // a wrap: the counter went past its maximum
    } else if (raw <= *last_raw_ * kResetFraction) {
      offset_ += *last_raw_;  // a reset: it restarted near zero (device replaced or reset)
    } else {
      // A small step back (a glitch, a rounding change): hold the last value, never go down.
      return {*last_raw_ + offset_, true};
    }
    last_raw_ = raw;
    return {raw + offset_, true};
  }
  last_raw_ = raw;
  return {raw + offset_, false};
}

PollClass sunspec_poll_class(std::uint16_t model_id) {
  switch (model_id) {
    case 1: case 120: case 121:
      return PollClass::kSlow;
    case 122: case 123: case 124: case 715:
      return PollClass::kNormal;
    default:
      return model_id >= 702 && model_id <= 712 ? PollClass::kNormal : PollClass::kFast;
  }
}

struct DevicePoller::Impl {
  Bus& bus;
  std::string id;
  std::uint8_t unit;
  std::shared_ptr<const Profile> profile;  // null: SunSpec
  ReadingSink& sink;
  PollPeriods periods;

  // Profile devices: the planned reads of each poll class; `points` in a request index `wanted`.
  struct ClassPlan {
    std::vector<std::size_t> wanted;  // indices into profile->points
    std::vector<ReadRequest> requests;
  };
  std::map<PollClass, ClassPlan> plans;

  // SunSpec devices.
  std::vector<sunspec::DiscoveredModel> models;
  std::map<std::uint16_t, std::vector<std::string>> published;  // point names, by model address
  // What each model's reads reuse, by model address: the last decode (decode_model_into reuses
  // its storage) and the published name "<model name>.<path>" of each of its points, in the same
  // order, built when the decoded paths change (the first read, a changed repeat count) rather
  // than concatenated for every point on every read.
  struct ModelCache {
    sunspec::DecodedModel decoded;
    std::vector<std::string> names;
    // Models with nameplate values (120, 121, 702, 802): each point's entry in `nameplate`, once
    // it has had a value (null before), so an update is a store rather than a map lookup.
    // Entries of a std::map stay put, and `nameplate` only ever grows.
    std::vector<double*> nameplate_slots;
  };
  std::map<std::uint16_t, ModelCache> model_cache;
  std::vector<std::uint16_t> model_block;  // registers of the model being read, reused
  std::set<std::uint16_t> failed_models;  // models whose last read failed (errors published)
  SteadyClock::time_point next_discovery{};
  milliseconds rediscover{kRediscoverInitial};

  std::map<std::string, CounterTracker> counters;  // by point name
  std::vector<Bus::TaskId> tasks;                  // cancelled (and waited for) on destruction
  milliseconds current_period{0};                  // poll period of what is being published

  mutable Mutex status_mu;
  DeviceStatus status GUARDED_BY(status_mu);

  // ---- Setpoints. Mutated on the bus thread only; ctl_mu guards them for readers elsewhere.
  ControlSink* control_sink = nullptr;
  ControlSettings control;
  MonotonicClock clock;
  mutable Mutex ctl_mu;  // for readers on other threads (the API)
  std::optional<SetpointHolder> holder GUARDED_BY(ctl_mu);  // set up by the constructor, set_control()
  // "<model name>.<point>" of 120, 121, 702, 802
  std::map<std::string, double> nameplate GUARDED_BY(ctl_mu);
  struct HeartbeatState {
    bool started = false;
    bool failing = false;
  };
  std::map<std::uint16_t, HeartbeatState> heartbeats;  // by model address
  bool closing = false;  // release_all ran (bus thread): later commands are refused
  Mutex posted_mu;
  std::set<Bus::TaskId> posted GUARDED_BY(posted_mu);  // one-shot control work not yet run: cancelled on destruction

  // False when the bus is stopping (fn dropped).
  bool post_control(std::function<void()> fn);
  ControlEvent apply(const std::string& point, std::optional<double> value, ControlAction action,
                     const std::string& actor, const std::string& reason);
  ControlEvent apply_sunspec(ControlEvent ev, std::optional<double> value);
  ControlEvent apply_profile(ControlEvent ev, std::optional<double> value);
  // Writes a plan and fills ev's outcome, value and detail (the registers written); true when
  // there is something to read back (written, and the device took the writes).
  bool write_plan(const WritePlan& plan, ControlEvent& ev);
  std::chrono::milliseconds keepalive_of(const std::string& point);
  void hold(const SetpointCommand& cmd, const ControlEvent& ev);
  // Releases a point and forgets it; a release the device did not answer is kept and retried.
  void release_held(const std::string& point, const std::string& actor, const std::string& reason,
                    const ControlCallback& done);
  void control_tick();
  void heartbeat_tick();
  void report(const ControlEvent& ev) {
    if (ev.alarm()) {
      spdlog::warn("device {}: {} {}: {} ({})", id, to_string(ev.action), ev.point,
                   to_string(ev.outcome), ev.detail);
    }
    if (control_sink != nullptr) control_sink->on_control(ev);
  }
  std::optional<double> nameplate_value(std::string_view key) const {
    MutexLock lock(ctl_mu);
    const auto it = nameplate.find(std::string(key));
    return it == nameplate.end() ? std::nullopt : std::optional<double>(it->second);
  }

  Impl(Bus& b, std::string i, std::uint8_t u, std::shared_ptr<const Profile> p, ReadingSink& s,
       PollPeriods pp)
      : bus(b), id(std::move(i)), unit(u), profile(std::move(p)), sink(s), periods(pp) {
    status.id = id;
    status.unit = unit;
    status.profile = profile ? profile->name : "sunspec";
    holder.emplace(holder_settings(), clock);
    if (profile) plan();
  }

  void plan();
  SetpointHolderSettings holder_settings() const {
    SetpointHolderSettings hs;
    hs.retry = control.retry;
    hs.heartbeat = control.heartbeat;
    hs.early = kControlTick / 2;
    return hs;
  }
  void poll_class(PollClass c);
  void sunspec_discover();
  void sunspec_poll(PollClass cls, bool all = false);
  // Copies the names straight into the Reading (no temporaries: this runs for every point of
  // every poll).
  void publish(const std::string& point, std::string_view unit_name, double value, Quality q,
               std::int64_t t, bool counter, double counter_range);
  void fail_points(const std::vector<std::string>& names, const std::string& why);
  // Whether the device answered a request (the bus's rule: data or an exception of its own) or was
  // silent. Answering again after silence means it may have restarted and forgotten: held
  // setpoints are written again. An exception for one block is not silence, so it never triggers
  // re-assertion.
  void note_contact(Contact c) {
    if (c == Contact::kUnknown) return;
    MutexLock lock(ctl_mu);
    holder->on_contact(c == Contact::kAnswered);
  }
  void note_poll(bool ok, const std::string& error) {
    MutexLock lock(status_mu);
    ++status.polls;
    if (!ok) {
      ++status.poll_failures;
      status.last_error = error;
    }
  }
};

void DevicePoller::Impl::plan() {
  std::map<PollClass, std::set<std::size_t>> by_class;
  for (std::size_t i = 0; i < profile->points.size(); ++i) {
    const Point& p = profile->points[i];
    if (!p.readable()) continue;
    by_class[p.poll].insert(i);
    // A value's scale factor is read in the same request, whatever the scale factor's own class.
    if (!p.scale_point.empty()) {
      for (std::size_t j = 0; j < profile->points.size(); ++j) {
        if (profile->points[j].name == p.scale_point) by_class[p.poll].insert(j);
      }
    }
  }
  for (auto& [cls, indices] : by_class) {
    ClassPlan cp;
    cp.wanted.assign(indices.begin(), indices.end());
    std::vector<PointSpan> spans;
    for (std::size_t i : cp.wanted) {
      const Point& p = profile->points[i];
      // Group a value with its scale factor: the group id is the scale factor's index + 1.
      std::uint32_t group = 0;
      const std::string& sf = p.scale_point.empty() ? std::string() : p.scale_point;
      for (std::size_t j = 0; j < profile->points.size(); ++j) {
        const bool is_sf_of_p = !sf.empty() && profile->points[j].name == sf;
        const bool p_is_this_sf = profile->points[j].scale_point == p.name && j != i;
        if (is_sf_of_p) group = static_cast<std::uint32_t>(j + 1);
        if (p_is_this_sf && group == 0) group = static_cast<std::uint32_t>(i + 1);
      }
      spans.push_back(p.span(group));
    }
    PlanResult r = plan_reads(spans, profile->plan_options());
    if (!r.ok()) {
      for (const auto& e : r.errors) spdlog::error("device {}: {}", id, e.message);
      continue;
    }
    cp.requests = std::move(r.requests);
    plans.emplace(cls, std::move(cp));
  }
}

void DevicePoller::Impl::publish(const std::string& point, std::string_view unit_name, double value,
                                 Quality q, std::int64_t t, bool counter, double counter_range) {
  if (counter && q == Quality::kGood) {
    auto [it, inserted] = counters.try_emplace(point, counter_range);
    const auto r = it->second.update(value);
    if (r.discontinuity) {
      MutexLock lock(status_mu);
      ++status.counter_discontinuities;
      spdlog::warn("device {}: counter {} went back from its last value; continuing from it", id, point);
    }
    value = r.value;
  }
  // A value is stale after three missed polls of its class.
  sink.publish(Reading{id, point, std::string(unit_name), value, q, t, 3 * current_period.count()});
}

void DevicePoller::Impl::fail_points(const std::vector<std::string>& names, const std::string& why) {
  const std::int64_t now = unix_ms();
  for (const auto& n : names) sink.publish(Reading{id, n, "", 0.0, Quality::kError, now});
  note_poll(false, why);
}

void DevicePoller::Impl::poll_class(PollClass c) {
  const auto it = plans.find(c);
  if (it == plans.end()) return;
  const ClassPlan& cp = it->second;
  current_period = periods.of(c);
  for (const ReadRequest& rr : cp.requests) {
    Request req;
    req.unit = unit;
    req.table = rr.table;
    req.address = rr.start;
    req.count = rr.count;
    const Response resp = bus.execute_now(req);
    note_contact(contact(resp));
    if (resp.outcome != Outcome::kOk) {
      std::vector<std::string> names;
      for (std::size_t k : rr.points) names.push_back(profile->points[cp.wanted[k]].name);
      fail_points(names, std::string(to_string(resp.outcome)) +
                             (resp.outcome == Outcome::kException
                                  ? " " + std::to_string(resp.exception_code)
                                  : ""));
      continue;
    }
    note_poll(true, "");
    for (std::size_t k : rr.points) {
      const Point& p = profile->points[cp.wanted[k]];
      const PointValue v = decode_point(*profile, p, resp.registers, rr.start);
      if (v.text) continue;
      if (v.out_of_range) {
        MutexLock lock(status_mu);
        ++status.out_of_range;
      }
      publish(p.name, p.unit, v.value, v.quality, resp.completed_ms, v.counter, v.counter_range);
    }
  }
}

void DevicePoller::Impl::sunspec_discover() {
  if (!models.empty()) return;
  const auto now = SteadyClock::now();
  if (now < next_discovery) return;
  UnitRegisterReader reader(bus, unit);
  const sunspec::DiscoveryResult d = sunspec::discover(reader);
  if (d.models.empty() || d.error != sunspec::DiscoveryError::kNone) {
    next_discovery = SteadyClock::now() + rediscover;
    rediscover = std::min(kRediscoverMax, rediscover * 2);
    note_poll(false, "SunSpec discovery: " + std::string(sunspec::to_string(d.error)));
    note_contact(Contact::kSilent);
    return;
  }
  models = d.models;
  rediscover = kRediscoverInitial;
  MutexLock lock(status_mu);
  status.discovered = true;
  status.models.clear();
  for (const auto& m : models) status.models.push_back(m.id);
  spdlog::info("device {}: SunSpec at {} with {} models", id, d.base.value_or(0), models.size());
  lock.unlock();
  // Every model once now (nameplates and settings too), not only at its class's next turn.
  sunspec_poll(PollClass::kFast, /*all=*/true);
}

// Reads the discovered models of one poll class (every model with all = true).
void DevicePoller::Impl::sunspec_poll(PollClass cls, bool all) {
  if (models.empty()) return;
  const auto now = SteadyClock::now();
  UnitRegisterReader reader(bus, unit);
  bool chain_broken = false;
  for (const auto& m : models) {
    const sunspec::ModelDef* def = sunspec::find_model(m.id);
    if (def == nullptr || (!all && sunspec_poll_class(m.id) != cls)) continue;
    current_period = periods.of(sunspec_poll_class(m.id));
    const sunspec::ReadStatus st = sunspec::read_model(reader, m, model_block);
    note_contact(contact(st));
    if (st.kind != sunspec::ReadStatus::Kind::kOk) {
      const std::string why = "model " + std::to_string(m.id) + ": " + sunspec::to_string(st);
      // Its points say so at once (error quality), as a profile device's do: an honest "error"
      // rather than a last good value that only turns stale later.
      // Once per failure, not once per tick of a long outage.
      const auto names = published.find(m.address);
      if (names != published.end() && failed_models.insert(m.address).second) {
        fail_points(names->second, why);
      } else {
        note_poll(false, why);
      }
      // "Illegal data address" on a model that was there: the device changed (a firmware
      // update); rediscover. Other exceptions (busy, gateway 10/11) are transient.
      if (st.kind == sunspec::ReadStatus::Kind::kException && st.exception_code == 2) {
        chain_broken = true;
      }
      continue;
    }
    note_poll(true, "");
    failed_models.erase(m.address);
    // The ID register must still hold the model id; otherwise the chain moved.
    if (model_block.empty() || model_block[0] != m.id) {
      chain_broken = true;
      continue;
    }
    const std::int64_t t = unix_ms();
    ModelCache& cache = model_cache[m.address];
    const sunspec::DecodedModel& dm = cache.decoded;
    if (sunspec::decode_model_into(*def, model_block, cache.decoded)) {  // new or changed layout
      cache.names.clear();
      for (const auto& dp : dm.points) {
        cache.names.push_back(fmt::format("{}.{}", def->name, dp.path));
      }
      cache.nameplate_slots.assign(dm.points.size(), nullptr);
    }
    auto& names = published[m.address];
    const bool record_names = names.empty();
    if (m.id == 120 || m.id == 121 || m.id == 702 || m.id == 802) {  // ranges of setpoints
      MutexLock lock(ctl_mu);
      for (std::size_t i = 0; i < dm.points.size(); ++i) {
        if (!dm.points[i].value) continue;
        double*& slot = cache.nameplate_slots[i];
        if (slot == nullptr) slot = &nameplate[cache.names[i]];
        *slot = *dm.points[i].value;
      }
    }
    for (std::size_t i = 0; i < dm.points.size(); ++i) {
      const sunspec::DecodedPoint& dp = dm.points[i];
      if (dp.def == nullptr || !publishable(dp.def->type) || dp.offset < 2) continue;
      const std::string& name = cache.names[i];
      if (record_names) names.push_back(name);
      const bool counter = is_counter_type(dp.def->type);
      const double range = counter && dp.scale_factor
                               ? std::ldexp(1.0, counter_bits(dp.def->type)) *
                                     std::pow(10.0, *dp.scale_factor)
                               : 0.0;
      if (dp.value) {
        publish(name, dp.def->units, *dp.value, Quality::kGood, t, counter, range);
      } else {
        publish(name, dp.def->units, 0.0, Quality::kMissing, t, false, 0);
      }
    }
  }
  if (chain_broken) {
    spdlog::warn("device {}: SunSpec model chain changed; discovering again", id);
    models.clear();
    published.clear();
    model_cache.clear();
    failed_models.clear();
    next_discovery = now;
    MutexLock lock(status_mu);
    status.discovered = false;
  }
}

// ---- Setpoints --------------------------------------------------------------------------------

bool DevicePoller::Impl::post_control(std::function<void()> fn) {
  // The id is registered before the task can run, so the task can always remove it.
  MutexLock lock(posted_mu);
  auto shared = std::make_shared<Bus::TaskId>(0);
  *shared = bus.post(Priority::kWrite, [this, shared, fn = std::move(fn)] {
    fn();
    MutexLock l(posted_mu);
    posted.erase(*shared);
  });
  if (*shared == 0) return false;
  posted.insert(*shared);
  return true;
}

bool DevicePoller::Impl::write_plan(const WritePlan& plan, ControlEvent& ev) {
  if (!plan.ok()) {
    ev.outcome = ControlOutcome::kRejected;
    ev.detail = plan.error;
    return false;
  }
  if (plan.has_value) ev.value = plan.value;
  if (plan.writes.empty()) {  // nothing to write (a release without fail-safe): done
    ev.detail = plan.note;
    return false;
  }
  for (const RegisterWrite& w : plan.writes) {
    Request req;
    req.op = w.table == Table::kCoil ? Request::Op::kWriteCoil : Request::Op::kWriteRegisters;
    req.unit = unit;
    req.table = w.table;
    req.address = w.address;
    req.values = w.values;
    const Response r = bus.execute_now(req);
    note_contact(contact(r));
    if (r.outcome == Outcome::kException) {
      ev.outcome = ControlOutcome::kRefused;
      ev.detail = fmt::format("the device refused the write at {} with exception {}", w.address, r.exception_code);
      return false;
    }
    if (r.outcome != Outcome::kOk) {
      ev.outcome = ControlOutcome::kFailed;
      ev.detail = fmt::format("write at {}: {}", w.address, to_string(r.outcome));
      return false;
    }
  }
  ev.outcome = ControlOutcome::kApplied;
  ev.detail = plan.describe();
  return true;
}

ControlEvent DevicePoller::Impl::apply_sunspec(ControlEvent ev, std::optional<double> value) {
  const SunSpecControl* c = find_sunspec_control(ev.point);
  if (c == nullptr) {
    ev.outcome = ControlOutcome::kRejected;
    ev.detail = "not a SunSpec control Gridlet writes (see GET /api/v1/devices/{id}/setpoints)";
    return ev;
  }
  const NameplateLookup lookup = [this](std::string_view k) { return nameplate_value(k); };
  if (value) {
    // The control's own range first: a command that can never be valid is refused at once, even
    // before discovery, instead of being held and retried.
    const ControlInfo info = sunspec_control_info(*c, lookup);
    if ((info.min && *value < *info.min) || (info.max && *value > *info.max)) {
      ev.outcome = ControlOutcome::kRejected;
      ev.detail = fmt::format("{} = {} is outside [{}, {}] {}", ev.point, *value, info.min.value_or(-INFINITY),
                              info.max.value_or(INFINITY), info.unit);
      return ev;
    }
  }
  if (models.empty()) {
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = "the SunSpec model chain has not been discovered yet";
    return ev;
  }
  const auto m = std::find_if(models.begin(), models.end(),
                              [&](const sunspec::DiscoveredModel& d) { return d.id == control_model(*c); });
  if (m == models.end()) {
    ev.outcome = ControlOutcome::kRejected;
    ev.detail = fmt::format("the device has no SunSpec model {}", control_model(*c));
    return ev;
  }
  UnitRegisterReader reader(bus, unit);
  std::vector<std::uint16_t> block;
  if (const auto st = sunspec::read_model(reader, *m, block); !st.is_ok()) {
    note_contact(contact(st));
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = "reading the model before writing: " + sunspec::to_string(st);
    return ev;
  }
  const SunSpecWriteContext ctx{m->address, block, lookup,
                                static_cast<std::uint32_t>(control.revert.count())};
  const auto fs = control.failsafe.find(ev.point);
  const WritePlan plan =
      value ? plan_sunspec_set(*c, ctx, *value)
            : plan_sunspec_release(*c, ctx, fs == control.failsafe.end() ? std::nullopt
                                                                          : std::optional(fs->second));
  if (!write_plan(plan, ev)) return ev;
  const std::string written = ev.detail;
  if (const auto st = sunspec::read_model(reader, *m, block); !st.is_ok()) {
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = fmt::format("wrote {}, but the read-back failed: {}", written, sunspec::to_string(st));
    return ev;
  }
  ev.readback = sunspec_control_value(*c, block);
  for (const ReadbackCheck& ch : plan.checks) {
    const std::size_t off = static_cast<std::size_t>(ch.address - m->address);
    for (std::size_t i = 0; i < ch.expected.size(); ++i) {
      const std::uint16_t got = off + i < block.size() ? block[off + i] : std::uint16_t{0};
      if (got != ch.expected[i]) {
        ev.outcome = ControlOutcome::kMismatch;
        ev.detail = fmt::format("wrote {}, but register {} reads back {} instead of {}: the device did "
                                "not take the setpoint",
                                written, ch.address + i, got, ch.expected[i]);
        return ev;
      }
    }
  }
  return ev;
}

ControlEvent DevicePoller::Impl::apply_profile(ControlEvent ev, std::optional<double> value) {
  const Point* p = profile->find(ev.point);
  if (p == nullptr || !p->writable()) {
    ev.outcome = ControlOutcome::kRejected;
    ev.detail = p == nullptr ? fmt::format("the profile {} has no point {}", profile->name, ev.point)
                             : fmt::format("{} is read-only", ev.point);
    return ev;
  }
  const auto fs = control.failsafe.find(ev.point);
  const WritePlan plan =
      value ? plan_profile_set(*profile, *p, *value)
            : plan_profile_release(*profile, *p, fs == control.failsafe.end() ? std::nullopt
                                                                               : std::optional(fs->second));
  if (!write_plan(plan, ev)) return ev;
  const std::string written = ev.detail;
  const Point* rb = profile_readback_point(*profile, *p);
  if (rb == nullptr) {
    ev.detail = written + " (write-only point: not read back)";
    return ev;
  }
  Request req;
  req.unit = unit;
  req.table = rb->table;
  req.address = rb->address;
  req.count = rb->register_count();
  const Response r = bus.execute_now(req);
  if (r.outcome != Outcome::kOk) {
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = fmt::format("wrote {}, but the read-back of {} failed: {}", written, rb->name,
                            to_string(r.outcome));
    return ev;
  }
  if (is_bit_table(rb->table)) {
    ev.readback = r.registers.empty() ? 0.0 : (r.registers[0] != 0 ? 1.0 : 0.0);
  } else {
    const DecodeResult d = decode(r.registers, rb->encoding);
    if (d.is_number()) {
      const ScaledValue v = apply_scale(d.number, Scale{rb->scale, std::nullopt});
      if (v.status == DecodeStatus::kNumber) ev.readback = v.value;
    }
  }
  // Registers compare exactly; a read-back through another point compares within half a step of
  // the coarser of the two resolutions.
  const double tolerance = 0.5 * std::max(std::abs(p->scale), std::abs(rb->scale)) + 1e-9;
  const bool same = ev.readback && std::abs(*ev.readback - plan.value) <= tolerance;
  if (!same) {
    ev.outcome = ControlOutcome::kMismatch;
    ev.detail = fmt::format("wrote {} = {}, but {} reads back {}: the device did not take the setpoint",
                            p->name, plan.value, rb->name,
                            ev.readback ? fmt::format("{}", *ev.readback) : std::string("nothing usable"));
  }
  return ev;
}

ControlEvent DevicePoller::Impl::apply(const std::string& point, std::optional<double> value,
                                       ControlAction action, const std::string& actor,
                                       const std::string& reason) {
  ControlEvent ev;
  ev.device = id;
  ev.point = point;
  ev.action = action;
  ev.value = value;
  ev.actor = actor;
  ev.reason = reason;
  ev = profile ? apply_profile(std::move(ev), value) : apply_sunspec(std::move(ev), value);
  ev.timestamp_ms = unix_ms();
  report(ev);
  return ev;
}

std::chrono::milliseconds DevicePoller::Impl::keepalive_of(const std::string& point) {
  if (!profile) {
    const SunSpecControl* c = find_sunspec_control(point);
    if (c == nullptr || !control_has_revert_timer(*c)) return milliseconds(0);
    return std::max(milliseconds(1000), std::chrono::duration_cast<milliseconds>(control.revert) / 3);
  }
  const Point* p = profile->find(point);
  if (p == nullptr) return milliseconds(0);
  if (p->keepalive_s > 0) return std::chrono::seconds(p->keepalive_s);
  const Point* timer = p->revert_timeout_point.empty() ? nullptr : profile->find(p->revert_timeout_point);
  if (timer == nullptr || !timer->readable()) return milliseconds(0);
  Request req;
  req.unit = unit;
  req.table = timer->table;
  req.address = timer->address;
  req.count = timer->register_count();
  const Response r = bus.execute_now(req);
  if (r.outcome != Outcome::kOk) return control.retry;  // unknown: assume a short timer
  const DecodeResult d = decode(r.registers, timer->encoding);
  if (!d.is_number()) return control.retry;
  const double seconds = apply_scale(d.number, Scale{timer->scale, std::nullopt}).value;
  if (seconds <= 0) return milliseconds(0);  // the device does not revert
  return std::max(milliseconds(1000), milliseconds(static_cast<std::int64_t>(seconds * 1000 / 3)));
}

void DevicePoller::Impl::hold(const SetpointCommand& cmd, const ControlEvent& ev) {
  // Held when applied, and when the device did not answer (it gets the value when it is back).
  // A rejected, refused or ignored command changes nothing (see SetpointHolder::on_set).
  if (ev.outcome != ControlOutcome::kApplied && ev.outcome != ControlOutcome::kFailed) return;
  const auto keepalive = keepalive_of(cmd.point);  // may read the device's revert timer
  MutexLock lock(ctl_mu);
  holder->on_set(cmd, ev, keepalive);
}

void DevicePoller::Impl::release_held(const std::string& point, const std::string& actor,
                                      const std::string& reason, const ControlCallback& done) {
  const ControlEvent ev = apply(point, std::nullopt, ControlAction::kRelease, actor, reason);
  {
    MutexLock lock(ctl_mu);
    holder->on_release(point, ev);
  }
  if (done) done(ev);
}

void DevicePoller::Impl::heartbeat_tick() {
  if (profile || models.empty()) return;
  std::optional<std::uint32_t> beat;
  {
    MutexLock lock(ctl_mu);
    beat = holder->heartbeat_due();
  }
  if (!beat) return;
  for (const auto& m : models) {
    const auto w = plan_heartbeat(m.id, m.address, *beat);
    if (!w) continue;
    Request req;
    req.op = Request::Op::kWriteRegisters;
    req.unit = unit;
    req.address = w->address;
    req.values = w->values;
    const Response r = bus.execute_now(req);
    note_contact(contact(r));
    const bool ok = r.outcome == Outcome::kOk;
    // Heartbeats are not audited one by one (one every few seconds, forever): only the first,
    // and each change between failing and working, per heartbeat register.
    HeartbeatState& hb = heartbeats[m.address];
    if (ok == hb.failing || !hb.started) {
      ControlEvent ev;
      ev.timestamp_ms = unix_ms();
      ev.device = id;
      ev.point = m.id == 715 ? "DERCtl.ControllerHb" : "battery.CtrlHb";
      ev.action = ControlAction::kHeartbeat;
      ev.value = *beat;
      ev.actor = "gateway";
      ev.reason = ok ? (hb.failing ? "heartbeat recovered" : "heartbeat started") : "heartbeat failing";
      ev.outcome = ok ? ControlOutcome::kApplied
                      : r.outcome == Outcome::kException ? ControlOutcome::kRefused : ControlOutcome::kFailed;
      ev.detail = ok ? fmt::format("{}=[{}] every {} ms", w->address, fmt::join(w->values, ","),
                                   control.heartbeat.count())
                     : std::string(to_string(r.outcome));
      report(ev);
      hb.started = true;
      hb.failing = !ok;
    }
  }
}

void DevicePoller::Impl::control_tick() {
  if (bus.draining()) return;  // shutting down: releases only, no keep-alives or heartbeats
  heartbeat_tick();
  std::vector<DueWrite> writes;
  {
    MutexLock lock(ctl_mu);
    writes = holder->due();
  }
  for (const DueWrite& w : writes) {
    const ControlEvent ev = apply(w.point, w.value, w.action, w.actor, w.reason);
    MutexLock lock(ctl_mu);
    holder->on_written(w, ev);
  }
}

DevicePoller::DevicePoller(Bus& bus, std::string device_id, std::uint8_t unit,
                           std::shared_ptr<const Profile> profile, ReadingSink& sink,
                           PollPeriods periods)
    : impl_(std::make_unique<Impl>(bus, std::move(device_id), unit, std::move(profile), sink,
                                   periods)) {}

DevicePoller::~DevicePoller() {
  for (const auto id : impl_->tasks) impl_->bus.cancel(id);
  std::set<Bus::TaskId> posted;
  {
    MutexLock lock(impl_->posted_mu);
    posted = impl_->posted;
  }
  for (const auto id : posted) impl_->bus.cancel(id);
}

void DevicePoller::start() {
  Impl* impl = impl_.get();
  const int unit = impl->unit;
  impl->tasks.push_back(
      impl->bus.every(kControlTick, Priority::kKeepAlive, unit, [impl] { impl->control_tick(); }));
  if (impl->profile == nullptr) {
    const auto tick = std::min({impl->periods.fast, impl->periods.normal, impl->periods.slow});
    impl->tasks.push_back(
        impl->bus.every(tick, Priority::kDiscovery, unit, [impl] { impl->sunspec_discover(); }));
    for (const PollClass c : {PollClass::kFast, PollClass::kNormal, PollClass::kSlow}) {
      impl->tasks.push_back(impl->bus.every(impl->periods.of(c), poll_priority(c), unit,
                                            [impl, c] { impl->sunspec_poll(c); }));
    }
    return;
  }
  for (const auto& [cls, plan] : impl->plans) {
    const PollClass c = cls;
    impl->tasks.push_back(impl->bus.every(impl->periods.of(c), poll_priority(c), unit,
                                          [impl, c] { impl->poll_class(c); }));
  }
}

void DevicePoller::poll_once() {
  if (impl_->profile == nullptr) {
    // A discovery that succeeds reads every model itself; read them here only when it did not run.
    const bool discovered = !impl_->models.empty();
    impl_->sunspec_discover();
    if (discovered) impl_->sunspec_poll(PollClass::kFast, /*all=*/true);
    return;
  }
  for (const auto& [cls, plan] : impl_->plans) impl_->poll_class(cls);
}

const std::string& DevicePoller::bus_id() const { return impl_->bus.settings().id; }

DeviceStatus DevicePoller::status() const {
  MutexLock lock(impl_->status_mu);
  return impl_->status;
}

void DevicePoller::set_control(ControlSink* sink, ControlSettings settings) {
  impl_->control_sink = sink;
  impl_->control = std::move(settings);
  MutexLock lock(impl_->ctl_mu);
  impl_->holder.emplace(impl_->holder_settings(), impl_->clock);
}

void DevicePoller::set(SetpointCommand command, ControlCallback done) {
  Impl* impl = impl_.get();
  auto task = [impl, command, done] {
    if (impl->closing) {  // after release_all (shutdown): never applied, so never left held
      ControlEvent ev;
      ev.timestamp_ms = unix_ms();
      ev.device = impl->id;
      ev.point = command.point;
      ev.value = command.value;
      ev.actor = command.actor;
      ev.reason = command.reason;
      ev.outcome = ControlOutcome::kFailed;
      ev.detail = "the gateway is stopping";
      if (done) done(ev);
      return;
    }
    const ControlEvent ev =
        impl->apply(command.point, command.value, ControlAction::kSet, command.actor, command.reason);
    impl->hold(command, ev);
    if (done) done(ev);
  };
  if (!impl->post_control(std::move(task)) && done) {
    ControlEvent ev;
    ev.timestamp_ms = unix_ms();
    ev.device = impl->id;
    ev.point = command.point;
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = "the bus is stopping";
    done(ev);
  }
}

void DevicePoller::release(std::string point, std::string actor, std::string reason,
                           ControlCallback done) {
  Impl* impl = impl_.get();
  auto task = [impl, point, actor, reason, done] { impl->release_held(point, actor, reason, done); };
  if (!impl->post_control(std::move(task)) && done) {
    ControlEvent ev;
    ev.timestamp_ms = unix_ms();
    ev.device = impl->id;
    ev.point = point;
    ev.action = ControlAction::kRelease;
    ev.outcome = ControlOutcome::kFailed;
    ev.detail = "the bus is stopping";
    done(ev);
  }
}

std::future<void> DevicePoller::release_all(const std::string& reason) {
  // Always through the bus queue, even with nothing held now: a set in flight (queued or writing)
  // is held by the time this task runs, and is released with the rest.
  Impl* impl = impl_.get();
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> f = finished->get_future();
  const bool posted = impl->post_control([impl, reason, finished] {
    impl->closing = true;
    std::vector<std::pair<std::string, std::string>> points;
    {
      MutexLock lock(impl->ctl_mu);
      points = impl->holder->holders();
    }
    for (const auto& [point, actor] : points) impl->release_held(point, actor, reason, {});
    finished->set_value();
  });
  if (!posted) finished->set_value();
  return f;
}

std::vector<ActiveSetpoint> DevicePoller::setpoints() const {
  MutexLock lock(impl_->ctl_mu);
  return impl_->holder->held();
}

std::vector<ControlInfo> DevicePoller::controls() const {
  std::vector<ControlInfo> out;
  auto with_override = [&](ControlInfo info) {
    if (const auto it = impl_->control.failsafe.find(info.point); it != impl_->control.failsafe.end()) {
      info.failsafe = it->second;
      info.release = fmt::format("write {} and keep it in force (configured fail-safe)", it->second);
    }
    out.push_back(std::move(info));
  };
  if (impl_->profile) {
    for (const Point& p : impl_->profile->points) {
      if (p.writable()) with_override(profile_control_info(p));
    }
    return out;
  }
  const DeviceStatus st = status();
  const Impl* impl = impl_.get();
  const NameplateLookup np = [impl](std::string_view k) { return impl->nameplate_value(k); };
  for (const std::uint16_t model : st.models) {
    for (const SunSpecControl* c : sunspec_controls_of(model)) with_override(sunspec_control_info(*c, np));
  }
  return out;
}

}  // namespace gridlet::adapters::modbus
