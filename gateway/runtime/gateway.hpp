// The gateway: configuration, telemetry store, event log, device buses, API and scheduler around
// one event loop. `gatewayd run` is start(), then run() until SIGTERM (SIGHUP calls reload()).
//
//   runtime::Gateway gateway(options);
//   if (int rc = gateway.start(); rc != runtime::kExitOk) return rc;
//   gateway.run();
//
// Boost.Asio, Beast and SQLite stay behind the pimpl: this header is cheap to include.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "gateway/config/config.hpp"

namespace gridlet::runtime {

struct GatewayOptions {
  std::filesystem::path config_path;
  std::optional<std::filesystem::path> data_dir;  // --data-dir overrides storage.data_dir
  std::optional<std::string> api_listen;          // --api-listen overrides api.listen
  // SIGTERM and SIGINT call stop(), SIGHUP calls reload() (gatewayd). Off when the gateway is
  // embedded in a process that owns its signals.
  bool handle_signals = true;
};

// Exit codes of `gatewayd run`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitConfig = 2;   // the configuration is invalid
inline constexpr int kExitStartup = 3;  // storage, tokens or the API could not start

// Applies --data-dir / --api-listen to a loaded configuration; returns an error message or "".
std::string apply_overrides(const GatewayOptions& options, config::Config& cfg);

class Gateway {
 public:
  enum class Stopped {
    kClean,
    // A bus thread was still inside an exchange at the stop deadline (a serial line waiting out
    // its timeout). The store and the event log are committed, but the thread may still report
    // to this object: the process should end (std::_Exit). Destroying the Gateway then leaks its
    // parts on purpose instead of freeing them under the thread.
    kAbandonedBus,
  };

  explicit Gateway(GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Loads the configuration and the tokens, opens the store, starts the buses, the scheduler and
  // the API. kExitOk, or kExitConfig / kExitStartup with the reason logged. Call once.
  int start();

  // Runs the event loop on the calling thread until stop() has finished, and tells systemd that
  // the gateway is ready. After it returns, everything is stopped and committed. Returns at once
  // when start() did not succeed.
  Stopped run();

  // Re-reads the configuration and the tokens (off the loop), then applies on the loop what can
  // change while running; the rest is named in the log as needing a restart. An invalid
  // configuration keeps the running one; a tokens file that cannot be used refuses every token.
  // Any thread.
  void reload();

  // Stops within 5 s whatever the configuration: the buses drain at once (a request on the line
  // is interrupted), held setpoints are released to their fail-safe first, the API closes after
  // the answers in flight, queued samples are committed. Any thread; idempotent.
  void stop();

  // The API's port (useful with api.listen = "127.0.0.1:0"); 0 before start(). Any thread.
  std::uint16_t api_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gridlet::runtime
