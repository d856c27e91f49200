#include "adapters/modbus/device_poller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <set>

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

std::int64_t unix_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}


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
  std::map<std::uint16_t, SteadyClock::time_point> model_due;  // by model address
  SteadyClock::time_point next_discovery{};
  milliseconds rediscover{kRediscoverInitial};

  std::map<std::string, CounterTracker> counters;  // by point name
  std::vector<Bus::TaskId> tasks;                  // cancelled (and waited for) on destruction
  milliseconds current_period{0};                  // poll period of what is being published

  mutable std::mutex status_mu;
  DeviceStatus status;

  Impl(Bus& b, std::string i, std::uint8_t u, std::shared_ptr<const Profile> p, ReadingSink& s,
       PollPeriods pp)
      : bus(b), id(std::move(i)), unit(u), profile(std::move(p)), sink(s), periods(pp) {
    status.id = id;
    status.unit = unit;
    status.profile = profile ? profile->name : "sunspec";
    if (profile) plan();
  }

  void plan();
  void poll_class(PollClass c);
  void sunspec_tick(bool all_due = false);
  void publish(std::string point, std::string unit_name, double value, Quality q, std::int64_t t,
               bool counter, double counter_range);
  void fail_points(const std::vector<std::string>& names, const std::string& why);
  void note_poll(bool ok, const std::string& error) {
    std::lock_guard lock(status_mu);
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

void DevicePoller::Impl::publish(std::string point, std::string unit_name, double value, Quality q,
                                 std::int64_t t, bool counter, double counter_range) {
  if (counter && q == Quality::kGood) {
    auto [it, inserted] = counters.try_emplace(point, counter_range);
    const auto r = it->second.update(value);
    if (r.discontinuity) {
      std::lock_guard lock(status_mu);
      ++status.counter_discontinuities;
      spdlog::warn("device {}: counter {} went back from its last value; continuing from it", id, point);
    }
    value = r.value;
  }
  // A value is stale after three missed polls of its class.
  sink.publish(Reading{id, std::move(point), std::move(unit_name), value, q, t, 3 * current_period.count()});
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
    auto regs_of = [&](const Point& p) {
      return std::span<const std::uint16_t>(resp.registers)
          .subspan(static_cast<std::size_t>(p.address - rr.start), p.register_count());
    };
    for (std::size_t k : rr.points) {
      const Point& p = profile->points[cp.wanted[k]];
      if (p.encoding.type == DataType::kString) continue;  // identity text, not a reading
      if (is_bit_table(p.table)) {  // coils and discrete inputs: the response holds 0/1 per bit
        publish(p.name, p.unit, resp.registers[static_cast<std::size_t>(p.address - rr.start)],
                Quality::kGood, resp.completed_ms, false, 0);
        continue;
      }
      DecodeResult d = decode(regs_of(p), p.encoding);
      if (d.is_missing()) {
        publish(p.name, p.unit, 0.0, Quality::kMissing, resp.completed_ms, false, 0);
        continue;
      }
      if (!d.is_number()) {
        publish(p.name, p.unit, 0.0, Quality::kError, resp.completed_ms, false, 0);
        continue;
      }
      Scale scale{p.scale, std::nullopt};
      if (!p.scale_point.empty()) {
        const Point* sf = profile->find(p.scale_point);
        const DecodeResult sfd = sf ? decode(regs_of(*sf), sf->encoding) : DecodeResult{};
        const auto e = sfd.is_number() ? sfd.number.as_i64() : std::nullopt;
        if (!e) {
          publish(p.name, p.unit, 0.0, Quality::kMissing, resp.completed_ms, false, 0);
          continue;
        }
        scale.exponent = *e;
      }
      const ScaledValue v = apply_scale(d.number, scale);
      if (v.status != DecodeStatus::kNumber) {
        publish(p.name, p.unit, 0.0, v.status == DecodeStatus::kMissing ? Quality::kMissing : Quality::kError,
                resp.completed_ms, false, 0);
        continue;
      }
      if ((p.min && v.value < *p.min) || (p.max && v.value > *p.max)) {
        {
          std::lock_guard lock(status_mu);
          ++status.out_of_range;
        }
        publish(p.name, p.unit, v.value, Quality::kError, resp.completed_ms, false, 0);
        continue;
      }
      const bool counter = p.kind == PointKind::kCounter;
      const double range =
          counter && is_integer_type(p.encoding.type) && p.register_count() <= 2 && !scale.exponent
              ? std::ldexp(1.0, 16 * p.register_count()) * p.scale
              : 0.0;
      publish(p.name, p.unit, v.value, Quality::kGood, resp.completed_ms, counter, range);
    }
  }
}

void DevicePoller::Impl::sunspec_tick(bool all_due) {
  const auto now = SteadyClock::now();
  UnitRegisterReader reader(bus, unit);
  if (models.empty()) {
    if (now < next_discovery) return;
    const sunspec::DiscoveryResult d = sunspec::discover(reader);
    if (d.models.empty() || d.error != sunspec::DiscoveryError::kNone) {
      next_discovery = now + rediscover;
      rediscover = std::min(kRediscoverMax, rediscover * 2);
      note_poll(false, "SunSpec discovery: " + std::string(sunspec::to_string(d.error)));
      return;
    }
    models = d.models;
    rediscover = kRediscoverInitial;
    std::lock_guard lock(status_mu);
    status.discovered = true;
    status.models.clear();
    for (const auto& m : models) status.models.push_back(m.id);
    spdlog::info("device {}: SunSpec at {} with {} models", id, d.base.value_or(0), models.size());
  }
  std::vector<std::uint16_t> block;
  bool chain_broken = false;
  for (const auto& m : models) {
    const sunspec::ModelDef* def = sunspec::find_model(m.id);
    if (def == nullptr) continue;
    auto [due_it, first] = model_due.try_emplace(m.address, now);
    auto& due = due_it->second;
    if (now < due && !all_due) continue;
    // Stay on the grid of the tick (which fires on its own grid): a due time computed from "now"
    // would fall a hair after the next tick and halve the poll rate.
    const auto period = periods.of(sunspec_poll_class(m.id));
    current_period = period;
    due += period;
    if (due <= now) due = now + period;  // fell behind (slow line): no burst
    const sunspec::ReadStatus st = sunspec::read_model(reader, m, block);
    if (st.kind != sunspec::ReadStatus::Kind::kOk) {
      note_poll(false, "model " + std::to_string(m.id) + ": " + sunspec::to_string(st));
      // "Illegal data address" on a model that was there: the device changed (a firmware
      // update); rediscover. Other exceptions (busy, gateway 10/11) are transient.
      if (st.kind == sunspec::ReadStatus::Kind::kException && st.exception_code == 2) {
        chain_broken = true;
      }
      continue;
    }
    note_poll(true, "");
    // The ID register must still hold the model id; otherwise the chain moved.
    if (block.empty() || block[0] != m.id) {
      chain_broken = true;
      continue;
    }
    const std::int64_t t = unix_ms();
    const sunspec::DecodedModel dm = sunspec::decode_model(*def, block);
    const std::string prefix = std::string(def->name) + ".";
    for (const auto& dp : dm.points) {
      if (dp.def == nullptr || !publishable(dp.def->type) || dp.offset < 2) continue;
      const bool counter = is_counter_type(dp.def->type);
      const double range = counter && dp.scale_factor
                               ? std::ldexp(1.0, counter_bits(dp.def->type)) *
                                     std::pow(10.0, *dp.scale_factor)
                               : 0.0;
      if (dp.value) {
        publish(prefix + dp.path, std::string(dp.def->units), *dp.value, Quality::kGood, t, counter,
                range);
      } else {
        publish(prefix + dp.path, std::string(dp.def->units), 0.0, Quality::kMissing, t, false, 0);
      }
    }
  }
  if (chain_broken) {
    spdlog::warn("device {}: SunSpec model chain changed; discovering again", id);
    models.clear();
    model_due.clear();
    next_discovery = now;
    std::lock_guard lock(status_mu);
    status.discovered = false;
  }
}

DevicePoller::DevicePoller(Bus& bus, std::string device_id, std::uint8_t unit,
                           std::shared_ptr<const Profile> profile, ReadingSink& sink,
                           PollPeriods periods)
    : impl_(std::make_unique<Impl>(bus, std::move(device_id), unit, std::move(profile), sink,
                                   periods)) {}

DevicePoller::~DevicePoller() {
  for (const auto id : impl_->tasks) impl_->bus.cancel(id);
}

void DevicePoller::start() {
  Impl* impl = impl_.get();
  if (impl->profile == nullptr) {
    const auto tick = std::min({impl->periods.fast, impl->periods.normal, impl->periods.slow});
    impl->tasks.push_back(impl->bus.every(tick, [impl] { impl->sunspec_tick(); }));
    return;
  }
  for (const auto& [cls, plan] : impl->plans) {
    const PollClass c = cls;
    impl->tasks.push_back(impl->bus.every(impl->periods.of(c), [impl, c] { impl->poll_class(c); }));
  }
}

void DevicePoller::poll_once() {
  if (impl_->profile == nullptr) {
    impl_->sunspec_tick(/*all_due=*/true);
    return;
  }
  for (const auto& [cls, plan] : impl_->plans) impl_->poll_class(cls);
}

const std::string& DevicePoller::bus_id() const { return impl_->bus.settings().id; }

DeviceStatus DevicePoller::status() const {
  std::lock_guard lock(impl_->status_mu);
  return impl_->status;
}

}  // namespace gridlet::adapters::modbus
