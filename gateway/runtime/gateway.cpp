#include "gateway/runtime/gateway.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <csignal>
#include <memory>
#include <prometheus/registry.h>
#include <thread>

#include "adapters/clock.hpp"
#include "adapters/thread_safety.hpp"
#include "gateway/api/auth.hpp"
#include "gateway/api/server.hpp"
#include "gateway/runtime/audit_sink.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/gateway_devices.hpp"
#include "gateway/runtime/loop_executor.hpp"
#include "gateway/runtime/modbus_fleet.hpp"
#include "gateway/runtime/mqtt_fleet.hpp"
#include "gateway/runtime/dr_channel.hpp"
#include "gateway/runtime/energy_integrator.hpp"
#include "gateway/runtime/mqtt_control.hpp"
#include "gateway/runtime/mqtt_outbox.hpp"
#include "gateway/runtime/mqtt_publisher.hpp"
#include "gateway/runtime/point_store.hpp"
#include "gateway/runtime/scheduler.hpp"
#include "gateway/store/event_log.hpp"
#include "gateway/store/dr_events.hpp"
#include "gateway/store/outbox.hpp"
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

// How long a stop may take before the loop is abandoned (systemd's TimeoutStopSec is larger).
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
// How often MQTT devices check their confirmation deadlines, keep-alives and re-assertions.
constexpr auto kMqttTickPeriod = 1s;
// How often held MQTT values and device availability changes are published.
constexpr auto kPublishPeriod = 1s;
// At shutdown, the MQTT brokers get this long for "offline" and a clean disconnect.
constexpr std::chrono::milliseconds kMqttStopTimeout{1000};
// Rows kept in each of the event and audit logs (the oldest go first).
constexpr std::size_t kEventLogRows = 1'000'000;

// Arms one steady_timer for the scheduler's next due task. The scheduler runs on a
// MonotonicClock, so next_due - now is a true delay even when the wall clock is stepped.
class LoopTimer {
 public:
  LoopTimer(asio::io_context& ioc, Scheduler& scheduler, const Clock& clock)
      : timer_(ioc), scheduler_(scheduler), clock_(clock) {}

  void rearm() {
    const auto next = scheduler_.next_due();
    if (!next) return;
    const auto delay = std::max(std::chrono::nanoseconds(0),
                                std::chrono::duration_cast<std::chrono::nanoseconds>(*next - clock_.now()));
    timer_.expires_after(delay);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled at shutdown
      scheduler_.run_due();
      rearm();
    });
  }
  void cancel() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
  Scheduler& scheduler_;
  const Clock& clock_;
};

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

void apply_log_level(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

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

store::StoreOptions store_options(const config::Config& cfg) {
  store::StoreOptions so;
  so.path = cfg.storage.data_dir / "telemetry.db";
  so.commit_interval = cfg.storage.commit_interval;
  so.max_batch_samples = cfg.storage.max_batch_samples;
  so.queue_limit_samples = cfg.storage.queue_limit_samples;
  so.raw_retention = cfg.storage.raw_retention;
  so.rollup_1m_retention = cfg.storage.rollup_1m_retention;
  so.rollup_15m_retention = cfg.storage.rollup_15m_retention;
  so.disk_budget_bytes = cfg.storage.disk_budget_bytes;
  return so;
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

std::string apply_overrides(const GatewayOptions& options, config::Config& cfg) {
  if (options.data_dir) cfg.storage.data_dir = *options.data_dir;
  if (options.api_listen &&
      !config::parse_listen(*options.api_listen, cfg.api.listen_host, cfg.api.listen_port)) {
    return "--api-listen must be HOST:PORT, e.g. 127.0.0.1:8080";
  }
  return "";
}

// Members are in start-up order; teardown() takes them down in the order that keeps every user
// of the store ahead of the store.
struct Gateway::Impl {
  explicit Impl(GatewayOptions o) : options(std::move(o)) {}
  ~Impl() { teardown(); }

  int start();
  Stopped run();
  void wait_for_signal();
  void begin_reload();  // on the loop
  void apply_reload(const config::LoadResult& next, std::unique_ptr<api::TokenStore> next_tokens);
  void begin_stop(const char* why);  // on the loop
  Stopped finish_stop();
  void teardown();

  const GatewayOptions options;
  config::Config cfg;
  SystemClock clock;          // timestamps of readings and API answers
  MonotonicClock loop_clock;  // the scheduler's: never steps backwards
  prometheus::Registry metrics;
  std::unique_ptr<store::TelemetryStore> telemetry;
  std::unique_ptr<store::EventLog> event_log;
  std::unique_ptr<api::TokenStore> tokens;

  asio::io_context ioc{1};
  // Blocking work that must not run on the loop (file reads on reload). Joined before the store
  // is closed.
  std::unique_ptr<asio::thread_pool> blocking = std::make_unique<asio::thread_pool>(1);
  Scheduler scheduler{loop_clock};
  LoopTimer loop_timer{ioc, scheduler, loop_clock};
  DeviceRegistry devices;
  PointStore points{clock};
  EnergyIntegrator integrator;
  LoopSink sink{ioc, points};
  std::unique_ptr<AuditSink> audit_sink;
  std::unique_ptr<ModbusFleet> fleet;
  LoopExecutor executor{ioc};
  std::unique_ptr<MqttFleet> mqtt;
  std::unique_ptr<store::Outbox> outbox;          // with [mqtt] enabled
  std::unique_ptr<MqttOutbox> mqtt_outbox;        // with [mqtt] enabled
  std::unique_ptr<MqttPublisher> publisher;       // with [mqtt] enabled
  std::unique_ptr<store::DrEventStore> dr_events;  // with [mqtt] dr_events
  std::unique_ptr<DrChannel> dr_channel;          // with [mqtt] dr_events
  std::unique_ptr<MqttControl> mqtt_control;      // with [mqtt] control
  std::unique_ptr<GatewayDevices> device_service;
  api::ApiContext ctx;
  std::unique_ptr<api::ApiServer> server;
  std::unique_ptr<asio::signal_set> signals;

  // Stopping. `stopping` and `stop_started` live on the loop.
  bool stopping = false;
  std::chrono::steady_clock::time_point stop_started;
  // Enforces the stop deadline from outside the loop: a stuck handler cannot hold it up.
  std::thread deadline_thread;
  adapters::Mutex stop_mu;
  adapters::CondVar stop_cv;
  bool loop_done GUARDED_BY(stop_mu) = false;
  bool started = false;    // start() succeeded
  bool torn_down = false;
  bool abandoned = false;  // run() left a bus thread stuck: nothing may be destroyed
  std::atomic<std::uint16_t> api_port{0};
};

int Gateway::Impl::start() {
  auto loaded = config::load_config_file(options.config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) spdlog::critical("{}", e.format());
    return kExitConfig;
  }
  cfg = std::move(*loaded.config);
  if (auto err = apply_overrides(options, cfg); !err.empty()) {
    spdlog::critical("{}", err);
    return kExitConfig;
  }
  apply_log_level(cfg.log.level);
  spdlog::info("gatewayd {} starting, site \"{}\", config {}", GRIDLET_VERSION, cfg.site.id,
               options.config_path.string());
  if (!ensure_data_dir(cfg.storage.data_dir)) return kExitStartup;

  store::OpenError open_error;
  telemetry = store::TelemetryStore::open(store_options(cfg), &open_error);
  if (!telemetry) {
    spdlog::critical("telemetry store: {}", open_error.message);
    return kExitStartup;
  }
  event_log = store::EventLog::open(*telemetry, kEventLogRows, &open_error);
  if (!event_log) {
    spdlog::critical("event log: {}", open_error.message);
    return kExitStartup;
  }
  std::string token_error;
  tokens = api::TokenStore::load(cfg.tokens_path(), &token_error);
  if (!tokens) {
    spdlog::critical("tokens file {}: {}", cfg.tokens_path().string(), token_error);
    return kExitStartup;
  }

  devices.load(cfg.devices);
  // Every good adapter reading becomes a telemetry sample, enqueued at once (memory only); the
  // store's writer registers a new series in the same transaction as its first sample.
  points.add_listener([store = telemetry.get()](const adapters::Reading& r) {
    if (r.quality != adapters::Quality::kGood) return;
    if (const auto id = store->cached_series(r.device, r.point, r.unit); id != 0) {
      const store::Sample s{id, r.timestamp_ms, r.value};
      store->append(std::span(&s, 1));
      return;
    }
    const store::NamedSample s{r.device, r.point, r.unit, r.timestamp_ms, r.value};
    store->append(std::span(&s, 1));
  });

  if (cfg.mqtt.enabled) {
    outbox = store::Outbox::open(*telemetry, cfg.mqtt.outbox_bytes, &open_error);
    if (!outbox) {
      spdlog::critical("{}", open_error.message);
      return kExitStartup;
    }
  }
  // Event records are also published on MQTT (from the loop; bus threads report them).
  // Batteries' charge and discharge energy, integrated from their power (energy_integrator.hpp).
  for (const auto& d : cfg.devices) {
    if (d.enabled && d.kind == adapters::DeviceKind::kBattery) integrator.watch(d.id);
  }
  points.add_listener([this](const adapters::Reading& r) {
    for (auto& c : integrator.offer(r)) {
      asio::post(ioc, [this, c = std::move(c)] { points.update(c); });  // not inside the listener
    }
  });

  audit_sink = std::make_unique<AuditSink>(*event_log, [this, publish = cfg.mqtt.enabled](const store::EventRecord& e) {
    if (!publish) return;
    asio::post(ioc, [this, e] {
      if (publisher) publisher->publish_event(e);
    });
  });
  fleet = std::make_unique<ModbusFleet>();
  if (auto err = fleet->start(cfg, sink, *audit_sink); !err.empty()) {
    spdlog::critical("{}", err);
    return kExitConfig;
  }
  mqtt = std::make_unique<MqttFleet>();
  MqttFleet::Parts mqtt_parts{executor, sink, *audit_sink, clock, loop_clock,
                              [this](const std::string& bus) {
                                if (publisher && bus == cfg.mqtt.bus) publisher->on_connected();
                              },
                              [this](const std::string& bus) {
                                if (mqtt_outbox && bus == cfg.mqtt.bus) mqtt_outbox->on_disconnected();
                              }};
  if (cfg.mqtt.enabled && cfg.mqtt.dr_events) {
    mqtt->subscribe(cfg.mqtt.bus, cfg.mqtt.topic_prefix + "/" + cfg.site.id + "/dr/events", 1,
                    [this](const adapters::mqtt::Message& m) {
                      if (dr_channel) dr_channel->on_message(m);
                    });
  }
  if (cfg.mqtt.enabled && cfg.mqtt.discovery) {
    mqtt->subscribe(cfg.mqtt.bus, cfg.mqtt.discovery_prefix + "/+/+/+/config", 0,
                    [this](const adapters::mqtt::Message& m) {
                      if (publisher) publisher->on_discovery_document(m);
                    });
  }
  if (cfg.mqtt.enabled && cfg.mqtt.control) {
    mqtt->subscribe(cfg.mqtt.bus, cfg.mqtt.topic_prefix + "/" + cfg.site.id + "/+/+/set", 1,
                    [this](const adapters::mqtt::Message& m) {
                      if (mqtt_control) mqtt_control->on_message(m);
                    });
  }
  if (auto err = mqtt->start(cfg, mqtt_parts); !err.empty()) {
    spdlog::critical("{}", err);
    return kExitStartup;
  }
  device_service = std::make_unique<GatewayDevices>(*fleet, *mqtt);
  scheduler.every(kMqttTickPeriod, [this] { mqtt->tick(); }, "mqtt-devices");
  if (cfg.mqtt.enabled) {
    mqtt_outbox = std::make_unique<MqttOutbox>(*outbox, *mqtt->client(cfg.mqtt.bus), clock);
    publisher = std::make_unique<MqttPublisher>(cfg, *mqtt->client(cfg.mqtt.bus), clock, points, devices,
                                                *mqtt_outbox, *device_service);
    if (cfg.mqtt.control) mqtt_control = std::make_unique<MqttControl>(cfg, *device_service, clock);
    points.add_change_listener([this](const adapters::Reading& r) { publisher->offer(r); });
    if (cfg.mqtt.dr_events) {
      dr_events = std::make_unique<store::DrEventStore>(*telemetry);
      dr_channel = std::make_unique<DrChannel>(cfg, *dr_events, *event_log, *mqtt_outbox, executor, clock);
    }
    scheduler.every(kPublishPeriod, [this] { publisher->tick(); }, "mqtt-publish");
  }

  ctx.device_service = device_service.get();
  ctx.mqtt_stats = [this] {
    api::MqttStats st;
    for (auto& [id, stats] : mqtt->client_stats()) st.buses.push_back({id, std::move(stats)});
    st.devices = mqtt->statuses();
    if (outbox) st.outbox = outbox->stats();
    if (mqtt_control) {
      const auto c = mqtt_control->stats();
      st.control = api::MqttStats::Control{c.received, c.rejected, c.applied, c.not_applied};
    }
    if (dr_channel) {
      const auto& dr = dr_channel->stats();
      st.dr = api::MqttStats::DrChannel{dr.received, dr.accepted, dr.rejected};
    }
    return st;
  };
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
  server = std::make_unique<api::ApiServer>(ioc, ctx);
  if (auto err = server->start(cfg.api.listen_host, cfg.api.listen_port); !err.empty()) {
    spdlog::critical("API cannot listen on {}:{}: {}", cfg.api.listen_host, cfg.api.listen_port, err);
    return kExitStartup;
  }
  api_port = server->port();
  spdlog::info("API listening on {}:{}", cfg.api.listen_host, server->port());

  scheduler.every(kStaleCheckPeriod, [this] { points.mark_stale(); }, "mark-stale");
  scheduler.every(kDeviceStatePeriod, [this] {
    fleet->update_registry(devices);
    mqtt->update_registry(devices);
  }, "device-state");
  // The watchdog is fed from the loop itself, so a stuck loop stops feeding it and systemd
  // restarts the daemon.
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    const auto period = std::max(std::chrono::milliseconds(1),
                                 std::chrono::milliseconds(watchdog_usec / 1000 / 2));
    scheduler.every(period, [] { sd_notify(0, "WATCHDOG=1"); }, "watchdog");
    spdlog::info("systemd watchdog every {} ms", period.count());
  }
  loop_timer.rearm();

  if (options.handle_signals) {
    signals = std::make_unique<asio::signal_set>(ioc, SIGINT, SIGTERM, SIGHUP);
    wait_for_signal();
  }
  started = true;
  return kExitOk;
}

void Gateway::Impl::wait_for_signal() {
  signals->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;  // cancelled at stop
    if (sig == SIGHUP) {
      begin_reload();
      wait_for_signal();
      return;
    }
    begin_stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
  });
}

void Gateway::Impl::begin_reload() {
  if (stopping) return;
  sd_notify(0, "RELOADING=1");
  // Reading the files is disk I/O: do it off the loop, apply the result on the loop.
  asio::post(*blocking, [this, running_tokens = cfg.tokens_path()] {
    auto next = std::make_shared<config::LoadResult>(config::load_config_file(options.config_path));
    std::filesystem::path tokens_path = running_tokens;
    if (next->config) {
      config::Config probe = *next->config;
      apply_overrides(options, probe);
      tokens_path = probe.tokens_path();
    }
    auto next_tokens = std::make_shared<std::unique_ptr<api::TokenStore>>(reload_tokens(tokens_path));
    asio::post(ioc, [this, next, next_tokens] { apply_reload(*next, std::move(*next_tokens)); });
  });
}

void Gateway::Impl::apply_reload(const config::LoadResult& next, std::unique_ptr<api::TokenStore> next_tokens) {
  if (stopping) return;
  // Tokens are replaced even when the configuration is refused, and a tokens file that cannot be
  // used refuses every token: a revocation must not fail open.
  server->set_tokens(next_tokens.get());
  tokens = std::move(next_tokens);
  if (!next.config) {
    spdlog::error("reload refused, the configuration has {} error(s); still running the old one",
                  next.errors.size());
    for (const auto& e : next.errors) spdlog::error("{}", e.format());
  } else {
    config::Config nc = *next.config;
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
}

void Gateway::Impl::begin_stop(const char* why) {
  if (stopping) return;
  stopping = true;
  stop_started = std::chrono::steady_clock::now();
  spdlog::info("{}: shutting down", why);
  sd_notify(0, "STOPPING=1");
  deadline_thread = std::thread([this] {
    adapters::MutexLock lock(stop_mu);
    const auto until = std::chrono::steady_clock::now() + kShutdownDeadline;
    while (!loop_done) {
      if (stop_cv.wait_until(lock, until) == std::cv_status::timeout && !loop_done) {
        spdlog::warn("shutdown deadline reached; abandoning open work");
        ioc.stop();
        break;
      }
    }
  });
  fleet->begin_shutdown();
  mqtt->release_all("the gateway is stopping");
  telemetry->stop_maintenance();  // a long retention pass must not hold up the final commit
  server->stop();
  loop_timer.cancel();
  if (signals) signals->cancel();
}

Gateway::Stopped Gateway::Impl::run() {
  if (!started) return Stopped::kClean;  // start() failed: nothing runs
  sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u", cfg.api.listen_host.c_str(), server->port());
  spdlog::info("ready");
  ioc.run();  // returns once the API is closed and in-flight answers are sent
  return finish_stop();
}

// After the loop: nothing may use the store after it closes. Setpoints went to their fail-safe
// (begin_shutdown at the stop) while the API closed; bus threads stop now, and nothing publishes
// any more. Then the API's workers and the blocking pool are joined, and the queued samples and
// log rows are committed.
Gateway::Stopped Gateway::Impl::finish_stop() {
  if (!stopping) {  // the loop ran out of work without a stop (cannot happen while serving)
    stopping = true;
    stop_started = std::chrono::steady_clock::now();
    fleet->begin_shutdown();
  }
  // The brokers hear "offline" and a clean disconnect while the buses finish their releases.
  mqtt->stop(kMqttStopTimeout);
  const bool buses_stopped =
      fleet->finish_shutdown(stop_started + kReleaseDeadline, stop_started + kBusStopDeadline);
  if (!buses_stopped) {
    // A bus thread is still inside an exchange. When it returns it may report to the fleet, the
    // event log, the API's executors and the log: none of them is destroyed. What was
    // acknowledged is committed; the caller ends the process.
    blocking->join();
    {
      adapters::MutexLock lock(stop_mu);
      loop_done = true;
    }
    stop_cv.notify_all();
    if (deadline_thread.joinable()) deadline_thread.join();
    event_log->flush();
    if (outbox) outbox->flush();
    telemetry->flush();
    spdlog::warn("stopped with a bus thread abandoned; {} samples committed this run",
                 telemetry->stats().samples_committed);
    spdlog::default_logger()->flush();
    torn_down = true;  // nothing may be destroyed under the stuck thread
    abandoned = true;
    return Stopped::kAbandonedBus;
  }
  teardown();
  return Stopped::kClean;
}

void Gateway::Impl::teardown() {
  if (torn_down) return;
  torn_down = true;
  mqtt_control.reset();
  publisher.reset();
  device_service.reset();
  fleet.reset();
  mqtt.reset();
  dr_channel.reset();
  mqtt_outbox.reset();
  outbox.reset();  // writes what still waits for the broker
  server.reset();
  if (blocking) blocking->join();
  blocking.reset();
  {
    adapters::MutexLock lock(stop_mu);
    loop_done = true;
  }
  stop_cv.notify_all();
  if (deadline_thread.joinable()) deadline_thread.join();
  event_log.reset();  // commits the last audit rows
  if (telemetry) {
    telemetry->flush();
    const auto st = telemetry->stats();
    telemetry.reset();  // joins the writer
    if (started) spdlog::info("stopped; {} samples committed this run", st.samples_committed);
  }
}

Gateway::Gateway(GatewayOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Gateway::~Gateway() {
  // A bus thread stuck in an exchange may still call into any part: leak them all on purpose
  // (the process is about to end; see Stopped::kAbandonedBus).
  if (impl_->abandoned) (void)impl_.release();
}

int Gateway::start() { return impl_->start(); }

Gateway::Stopped Gateway::run() { return impl_->run(); }

void Gateway::reload() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_reload(); });
}

void Gateway::stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_stop("stop requested"); });
}

std::uint16_t Gateway::api_port() const { return impl_->api_port.load(); }

}  // namespace gridlet::runtime
