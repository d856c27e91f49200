#include "gateway/runtime/mqtt_fleet.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace gridlet::runtime {
namespace {

namespace mq = adapters::mqtt;

// The password file holds the password alone; a trailing newline (echo > file) is not part of it.
std::optional<std::string> read_password(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

MqttFleet::~MqttFleet() { stop(std::chrono::milliseconds(1000)); }

std::string MqttFleet::status_topic(const config::Config& cfg) {
  return cfg.mqtt.topic_prefix + "/" + cfg.site.id + "/status";
}

std::string MqttFleet::start(const config::Config& cfg, mq::Executor& executor, const HandlersFor& handlers_for) {
  for (const auto& bc : cfg.buses) {
    if (bc.type != config::BusType::kMqtt) continue;
    mq::ClientSettings s;
    s.name = bc.id;
    s.url = bc.url;
    s.client_id = bc.client_id;
    s.version = bc.mqtt_version;
    s.clean_session = bc.clean_session;
    s.keep_alive = std::chrono::duration_cast<std::chrono::seconds>(bc.keep_alive);
    s.username = bc.username;
    if (!bc.password_file.empty()) {
      const auto password = read_password(bc.password_file);
      if (!password) return "bus " + bc.id + ": cannot read password_file " + bc.password_file.string();
      s.password = *password;
    }
    s.ca_file = bc.ca_file;
    s.cert_file = bc.cert_file;
    s.key_file = bc.key_file;
    s.verify_hostname = bc.verify_hostname;
    if (cfg.mqtt.enabled && cfg.mqtt.bus == bc.id) {
      s.will = mq::Message{status_topic(cfg), "offline", 1, true};
      s.birth = mq::Message{status_topic(cfg), "online", 1, true};
    }
    auto client = std::make_unique<mq::Client>(std::move(s), executor,
                                               handlers_for ? handlers_for(bc) : mq::Client::Handlers{});
    if (!client->start()) return "bus " + bc.id + ": " + client->stats().last_error;
    spdlog::info("bus {}: {} (mqtt {})", bc.id, bc.url, bc.mqtt_version == 5 ? "5" : "3.1.1");
    clients_.emplace(bc.id, std::move(client));
  }
  return "";
}

void MqttFleet::stop(std::chrono::milliseconds timeout) {
  if (clients_.empty()) return;
  const auto each = timeout / static_cast<long>(clients_.size());
  for (auto& [id, c] : clients_) c->stop(each);
}

mq::Client* MqttFleet::client(const std::string& bus_id) const {
  const auto it = clients_.find(bus_id);
  return it == clients_.end() ? nullptr : it->second.get();
}

}  // namespace gridlet::runtime
