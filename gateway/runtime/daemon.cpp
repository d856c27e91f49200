#include "gateway/runtime/daemon.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <prometheus/registry.h>
#include <thread>

#include "adapters/modbus/bus.hpp"
#include "adapters/modbus/device_poller.hpp"
#include "adapters/modbus/profile.hpp"
#include "gateway/api/auth.hpp"
#include "gateway/api/device_service.hpp"
#include "gateway/api/server.hpp"
#include "adapters/clock.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/runtime/scheduler.hpp"
#include "gateway/store/event_log.hpp"
#include "gateway/store/telemetry_store.hpp"

#ifndef GRIDLET_VERSION
#define GRIDLET_VERSION "0.0.0"
#endif

namespace gridlet::runtime {
namespace {

namespace asio = boost::asio;
using adapters::MonotonicClock;
using adapters::SystemClock;
using namespace std::chrono_literals;

// How long SIGTERM may take before the loop is abandoned (systemd's TimeoutStopSec is larger).
constexpr auto kShutdownDeadline = 5s;
// How often good values are checked against their maximum age.
constexpr auto kStaleCheckPeriod = 5s;
// How often the device registry takes the buses' view of which units answer.
constexpr auto kDeviceStatePeriod = 1s;
// At shutdown, held setpoints are released to their fail-safe within this time.
constexpr auto kReleaseDeadline = 3s;
// At shutdown, bus threads must have stopped this long after the signal; one still stuck in an
// exchange (a serial line waiting out its timeout) is abandoned.
constexpr auto kBusStopDeadline = 4s;
constexpr std::chrono::milliseconds kBusStopGrace{200};
// Rows kept in each of the event and audit logs (the oldest go first).
constexpr std::size_t kEventLogRows = 1'000'000;

// Arms one steady_timer for the scheduler's next due task. The scheduler runs on a
// MonotonicClock, so next_due - now is a true delay even when the wall clock is stepped.
class LoopTimer {
 public:
  LoopTimer(asio::io_context& ioc, Scheduler& scheduler) : timer_(ioc), scheduler_(scheduler) {}

  void rearm(const Clock& clock) {
    auto next = scheduler_.next_due();
    if (!next) return;
    const auto delay = std::max(std::chrono::nanoseconds(0),
                                std::chrono::duration_cast<std::chrono::nanoseconds>(*next - clock.now()));
    timer_.expires_after(delay);
    timer_.async_wait([this, &clock](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled at shutdown
      scheduler_.run_due();
      rearm(clock);
    });
  }
  void cancel() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
  Scheduler& scheduler_;
};

void apply_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

// Delivers adapter readings onto the event loop, where the point store and registry live.
class LoopSink final : public adapters::ReadingSink {
 public:
  LoopSink(asio::io_context& ioc, PointStore& points) : ioc_(ioc), points_(points) {}
  void publish(adapters::Reading r) override {
    asio::post(ioc_, [this, r = std::move(r)] { points_.update(r); });
  }

 private:
  asio::io_context& ioc_;
  PointStore& points_;
};

// Every write to a device goes to the audit log; alarms (and notable successes) to the event log.
// Called on bus threads; only enqueues.
class AuditSink final : public adapters::ControlSink {
 public:
  explicit AuditSink(store::EventLog& log) : log_(log) {}
  void on_control(const adapters::ControlEvent& ev) override {
    using adapters::ControlAction;
    store::AuditRecord a;
    a.timestamp_ms = ev.timestamp_ms;
    a.device = ev.device;
    a.point = ev.point;
    a.action = std::string(adapters::to_string(ev.action));
    a.value = ev.value;
    a.readback = ev.readback;
    a.outcome = std::string(adapters::to_string(ev.outcome));
    a.actor = ev.actor;
    a.reason = ev.reason;
    a.detail = ev.detail;
    std::optional<store::EventRecord> e;
    const bool notable = ev.action == ControlAction::kSet || ev.action == ControlAction::kRelease ||
                         ev.action == ControlAction::kHeartbeat;
    if (ev.alarm() || notable) {
      e = store::EventRecord{};
      e->timestamp_ms = ev.timestamp_ms;
      e->severity = ev.alarm() ? "alarm" : "info";
      e->kind = ev.action == ControlAction::kHeartbeat ? "heartbeat" : "setpoint";
      e->device = ev.device;
      e->point = ev.point;
      e->message = fmt::format("{} {}{}: {}{}{}", adapters::to_string(ev.action), ev.point,
                               ev.value ? fmt::format(" = {}", *ev.value) : std::string(),
                               adapters::to_string(ev.outcome), ev.detail.empty() ? "" : ": ", ev.detail);
    }
    log_.append(std::move(a), std::move(e));
  }

 private:
  store::EventLog& log_;
};

// The Modbus side of the daemon: one Bus (worker thread) per [[buses]] entry, one poller per
// enabled device. Destroying it stops every bus, then the pollers go, then the buses (members
// are destroyed in reverse order: a poller needs its bus until it is gone).
struct ModbusFleet final : api::DeviceService {
  std::vector<std::unique_ptr<adapters::modbus::Bus>> buses_;
  std::vector<std::unique_ptr<adapters::modbus::DevicePoller>> pollers;
  std::map<std::string, adapters::modbus::DevicePoller*> by_id;
  std::vector<std::future<void>> releases;  // begin_shutdown()'s
  ~ModbusFleet() {
    for (auto& b : buses_) b->request_stop();  // all at once: shutdown waits for the slowest only
    for (auto& b : buses_) b->stop();
  }

  // Shutdown, first step (on the loop, at the signal): every bus stops polling and interrupts the
  // request on its line, and every held setpoint is released to its fail-safe, all buses at once.
  void begin_shutdown() {
    for (auto& b : buses_) b->drain();
    for (auto& p : pollers) releases.push_back(p->release_all("the gateway is stopping"));
  }
  // Second step: waits for the releases until `release_until`, then for the bus threads until
  // `stop_until`. False when a bus thread is still stuck in an exchange (a serial line waiting out
  // its timeout): it was abandoned, and this fleet must not be destroyed.
  bool finish_shutdown(std::chrono::steady_clock::time_point release_until,
                       std::chrono::steady_clock::time_point stop_until) {
    for (auto& f : releases) {
      if (f.wait_until(release_until) != std::future_status::ready) {
        spdlog::warn("shutdown: setpoints not all released in time; the devices' revert timers will");
        break;
      }
    }
    for (auto& b : buses_) b->request_stop();
    bool stopped = true;
    for (auto& b : buses_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          stop_until - std::chrono::steady_clock::now());
      // An idle bus stops at once; even past the deadline each gets a moment before it counts
      // as stuck.
      stopped = b->stop(std::max(left, kBusStopGrace)) && stopped;
    }
    return stopped;
  }

  // Online means the device's unit answered its last request (the bus's view, which also knows
  // about units backing off); called on the loop.
  void update_registry(DeviceRegistry& registry) const {
    for (const auto& bus : buses_) {
      const auto h = bus->health();
      for (const auto& p : pollers) {
        if (p->bus_id() != h.id) continue;
        const auto st = p->status();
        registry.set_errors(st.id, st.poll_failures, st.last_error);
        auto it = h.units.find(st.unit);
        if (it == h.units.end()) continue;
        if (it->second.online) {
          registry.mark_online(st.id, it->second.last_ok_ms);
        } else if (it->second.requests > 0) {
          registry.mark_offline(st.id, st.last_error.empty() ? "not answering" : st.last_error);
        }
      }
    }
  }

  adapters::modbus::DevicePoller* find(const std::string& id) const {
    const auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  }

  // ---- api::DeviceService: typed answers, turned into JSON by the API's views.
  std::vector<api::DeviceService::Bus> buses() const override {
    std::vector<api::DeviceService::Bus> out;
    for (const auto& bus : buses_) {
      api::DeviceService::Bus b;
      b.settings = bus->settings();
      b.health = bus->health();
      for (const auto& p : pollers) {
        if (p->bus_id() == b.settings.id) b.devices.push_back(p->status());
      }
      out.push_back(std::move(b));
    }
    return out;
  }
  std::optional<Controls> controls(const std::string& id) const override {
    const auto* p = find(id);
    if (p == nullptr) return std::nullopt;
    return Controls{p->controls(), p->setpoints()};
  }
  bool set(const std::string& id, adapters::SetpointCommand cmd, ControlDone done) override {
    auto* p = find(id);
    if (p == nullptr) return false;
    p->set(std::move(cmd), std::move(done));
    return true;
  }
  bool release(const std::string& id, const std::string& point, const std::string& actor,
               const std::string& reason, ControlDone done) override {
    auto* p = find(id);
    if (p == nullptr) return false;
    p->release(point, actor, reason, std::move(done));
    return true;
  }
};

// Builds buses and pollers; an error message when a profile cannot be loaded.
std::string start_modbus(const config::Config& cfg, adapters::ReadingSink& sink,
                         adapters::ControlSink& control_sink, ModbusFleet& fleet) {
  namespace mb = adapters::modbus;
  for (const auto& bc : cfg.buses) {
    mb::BusSettings s;
    s.id = bc.id;
    s.rtu = bc.type == config::BusType::kRtu;
    s.host = bc.host;
    s.port = bc.port;
    s.device = bc.device;
    s.baud = bc.baud;
    s.parity = bc.parity;
    s.data_bits = bc.data_bits;
    s.stop_bits = bc.stop_bits;
    s.frame_gap = bc.frame_gap;
    // buses.timeout is the most a request may wait; measured latency may bring it down to 100 ms.
    s.timeout = bc.timeout;
    s.timeout_ceiling = bc.timeout;
    s.timeout_floor = std::min(s.timeout_floor, bc.timeout);
    s.probe_timeout = bc.probe_timeout;
    s.backoff_initial = bc.backoff_initial;
    s.backoff_max = bc.backoff_max;
    fleet.buses_.push_back(std::make_unique<mb::Bus>(s));
    mb::Bus* bus = fleet.buses_.back().get();
    for (const auto& dc : cfg.devices) {
      if (dc.bus != bc.id || !dc.enabled) continue;
      std::shared_ptr<const mb::Profile> profile;
      if (!dc.profile_path.empty()) {
        const auto it = cfg.profiles.find(dc.profile_path);
        if (it == cfg.profiles.end()) return "profile " + dc.profile_path.string() + " was not loaded";
        profile = it->second;
      }
      fleet.pollers.push_back(std::make_unique<mb::DevicePoller>(
          *bus, dc.id, static_cast<std::uint8_t>(dc.unit_id), profile, sink));
      mb::ControlSettings cs;
      cs.revert = std::chrono::duration_cast<std::chrono::seconds>(dc.setpoint_revert);
      cs.heartbeat = dc.heartbeat;
      cs.failsafe = dc.failsafe;
      fleet.pollers.back()->set_control(&control_sink, std::move(cs));
      fleet.pollers.back()->start();
      fleet.by_id[dc.id] = fleet.pollers.back().get();
    }
    spdlog::info("bus {}: {} ({})", bc.id, s.rtu ? s.device : s.host + ":" + std::to_string(s.port),
                 s.rtu ? "rtu" : "tcp");
  }
  return "";
}

bool ensure_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    spdlog::critical("cannot create data directory {}: {}", dir.string(), ec.message());
    return false;
  }
  ::chmod(dir.c_str(), 0750);  // best effort: telemetry is not for every local user
  return true;
}

std::unique_ptr<api::TokenStore> load_tokens(const config::Config& cfg) {
  std::string error;
  auto tokens = api::TokenStore::load(cfg.tokens_path(), &error);
  if (!tokens) spdlog::critical("tokens file {}: {}", cfg.tokens_path().string(), error);
  return tokens;
}

// The tokens of a reload; a file that cannot be used gives a store that refuses every token.
std::unique_ptr<api::TokenStore> reload_tokens(const std::filesystem::path& path) {
  std::string error;
  auto tokens = api::TokenStore::load(path, &error);
  if (tokens) return tokens;
  spdlog::error("reload: tokens file {}: {}; every token is refused until it is fixed and "
                "gatewayd is reloaded", path.string(), error);
  return api::TokenStore::refusing_all(error);
}

}  // namespace

std::string apply_overrides(const DaemonOptions& options, config::Config& cfg) {
  if (options.data_dir) cfg.storage.data_dir = *options.data_dir;
  if (options.api_listen &&
      !config::parse_listen(*options.api_listen, cfg.api.listen_host, cfg.api.listen_port)) {
    return "--api-listen must be HOST:PORT, e.g. 127.0.0.1:8080";
  }
  return "";
}

int run_daemon(const DaemonOptions& options) {
  auto loaded = config::load_config_file(options.config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) spdlog::critical("{}", e.format());
    return kExitConfig;
  }
  config::Config cfg = std::move(*loaded.config);
  if (auto err = apply_overrides(options, cfg); !err.empty()) {
    spdlog::critical("{}", err);
    return kExitConfig;
  }
  apply_log_level(cfg.log.level);
  spdlog::info("gatewayd {} starting, site \"{}\", config {}", GRIDLET_VERSION, cfg.site.id,
               options.config_path.string());

  if (!ensure_data_dir(cfg.storage.data_dir)) return kExitStartup;

  SystemClock clock;          // timestamps of readings and API answers
  MonotonicClock loop_clock;  // the scheduler's: never steps backwards
  prometheus::Registry metrics;

  store::StoreOptions so;
  so.path = cfg.storage.data_dir / "telemetry.db";
  so.commit_interval = cfg.storage.commit_interval;
  so.max_batch_samples = cfg.storage.max_batch_samples;
  so.queue_limit_samples = cfg.storage.queue_limit_samples;
  so.raw_retention = cfg.storage.raw_retention;
  so.rollup_1m_retention = cfg.storage.rollup_1m_retention;
  so.rollup_15m_retention = cfg.storage.rollup_15m_retention;
  so.disk_budget_bytes = cfg.storage.disk_budget_bytes;
  store::OpenError open_error;
  auto telemetry = store::TelemetryStore::open(so, &open_error);
  if (!telemetry) {
    spdlog::critical("telemetry store: {}", open_error.message);
    return kExitStartup;
  }

  auto event_log = store::EventLog::open(*telemetry, kEventLogRows, &open_error);
  if (!event_log) {
    spdlog::critical("event log: {}", open_error.message);
    return kExitStartup;
  }

  auto tokens = load_tokens(cfg);
  if (!tokens) return kExitStartup;

  asio::io_context ioc{1};
  // Blocking work that must not run on the loop (file reads on reload).
  // Joined before the store is closed.
  auto blocking = std::make_unique<asio::thread_pool>(1);
  Scheduler scheduler(loop_clock);
  LoopTimer loop_timer(ioc, scheduler);
  DeviceRegistry devices;
  devices.load(cfg.devices);
  PointStore points(clock);
  // Every good adapter reading becomes a telemetry sample, enqueued at once (memory only); the
  // store's writer registers a new series in the same transaction as its first sample.
  points.add_listener([&](const adapters::Reading& r) {
    if (r.quality != adapters::Quality::kGood) return;
    if (const auto id = telemetry->cached_series(r.device, r.point, r.unit); id != 0) {
      const store::Sample s{id, r.timestamp_ms, r.value};
      telemetry->append(std::span(&s, 1));
      return;
    }
    const store::NamedSample s{r.device, r.point, r.unit, r.timestamp_ms, r.value};
    telemetry->append(std::span(&s, 1));
  });

  LoopSink sink(ioc, points);
  AuditSink audit_sink(*event_log);
  auto fleet = std::make_unique<ModbusFleet>();
  if (auto err = start_modbus(cfg, sink, audit_sink, *fleet); !err.empty()) {
    spdlog::critical("{}", err);
    return kExitConfig;
  }

  api::ApiContext ctx;
  ctx.device_service = fleet.get();
  ctx.events = event_log.get();
  ctx.config = &cfg;
  ctx.clock = &clock;
  ctx.devices = &devices;
  ctx.points = &points;
  ctx.store = telemetry.get();
  ctx.tokens = tokens.get();
  ctx.metrics = &metrics;
  ctx.version = GRIDLET_VERSION;
  ctx.started_ms = clock.now_ms();
  auto server = std::make_unique<api::ApiServer>(ioc, ctx);
  if (auto err = server->start(cfg.api.listen_host, cfg.api.listen_port); !err.empty()) {
    spdlog::critical("API cannot listen on {}:{}: {}", cfg.api.listen_host, cfg.api.listen_port, err);
    return kExitStartup;
  }
  spdlog::info("API listening on {}:{}", cfg.api.listen_host, server->port());

  scheduler.every(kStaleCheckPeriod, [&] { points.mark_stale(); }, "mark-stale");
  scheduler.every(kDeviceStatePeriod, [&] { fleet->update_registry(devices); }, "device-state");


  // The watchdog is fed from the loop itself, so a stuck loop stops feeding it and systemd
  // restarts the daemon.
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    const auto period = std::max(std::chrono::milliseconds(1),
                                 std::chrono::milliseconds(watchdog_usec / 1000 / 2));
    scheduler.every(period, [] { sd_notify(0, "WATCHDOG=1"); }, "watchdog");
    spdlog::info("systemd watchdog every {} ms", period.count());
  }
  loop_timer.rearm(loop_clock);

  // Applies a configuration read off the loop. Runs on the loop.
  auto apply_reload = [&](std::shared_ptr<config::LoadResult> next,
                          std::shared_ptr<std::unique_ptr<api::TokenStore>> next_tokens) {
    // Tokens are replaced even when the configuration is refused, and a tokens file that cannot
    // be used refuses every token: a revocation must not fail open.
    server->set_tokens(next_tokens->get());
    tokens = std::move(*next_tokens);
    if (!next->config) {
      spdlog::error("reload refused, the configuration has {} error(s); still running the old one",
                    next->errors.size());
      for (const auto& e : next->errors) spdlog::error("{}", e.format());
    } else {
      config::Config& nc = *next->config;
      apply_overrides(options, nc);
      const auto plan = config::plan_reload(cfg, nc);
      if (nc.log.level != cfg.log.level) apply_log_level(nc.log.level);
      for (const auto& key : plan.applied) spdlog::info("reload: applied {}", key);
      for (const auto& key : plan.restart_required) {
        spdlog::warn("reload: {} changed; it takes effect after a restart", key);
      }
      // Keep running the old values of what needs a restart; take the rest.
      cfg.log = nc.log;
      cfg.site.name = nc.site.name;
      cfg.api.tokens_file = nc.api.tokens_file;
      spdlog::info("reload done: {} applied, {} need a restart", plan.applied.size(),
                   plan.restart_required.size());
    }
    sd_notify(0, "READY=1");
  };

  // Enforces the shutdown deadline from outside the loop: a stuck handler cannot hold it up.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool loop_done = false;
  std::thread deadline_thread;

  bool stopping = false;
  auto stop_started = std::chrono::steady_clock::now();
  asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      // Reading the files is disk I/O: do it off the loop, apply the result on the loop.
      asio::post(*blocking, [&, path = options.config_path, running_tokens = cfg.tokens_path()] {
        auto next = std::make_shared<config::LoadResult>(config::load_config_file(path));
        auto next_tokens = std::make_shared<std::unique_ptr<api::TokenStore>>();
        std::filesystem::path tokens_path = running_tokens;
        if (next->config) {
          config::Config probe = *next->config;
          apply_overrides(options, probe);
          tokens_path = probe.tokens_path();
        }
        *next_tokens = reload_tokens(tokens_path);
        asio::post(ioc, [&apply_reload, next, next_tokens] { apply_reload(next, next_tokens); });
      });
      signals.async_wait(on_signal);
      return;
    }
    if (stopping) return;
    stopping = true;
    stop_started = std::chrono::steady_clock::now();
    spdlog::info("signal {}: shutting down", sig);
    sd_notify(0, "STOPPING=1");
    deadline_thread = std::thread([&] {
      std::unique_lock lock(stop_mu);
      if (!stop_cv.wait_for(lock, kShutdownDeadline, [&] { return loop_done; })) {
        spdlog::warn("shutdown deadline reached; abandoning open work");
        ioc.stop();
      }
    });
    fleet->begin_shutdown();
    server->stop();
    loop_timer.cancel();
    signals.cancel();
  };
  signals.async_wait(on_signal);

  sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u", cfg.api.listen_host.c_str(), server->port());
  spdlog::info("ready");
  ioc.run();  // returns once the API is closed and in-flight answers are sent

  // Order matters: nothing may use the store after it closes. The API's worker (history queries,
  // ingest) and the blocking pool are joined first, then the queued samples are committed.
  // Setpoints went to their fail-safe (begin_shutdown at the signal) while the API closed; bus
  // threads stop now, and nothing publishes any more.
  if (!stopping) {
    stop_started = std::chrono::steady_clock::now();
    fleet->begin_shutdown();
  }
  const bool buses_stopped = fleet->finish_shutdown(stop_started + kReleaseDeadline, stop_started + kBusStopDeadline);
  if (!buses_stopped) {
    // A bus thread is still inside an exchange (a serial line waiting out its timeout). When it
    // returns it may report to the fleet, the event log, the API's executors and the log: none of
    // them is destroyed. What was acknowledged is committed, then the process ends here.
    blocking->join();
    {
      std::lock_guard lock(stop_mu);
      loop_done = true;
    }
    stop_cv.notify_all();
    if (deadline_thread.joinable()) deadline_thread.join();
    event_log->flush();
    telemetry->flush();
    spdlog::warn("stopped with a bus thread abandoned; {} samples committed this run",
                 telemetry->stats().samples_committed);
    spdlog::default_logger()->flush();
    (void)fleet.release();
    std::_Exit(kExitOk);
  }
  fleet.reset();
  server.reset();
  blocking->join();
  blocking.reset();
  {
    std::lock_guard lock(stop_mu);
    loop_done = true;
  }
  stop_cv.notify_all();
  if (deadline_thread.joinable()) deadline_thread.join();
  event_log.reset();  // commits the last audit rows
  telemetry->flush();
  const auto st = telemetry->stats();
  telemetry.reset();  // joins the writer
  spdlog::info("stopped; {} samples committed this run", st.samples_committed);
  return kExitOk;
}

}  // namespace gridlet::runtime
