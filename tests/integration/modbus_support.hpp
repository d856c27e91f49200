// Test support for tests that drive the Modbus adapter directly: a sink that collects readings and
// control events, the SDM630 profile, bus settings for a local devsim, and one-request helpers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/device.hpp"
#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "adapters/modbus/profile.hpp"

namespace gridlet::testing::modbus {

using namespace gridlet::adapters;
using namespace gridlet::adapters::modbus;
using namespace std::chrono_literals;

inline constexpr std::uint16_t kFaultMode = 64000;
inline constexpr std::uint16_t kFaultArg = 64001;
inline constexpr std::uint16_t kFaultScaleFactor = 64003;

// Collects what the pollers publish, as the daemon's point store would.
class CollectingSink final : public ReadingSink, public ControlSink {
 public:
  void on_control(const ControlEvent& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::vector<ControlEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  int events_of(ControlAction a, ControlOutcome o) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& e : events_) n += e.action == a && e.outcome == o ? 1 : 0;
    return n;
  }
  void publish(Reading r) override {
    std::lock_guard lock(mu_);
    latest_[r.device + "/" + r.point] = r;
    ++count_[r.device + "/" + r.point + "/" + std::string(to_string(r.quality))];
  }
  std::optional<Reading> latest(const std::string& device, const std::string& point) const {
    std::lock_guard lock(mu_);
    auto it = latest_.find(device + "/" + point);
    return it == latest_.end() ? std::nullopt : std::optional<Reading>(it->second);
  }
  int count(const std::string& device, const std::string& point, Quality q) const {
    std::lock_guard lock(mu_);
    auto it = count_.find(device + "/" + point + "/" + std::string(to_string(q)));
    return it == count_.end() ? 0 : it->second;
  }
  bool good(const std::string& device, const std::string& point) const {
    auto r = latest(device, point);
    return r && r->quality == Quality::kGood;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Reading> latest_;
  std::map<std::string, int> count_;
  std::vector<ControlEvent> events_;
};

inline std::shared_ptr<const Profile> sdm630() {
  auto r = load_profile_file(std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs/profiles/sdm630.toml");
  EXPECT_TRUE(r.profile) << (r.errors.empty() ? "" : r.errors.front().format());
  return r.profile ? std::make_shared<const Profile>(std::move(*r.profile)) : nullptr;
}

inline BusSettings tcp_bus(int port) {
  BusSettings s;
  s.id = "lan";
  s.host = "127.0.0.1";
  s.port = static_cast<std::uint16_t>(port);
  s.timeout = 300ms;
  s.timeout_ceiling = 600ms;
  return s;
}

inline PollPeriods quick() { return PollPeriods{200ms, 500ms, 2000ms}; }

// Submits one request through the bus's queue (as the daemon would) and waits for its answer.
inline Response submit_and_wait(Bus& bus, Request r) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Response> out;
  bus.submit(std::move(r), [&](const Response& resp) {
    std::lock_guard lock(mu);
    out = resp;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait_for(lock, 10s, [&] { return out.has_value(); });
  return out.value_or(Response{Outcome::kRefused, 0, {}, {}, 0});
}

inline Response write_now(Bus& bus, std::uint8_t unit, std::uint16_t address, std::uint16_t value) {
  Request r;
  r.op = Request::Op::kWriteRegisters;
  r.unit = unit;
  r.address = address;
  r.values = {value};
  return submit_and_wait(bus, std::move(r));
}

inline Response read_now(Bus& bus, std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  Request r;
  r.unit = unit;
  r.address = address;
  r.count = count;
  return submit_and_wait(bus, std::move(r));
}

}  // namespace gridlet::testing::modbus
