#include "gateway/runtime/mqtt_fleet.hpp"

#include <spdlog/spdlog.h>

#include "adapters/mqtt/mapping.hpp"

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

std::string MqttFleet::start(const config::Config& cfg, Parts parts) {
  // Devices first: the clients' handlers route to them.
  for (const auto& dc : cfg.devices) {
    if (!dc.mqtt || !dc.enabled) continue;
    const auto it = cfg.mqtt_profiles.find(dc.mqtt_profile_key());
    if (it == cfg.mqtt_profiles.end()) return "device " + dc.id + ": profile " + dc.profile + " was not loaded";
    mq::Variables vars(dc.variables.begin(), dc.variables.end());
    auto bound = mq::bind_device(it->second, dc.topic_id, vars);
    if (!bound.binding) return "device " + dc.id + ": " + (bound.errors.empty() ? "cannot bind" : bound.errors[0]);
    const std::string bus = dc.bus;
    devices_.push_back(std::make_unique<mq::MqttDevice>(
        dc.id, bus, std::move(*bound.binding), parts.readings, &parts.controls, parts.clock, parts.monotonic,
        [this, bus](mq::Message m) {
          auto* c = client(bus);
          return c != nullptr && c->publish(std::move(m));
        }));
  }
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
    mq::Client::Handlers h;
    const std::string bus = bc.id;
    h.connected = [this, bus, connected = parts.connected](bool) {
      for (auto& d : devices_) {
        if (d->bus() == bus) d->on_broker(true);
      }
      if (connected) connected(bus);
    };
    h.disconnected = [this, bus, disconnected = parts.disconnected](const std::string&) {
      for (auto& d : devices_) {
        if (d->bus() == bus) d->on_broker(false);
      }
      if (disconnected) disconnected(bus);
    };
    h.message = [this, bus](mq::Message m) { route(bus, m); };
    auto client = std::make_unique<mq::Client>(std::move(s), parts.executor, std::move(h));
    for (const auto& d : devices_) {
      if (d->bus() != bus) continue;
      for (const auto& filter : d->subscriptions()) client->subscribe(filter, 1);
    }
    for (const auto& sub : subscriptions_) {
      if (sub.bus == bus) client->subscribe(sub.filter, sub.qos);
    }
    if (!client->start()) return "bus " + bc.id + ": " + client->stats().last_error;
    spdlog::info("bus {}: {} (mqtt {})", bc.id, bc.url, bc.mqtt_version == 5 ? "5" : "3.1.1");
    clients_.emplace(bc.id, std::move(client));
  }
  return "";
}

void MqttFleet::subscribe(const std::string& bus, const std::string& filter, int qos, MessageHandler handler) {
  subscriptions_.push_back({bus, filter, qos, std::move(handler)});
}

void MqttFleet::route(const std::string& bus, const mq::Message& message) {
  bool used = false;
  for (const auto& sub : subscriptions_) {
    if (sub.bus == bus && mq::topic_matches(sub.filter, message.topic)) {
      sub.handler(message);
      used = true;
    }
  }
  for (auto& d : devices_) {
    if (d->bus() == bus && d->wants(message.topic)) {
      d->on_message(message);
      used = true;
    }
  }
  if (!used) ++unrouted_[bus];
}

void MqttFleet::tick() {
  for (auto& d : devices_) d->tick();
}

void MqttFleet::release_all(const std::string& reason) {
  for (auto& d : devices_) d->release_all(reason);
}

void MqttFleet::stop(std::chrono::milliseconds timeout) {
  if (clients_.empty()) return;
  const auto each = timeout / static_cast<long>(clients_.size());
  for (auto& [id, c] : clients_) c->stop(each);
}

void MqttFleet::update_registry(DeviceRegistry& registry) const {
  for (const auto& d : devices_) {
    const auto st = d->status();
    std::uint64_t rejected = 0;
    for (const auto& [reason, n] : st.rejected) rejected += n;
    registry.set_errors(st.id, rejected, st.last_error);
    if (st.online) {
      registry.mark_online(st.id, st.last_message_ms);
    } else if (st.available.has_value() || st.last_message_ms > 0) {
      registry.mark_offline(st.id, st.available == false ? "the device says it is offline" : "no recent message");
    } else {
      const auto* c = client(st.bus);
      if (c != nullptr && !c->connected()) registry.mark_offline(st.id, "the broker is not connected");
    }
  }
}

mq::MqttDevice* MqttFleet::device(const std::string& id) const {
  for (const auto& d : devices_) {
    if (d->id() == id) return d.get();
  }
  return nullptr;
}

std::vector<mq::MqttDeviceStatus> MqttFleet::statuses() const {
  std::vector<mq::MqttDeviceStatus> out;
  for (const auto& d : devices_) out.push_back(d->status());
  return out;
}

std::vector<std::pair<std::string, mq::Client::Stats>> MqttFleet::client_stats() const {
  std::vector<std::pair<std::string, mq::Client::Stats>> out;
  for (const auto& [id, c] : clients_) out.emplace_back(id, c->stats());
  return out;
}

mq::Client* MqttFleet::client(const std::string& bus_id) const {
  const auto it = clients_.find(bus_id);
  return it == clients_.end() ? nullptr : it->second.get();
}

}  // namespace gridlet::runtime
