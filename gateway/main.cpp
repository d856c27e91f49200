// gatewayd: the Gridlet daemon and the installer's command line.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <iostream>
#include <memory>

#include "adapters/modbus/scan.hpp"
#include "adapters/mqtt/scan.hpp"
#include "gateway/api/auth.hpp"
#include "gateway/config/config.hpp"
#include "gateway/runtime/gateway.hpp"

#ifndef GRIDLET_VERSION
#define GRIDLET_VERSION "0.0.0"
#endif

namespace {

constexpr const char* kDefaultConfig = "/etc/gridlet/gridlet.toml";

int check_config(const std::string& path) {
  const auto result = gridlet::config::load_config_file(path);
  if (result.errors.empty()) {
    std::cout << "ok\n";
    return 0;
  }
  for (const auto& e : result.errors) std::cout << e.format() << '\n';
  return gridlet::runtime::kExitConfig;
}

// The tokens file: --tokens-file, else api.tokens_file of the configuration. nullopt (errors
// printed) when the configuration cannot be loaded.
std::optional<std::filesystem::path> tokens_path(const std::string& config_path,
                                                 const std::string& tokens_file) {
  if (!tokens_file.empty()) return std::filesystem::path(tokens_file);
  const auto loaded = gridlet::config::load_config_file(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.format() << '\n';
    return std::nullopt;
  }
  return loaded.config->tokens_path();
}

int token_create(const std::filesystem::path& path, const std::string& role_name,
                 const std::string& name) {
  const auto role = gridlet::api::parse_role(role_name);
  if (!role) {
    std::cerr << "unknown role \"" << role_name << "\" (viewer, installer, manager, aggregator)\n";
    return 2;
  }
  std::string error;
  const auto token = gridlet::api::TokenStore::create(path, *role, name, &error);
  if (!token) {
    std::cerr << "cannot create token: " << error << '\n';
    return 1;
  }
  std::cerr << "token \"" << name << "\" (" << role_name << ") added to " << path.string()
            << "; it is shown once, store it now. A running gatewayd picks it up on SIGHUP.\n";
  std::cout << *token << '\n';
  return 0;
}

int token_revoke(const std::filesystem::path& path, const std::string& name) {
  std::string error;
  if (!gridlet::api::TokenStore::revoke(path, name, &error)) {
    std::cerr << "cannot revoke token: " << error << '\n';
    return 1;
  }
  std::cerr << "token \"" << name << "\" removed from " << path.string()
            << "; a running gatewayd refuses it after SIGHUP.\n";
  return 0;
}

// One line per token: name, role, created (UTC). Hashes are never printed.
int token_list(const std::filesystem::path& path) {
  std::string error;
  const auto tokens = gridlet::api::TokenStore::list(path, &error);
  if (!tokens) {
    std::cerr << "cannot list tokens: " << error << '\n';
    return 1;
  }
  std::cout << "NAME ROLE CREATED\n";
  for (const auto& t : *tokens) {
    const std::time_t created = static_cast<std::time_t>(t.created_unix_s);
    std::tm tm{};
    gmtime_r(&created, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::cout << t.name << ' ' << gridlet::api::to_string(t.role) << ' ' << when << '\n';
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr; under systemd, journald records them with their priority.
  spdlog::set_default_logger(spdlog::stderr_color_mt("gatewayd"));
  spdlog::set_pattern(std::getenv("JOURNAL_STREAM") ? "<%l> %v" : "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"Gridlet edge gateway: demand response and neighborhood energy trading"};
  app.set_version_flag("--version", GRIDLET_VERSION);
  app.require_subcommand(1);

  gridlet::runtime::GatewayOptions run_opts;
  std::string run_config = kDefaultConfig, data_dir, api_listen;
  auto* run = app.add_subcommand("run", "Run the gateway daemon");
  run->add_option("--config,-c", run_config, "Configuration file")->capture_default_str();
  run->add_option("--data-dir", data_dir, "Override storage.data_dir");
  run->add_option("--api-listen", api_listen, "Override api.listen (HOST:PORT)");

  std::string check_path;
  auto* check = app.add_subcommand("check-config", "Validate a configuration file");
  check->add_option("file", check_path, "Configuration file")->required();

  auto* token = app.add_subcommand("token", "Manage API tokens");
  token->require_subcommand(1);
  std::string tok_config = kDefaultConfig, tok_file, tok_role, tok_name;
  auto add_file_options = [&](CLI::App* sub) {
    sub->add_option("--config,-c", tok_config, "Configuration file (for api.tokens_file)")
        ->capture_default_str();
    sub->add_option("--tokens-file", tok_file, "Tokens file (instead of the configuration's)");
  };
  auto* create = token->add_subcommand("create", "Create a token and print it once");
  create->add_option("--role", tok_role, "viewer, installer, manager or aggregator")->required();
  create->add_option("--name", tok_name, "A name for the token holder")->required();
  add_file_options(create);
  auto* revoke = token->add_subcommand("revoke", "Remove a token (effective at SIGHUP)");
  revoke->add_option("name", tok_name, "The token's name")->required();
  add_file_options(revoke);
  auto* list = token->add_subcommand("list", "List tokens: names, roles, creation times");
  add_file_options(list);

  // scan: commissioning. Finds answering unit ids and SunSpec devices on one bus.
  namespace modbus = gridlet::adapters::modbus;
  modbus::ScanCommand scan_cmd;
  std::string scan_target, scan_parity = "N";
  int scan_probe_ms = 300;
  bool scan_json = false, scan_snippet = false;
  auto* scan_app = app.add_subcommand("scan", "Find devices on a Modbus bus or an MQTT broker");
  scan_app->require_subcommand(1);
  auto add_scan_options = [&](CLI::App* sub) {
    sub->add_option("--units", scan_cmd.units, "Unit ids to probe, e.g. 1-247 or 1,3,10-12")
        ->capture_default_str();
    sub->add_option("--probe-timeout", scan_probe_ms, "Probe response timeout per unit id (ms)")
        ->capture_default_str()
        ->check(CLI::Range(20, 5000));
    auto* json = sub->add_flag("--json", scan_json, "Print one JSON array of the answering units");
    auto* snippet = sub->add_flag("--config-snippet", scan_snippet,
                                  "Print [[buses]] and [[devices]] tables for gridlet.toml");
    json->excludes(snippet);
    sub->add_option("--bus-id", scan_cmd.bus_id, "Bus id used in --config-snippet")
        ->capture_default_str();
  };
  auto* scan_tcp = scan_app->add_subcommand("modbus-tcp", "Scan a Modbus TCP endpoint");
  scan_tcp->add_option("target", scan_target, "HOST[:PORT] (port 502 by default; [IPv6]:PORT)")
      ->required();
  add_scan_options(scan_tcp);
  auto* scan_rtu = scan_app->add_subcommand("modbus-rtu", "Scan a serial line (Modbus RTU)");
  scan_rtu->add_option("device", scan_cmd.bus.device, "Serial device, e.g. /dev/ttyUSB0")->required();
  scan_rtu->add_option("--baud", scan_cmd.bus.baud, "Baud rate")
      ->required()
      ->check(CLI::Range(1200, 921600));
  scan_rtu->add_option("--parity", scan_parity, "N, E or O")
      ->capture_default_str()
      ->check(CLI::IsMember({"N", "E", "O"}));
  scan_rtu->add_option("--stop-bits", scan_cmd.bus.stop_bits, "1 or 2")
      ->capture_default_str()
      ->check(CLI::Range(1, 2));
  add_scan_options(scan_rtu);
  // scan mqtt: listens to a broker for the devices' own announcements (adapters/mqtt/scan.hpp).
  namespace mqtt_scan = gridlet::adapters::mqtt::scan;
  mqtt_scan::Command mqtt_cmd;
  int mqtt_seconds = 10;
  std::string mqtt_protocol = "3.1.1", mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key;
  auto* scan_mqtt = scan_app->add_subcommand("mqtt", "Listen to an MQTT broker for Shelly, Tasmota, Zigbee2MQTT and OpenDTU devices");
  scan_mqtt->add_option("url", mqtt_cmd.url, "Broker URL: mqtt://HOST:PORT, mqtts://HOST:PORT (tcp://, ssl://)")->required();
  scan_mqtt->add_option("--seconds", mqtt_seconds, "How long to listen")->capture_default_str()->check(CLI::Range(1, 3600));
  auto* mqtt_json = scan_mqtt->add_flag("--json", scan_json, "Print one JSON array of the devices");
  auto* mqtt_snippet = scan_mqtt->add_flag("--config-snippet", scan_snippet, "Print [[buses]] and [[devices]] tables for gridlet.toml");
  mqtt_json->excludes(mqtt_snippet);
  scan_mqtt->add_option("--bus-id", mqtt_cmd.bus_id, "Bus id used in --config-snippet")->capture_default_str();
  auto* mqtt_user = scan_mqtt->add_option("--username", mqtt_cmd.username, "Broker user name");
  scan_mqtt->add_option("--password-file", mqtt_password_file, "File holding the password alone")->needs(mqtt_user);
  scan_mqtt->add_option("--protocol", mqtt_protocol, "3.1.1 or 5")->capture_default_str()->check(CLI::IsMember({"3.1.1", "5"}));
  scan_mqtt->add_option("--ca-file", mqtt_ca, "TLS: trusted CAs (default: the system's)");
  scan_mqtt->add_option("--cert-file", mqtt_cert, "TLS client certificate");
  scan_mqtt->add_option("--key-file", mqtt_key, "TLS client key");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc != 0 && scan_mqtt->parsed() ? 2 : rc;  // `scan mqtt` exits 2 for bad arguments
  }

  if (*run) {
    run_opts.config_path = run_config;
    if (!data_dir.empty()) run_opts.data_dir = data_dir;
    if (!api_listen.empty()) run_opts.api_listen = api_listen;
    auto gateway = std::make_unique<gridlet::runtime::Gateway>(run_opts);
    if (const int rc = gateway->start(); rc != gridlet::runtime::kExitOk) return rc;
    if (gateway->run() == gridlet::runtime::Gateway::Stopped::kAbandonedBus) {
      // A bus thread is stuck in an exchange and may still call into the gateway: end the
      // process without destroying it (what was acknowledged is committed).
      (void)gateway.release();
      std::_Exit(gridlet::runtime::kExitOk);
    }
    return gridlet::runtime::kExitOk;
  }
  if (*check) return check_config(check_path);
  if (*token) {
    const auto path = tokens_path(tok_config, tok_file);
    if (!path) return gridlet::runtime::kExitConfig;
    if (*create) return token_create(*path, tok_role, tok_name);
    if (*revoke) return token_revoke(*path, tok_name);
    return token_list(*path);
  }
  if (*scan_mqtt) {
    spdlog::set_level(spdlog::level::err);  // the scan reports connection problems itself
    mqtt_cmd.listen = std::chrono::seconds(mqtt_seconds);
    mqtt_cmd.version = mqtt_protocol == "5" ? 5 : 4;
    mqtt_cmd.password_file = mqtt_password_file;
    mqtt_cmd.ca_file = mqtt_ca;
    mqtt_cmd.cert_file = mqtt_cert;
    mqtt_cmd.key_file = mqtt_key;
    mqtt_cmd.output = scan_json      ? mqtt_scan::Command::Output::kJson
                      : scan_snippet ? mqtt_scan::Command::Output::kConfigSnippet
                                     : mqtt_scan::Command::Output::kTable;
    return mqtt_scan::run_command(mqtt_cmd, std::cout, std::cerr);
  }
  if (*scan_app) {
    if (*scan_tcp) {
      if (const auto error = modbus::parse_tcp_target(scan_target, scan_cmd.bus); !error.empty()) {
        std::cerr << "scan: \"" << scan_target << "\": " << error << '\n';
        return 2;
      }
    } else {
      scan_cmd.bus.rtu = true;
      scan_cmd.bus.parity = scan_parity[0];
    }
    scan_cmd.bus.id = scan_cmd.bus_id;
    scan_cmd.probe_timeout = std::chrono::milliseconds(scan_probe_ms);
    scan_cmd.output = scan_json      ? modbus::ScanCommand::Output::kJson
                      : scan_snippet ? modbus::ScanCommand::Output::kConfigSnippet
                                     : modbus::ScanCommand::Output::kTable;
    return modbus::run_scan_command(scan_cmd, std::cout, std::cerr);
  }
  return 1;
}
