// The HTTP API (Boost.Beast): health, devices, points, history, sample ingest, /metrics and the
// OpenAPI description, with bearer-token authentication and roles.
// Beast and Asio types stay in server.cpp; this header only forward-declares io_context.
// Thread: the server runs on the event loop's io_context; store queries and commits run off the
// loop and post their answers back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "adapters/device.hpp"
#include "gateway/api/mqtt_stats.hpp"

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Registry;
}

namespace gridlet::config {
struct Config;
}
namespace gridlet::adapters {
class Clock;
}
namespace gridlet::runtime {
class DeviceRegistry;
class PointStore;
}  // namespace gridlet::runtime
namespace gridlet::store {
class TelemetryStore;
class EventLog;
}

namespace gridlet::api {

class DeviceService;

class TokenStore;

// What the API reads and drives. All pointers are owned by the daemon and outlive the server;
// everything except `store` and `tokens` is touched on the event loop only.
struct ApiContext {
  const config::Config* config = nullptr;
  const adapters::Clock* clock = nullptr;
  runtime::DeviceRegistry* devices = nullptr;
  runtime::PointStore* points = nullptr;
  store::TelemetryStore* store = nullptr;    // thread-safe
  const TokenStore* tokens = nullptr;        // reloaded on SIGHUP (replaced on the loop)
  prometheus::Registry* metrics = nullptr;   // thread-safe
  std::string version;
  std::int64_t started_ms = 0;  // Unix ms when the daemon started
  // Buses, devices' controls and setpoints (null: /api/v1/buses is empty, setpoints answer 503).
  DeviceService* device_service = nullptr;
  store::EventLog* events = nullptr;  // thread-safe; event and audit logs
  // The MQTT connections' and devices' counters for /metrics (called on the loop; empty: none).
  std::function<MqttStats()> mqtt_stats;
};

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& ioc, ApiContext context);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts accepting. Returns an empty string on success, else the error.
  // port 0 picks a free port (see port()).
  std::string start(const std::string& host, std::uint16_t port);
  // Stops accepting and closes every connection.
  void stop();
  std::uint16_t port() const;

  // Replaces the token store (after SIGHUP). The old one must stay alive until this returns.
  void set_tokens(const TokenStore* tokens);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace gridlet::api
