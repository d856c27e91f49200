#include "gateway/runtime/mqtt_control.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>

namespace gridlet::runtime {
namespace {

// "12.5" -> 12.5; nullopt for anything that is not exactly one finite decimal number.
std::optional<double> parse_number(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  if (s.empty() || s.size() > 32) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

MqttControl::MqttControl(const config::Config& cfg, api::DeviceService& devices, const adapters::Clock& clock)
    : root_(cfg.mqtt.topic_prefix + "/" + cfg.site.id),
      actor_("mqtt:" + cfg.mqtt.bus),
      devices_(devices),
      clock_(clock) {}

void MqttControl::reject(const std::string& why, const std::string& detail) {
  ++rejected_[why];
  std::uint64_t held = 0;
  if (log_limit_.allow(clock_.now_ms(), held)) {
    spdlog::warn("MQTT command refused: {}: {}{}", why, detail,
                 held > 0 ? fmt::format(" ({} more refusals not logged)", held) : std::string());
  }
}

void MqttControl::on_message(const adapters::mqtt::Message& m) {
  ++received_;
  // <root>/<device>/<control>/set
  std::string_view rest(m.topic);
  if (!rest.starts_with(root_ + "/") || !rest.ends_with("/set")) return reject("bad_topic", m.topic);
  rest.remove_prefix(root_.size() + 1);
  rest.remove_suffix(4);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return reject("bad_topic", m.topic);
  const std::string device(rest.substr(0, slash));
  const std::string control(rest.substr(slash + 1));
  if (m.retained && !m.payload.empty()) {
    // A retained command would be replayed at every reconnect: never acted on.
    return reject("bad_payload", m.topic + ": retained commands are not taken");
  }
  if (m.payload.empty()) {
    ++rejected_["empty"];  // clearing a retained message: nothing to do, nothing to log
    return;
  }
  const auto controls = devices_.controls(device);
  if (!controls) return reject("unknown", "no device " + device);
  const bool known = std::any_of(controls->controls.begin(), controls->controls.end(),
                                 [&](const adapters::ControlInfo& c) { return c.point == control; });
  if (!known) return reject("unknown", "device " + device + " has no control " + control);

  auto outcomes = outcomes_;
  auto done = [outcomes, device, control](const adapters::ControlEvent& ev) {
    if (ev.outcome == adapters::ControlOutcome::kApplied) {
      ++outcomes->applied;
    } else {
      ++outcomes->not_applied;
      spdlog::warn("MQTT command {} {}: {}{}{}", device, control, adapters::to_string(ev.outcome),
                   ev.detail.empty() ? "" : ": ", ev.detail);
    }
  };
  const std::string payload = m.payload;
  if (payload == "release") {
    devices_.release(device, control, actor_, "released over MQTT", done);
    return;
  }
  std::optional<double> value;
  if (payload == "ON" || payload == "on") {
    value = 1;
  } else if (payload == "OFF" || payload == "off") {
    value = 0;
  } else {
    value = parse_number(payload);
  }
  if (!value) return reject("bad_payload", m.topic + ": \"" + payload.substr(0, 64) + "\" is not a number, ON, OFF or release");
  adapters::SetpointCommand cmd;
  cmd.point = control;
  cmd.value = *value;
  cmd.actor = actor_;
  cmd.reason = "set over MQTT";
  devices_.set(device, std::move(cmd), done);
}

MqttControl::Stats MqttControl::stats() const {
  Stats s;
  s.received = received_;
  s.rejected = rejected_;
  s.applied = outcomes_->applied;
  s.not_applied = outcomes_->not_applied;
  return s;
}

}  // namespace gridlet::runtime
