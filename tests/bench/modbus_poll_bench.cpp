// Polling cost: the gateway's pollers against a plain libmodbus loop that sends the same requests
// to the same simulator (devsim, a separate process on 127.0.0.1), in one run.
//
// Both run on the benchmark's thread (the gateway's bus without a worker, driven by poll_once()),
// so the CPU time Google Benchmark reports is all of each side's work: the raw loop only moves
// registers; the gateway also decodes every point, applies scale factors, checks ranges and
// counters and publishes a Reading. Target (issue 3): gateway CPU per register <= 1.15x raw, and
// as many requests as the raw loop (which sends the planned, minimal set).
#ifdef DEVSIM_PATH
#include <modbus/modbus.h>
#include <sys/resource.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <regex>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "adapters/modbus/profile.hpp"
#include "adapters/modbus/read_plan.hpp"
#include "adapters/modbus/sunspec_discovery.hpp"
#include "adapters/modbus/unit_register_reader.hpp"
#include "tests/integration/test_support.hpp"

namespace {

namespace mb = gridlet::adapters::modbus;
namespace ss = gridlet::adapters::sunspec;

// One simulator for the whole run: a SunSpec inverter (unit 1) and an SDM630 (unit 4).
struct Simulator {
  Simulator()
      : proc({DEVSIM_PATH, "--tcp", "127.0.0.1:0", "--device", "1=inverter", "--device", "4=sdm630",
              "--start-hour", "12"}) {
    auto m = proc.wait_for_log(std::regex(R"(listening tcp 127\.0\.0\.1:(\d+))"));
    if (m) port = std::stoi((*m)[1]);
  }
  ~Simulator() { proc.signal(SIGTERM); }
  gridlet::testing::ChildProcess proc;
  int port = 0;
};

Simulator& sim() {
  static Simulator s;
  return s;
}

std::shared_ptr<const mb::Profile> sdm630() {
  auto r = mb::load_profile_file(std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs/profiles/sdm630.toml");
  return r.profile ? std::make_shared<const mb::Profile>(std::move(*r.profile)) : nullptr;
}

class CountingSink final : public gridlet::adapters::ReadingSink {
 public:
  void publish(gridlet::adapters::Reading r) override {
    benchmark::DoNotOptimize(r.value);
    ++readings;
  }
  std::uint64_t readings = 0;
};

mb::BusSettings bus_settings() {
  mb::BusSettings s;
  s.id = "bench";
  s.host = "127.0.0.1";
  s.port = static_cast<std::uint16_t>(sim().port);
  return s;
}

struct RawRequest {
  int unit;
  mb::Table table;
  int address;
  int count;
};

// The requests the gateway sends per poll of both devices: every SunSpec model of the inverter
// (in pieces of at most 125 registers) and the SDM630 profile's planned reads.
// User-mode CPU time of this process so far (getrusage; the simulator, a child, is not in it).
// The benchmarks report it next to the total CPU time: the kernel's share (sockets, wake-ups)
// is the same for both sides and varies a lot from run to run on a VM; the user share is what
// the gateway's own code adds.
double user_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
}

std::vector<RawRequest> planned_requests() {
  std::vector<RawRequest> out;
  mb::Bus bus(bus_settings(), /*start_worker=*/false);
  mb::UnitRegisterReader reader(bus, 1);
  for (const auto& m : ss::discover(reader).models) {
    if (ss::find_model(m.id) == nullptr) continue;
    for (int done = 0; done < m.length + 2; done += 125) {
      out.push_back({1, mb::Table::kHolding, m.address + done, std::min(125, m.length + 2 - done)});
    }
  }
  const auto profile = sdm630();
  std::map<mb::PollClass, std::vector<mb::PointSpan>> by_class;
  for (const auto& p : profile->points) by_class[p.poll].push_back(p.span());
  for (const auto& [cls, spans] : by_class) {
    for (const auto& rr : mb::plan_reads(spans, profile->plan_options()).requests) {
      out.push_back({4, rr.table, rr.start, rr.count});
    }
  }
  return out;
}

void BM_RawLibmodbusLoop(benchmark::State& state) {
  if (sim().port == 0) return state.SkipWithError("devsim did not start");
  const auto requests = planned_requests();
  modbus_t* ctx = modbus_new_tcp_pi("127.0.0.1", std::to_string(sim().port).c_str());
  if (ctx == nullptr || modbus_connect(ctx) != 0) return state.SkipWithError("connect failed");
  std::vector<std::uint16_t> regs(125);
  std::int64_t registers = 0;
  const double user_before = user_cpu_seconds();
  for (auto _ : state) {
    for (const auto& r : requests) {
      modbus_set_slave(ctx, r.unit);
      const int rc = r.table == mb::Table::kInput
                         ? modbus_read_input_registers(ctx, r.address, r.count, regs.data())
                         : modbus_read_registers(ctx, r.address, r.count, regs.data());
      if (rc != r.count) {
        state.SkipWithError("read failed");
        break;
      }
      benchmark::DoNotOptimize(regs.data());
      registers += r.count;
    }
  }
  const double user = user_cpu_seconds() - user_before;
  modbus_close(ctx);
  modbus_free(ctx);
  state.SetItemsProcessed(registers);
  state.counters["user_ns_per_register"] =
      registers ? user * 1e9 / static_cast<double>(registers) : 0.0;
  state.counters["requests_per_poll"] = static_cast<double>(requests.size());
  state.counters["cpu_ns_per_register"] = benchmark::Counter(
      static_cast<double>(registers), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RawLibmodbusLoop)->Unit(benchmark::kMillisecond);

void BM_GatewayPoll(benchmark::State& state) {
  if (sim().port == 0) return state.SkipWithError("devsim did not start");
  mb::Bus bus(bus_settings(), /*start_worker=*/false);
  CountingSink sink;
  mb::DevicePoller inverter(bus, "pv", 1, nullptr, sink);
  mb::DevicePoller meter(bus, "sdm", 4, sdm630(), sink);
  inverter.poll_once();  // discovery happens here, outside the timed loop
  const auto requests_before = bus.health().requests;
  std::int64_t registers = 0;
  const auto regs_per_poll = [] {
    std::int64_t n = 0;
    for (const auto& r : planned_requests()) n += r.count;
    return n;
  }();
  std::uint64_t polls = 0;
  const double user_before = user_cpu_seconds();
  for (auto _ : state) {
    inverter.poll_once();
    meter.poll_once();
    registers += regs_per_poll;
    ++polls;
  }
  const double user = user_cpu_seconds() - user_before;
  const auto h = bus.health();
  state.SetItemsProcessed(registers);
  state.counters["user_ns_per_register"] =
      registers ? user * 1e9 / static_cast<double>(registers) : 0.0;
  state.counters["requests_per_poll"] =
      polls ? static_cast<double>(h.requests - requests_before) / static_cast<double>(polls) : 0;
  state.counters["readings_per_poll"] = polls ? static_cast<double>(sink.readings) / static_cast<double>(polls + 1) : 0;
  state.counters["cpu_ns_per_register"] = benchmark::Counter(
      static_cast<double>(registers), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (!h.errors.empty()) state.SkipWithError("the gateway saw errors");
}
BENCHMARK(BM_GatewayPoll)->Unit(benchmark::kMillisecond);

}  // namespace
#endif  // DEVSIM_PATH
