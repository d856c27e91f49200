// The gatewayd daemon: wires configuration, telemetry store, point store, device registry, API,
// scheduler, signals and systemd notification around one Asio event loop.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "gateway/config/config.hpp"

namespace gridlet::runtime {

struct DaemonOptions {
  std::filesystem::path config_path;
  std::optional<std::filesystem::path> data_dir;  // --data-dir overrides storage.data_dir
  std::optional<std::string> api_listen;          // --api-listen overrides api.listen
};

// Exit codes of `gatewayd run`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitConfig = 2;   // the configuration is invalid
inline constexpr int kExitStartup = 3;  // storage, tokens or the API could not start

// Runs until SIGTERM/SIGINT. Returns an exit code.
int run_daemon(const DaemonOptions& options);

// Applies --data-dir / --api-listen to a loaded configuration; returns an error message or "".
std::string apply_overrides(const DaemonOptions& options, config::Config& cfg);

}  // namespace gridlet::runtime
