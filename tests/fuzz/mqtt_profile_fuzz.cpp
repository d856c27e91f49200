// Fuzzes the MQTT profile loader (load_profile_string): any bytes give either a Profile or errors,
// never both, never a crash; every error names the source, has a place and says something; and a
// loaded profile keeps its promises: its limits, unique point and control names that find_point
// and find_control return, a binding (with a device's topic id) whose topics are valid MQTT filters
// and names, its own availability messages read as online and offline, and every control's
// commands at its range ends, fail-safe and mapped values render as a command (valid JSON for JSON
// payloads) or a rejection, never both. Seeds: the shipped presets (configs/profiles/mqtt).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/mqtt/mapping.hpp"
#include "adapters/mqtt/profile.hpp"

using namespace gridlet::adapters::mqtt;

namespace {

void check_binding(const DeviceBinding& b) {
  const Profile& p = *b.profile;
  if (b.point_filters.size() != p.points.size()) std::abort();
  if (b.state_filters.size() != p.controls.size() || b.command_topics.size() != p.controls.size()) std::abort();
  for (const auto& f : b.point_filters) {
    if (!valid_topic_filter(f)) std::abort();
  }
  for (std::size_t i = 0; i < p.controls.size(); ++i) {
    if (p.controls[i].state.has_value() == b.state_filters[i].empty()) std::abort();
    if (!b.state_filters[i].empty() && !valid_topic_filter(b.state_filters[i])) std::abort();
    if (!valid_topic_name(b.command_topics[i])) std::abort();
  }
  for (const auto& f : subscriptions(b)) {
    if (!valid_topic_filter(f)) std::abort();
  }
  if (p.availability) {
    if (!valid_topic_name(b.availability_topic)) std::abort();
    const auto& a = *p.availability;
    // The profile's own words for online and offline are understood as such.
    if (a.payload_online != a.payload_offline && a.payload_online.size() <= 1024 && a.payload_offline.size() <= 1024) {
      const auto on = interpret(b, b.availability_topic, a.payload_online);
      const auto off = interpret(b, b.availability_topic, a.payload_offline);
      if (!a.json) {
        if (on.online != std::optional<bool>(true) || off.online != std::optional<bool>(false)) std::abort();
      }
    }
  } else if (!b.availability_topic.empty()) {
    std::abort();
  }

  for (const Control& c : p.controls) {
    std::vector<double> values = {0.0, 1.0, -1.0, 1e300, std::nan("")};
    if (c.min) values.push_back(*c.min);
    if (c.max) values.push_back(*c.max);
    if (c.failsafe) values.push_back(*c.failsafe);
    for (const auto& [v, literal] : c.command_values) values.push_back(v);
    for (const double v : values) {
      const auto r = render_command(b, c.name, v);
      if (r.command.has_value() == r.rejection.has_value()) std::abort();
      if (!r.command) continue;
      if (!std::isfinite(v)) std::abort();
      if ((c.min && v < *c.min) || (c.max && v > *c.max)) std::abort();
      if (!valid_topic_name(r.command->topic)) std::abort();
      if (c.format == PayloadFormat::kJson && !nlohmann::json::accept(r.command->payload)) std::abort();
    }
  }
  if (!render_command(b, "no such control \x01", 1.0).rejection) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = load_profile_string(text, "fuzz.toml");
  if (result.profile.has_value() == !result.errors.empty()) std::abort();
  for (const auto& e : result.errors) {
    if (e.file != "fuzz.toml" || e.message.empty()) std::abort();
    // Only a profile too large to parse has no place in it.
    if ((e.line < 1 || e.column < 1) && size <= kMaxProfileBytes) std::abort();
  }
  if (!result.profile) return 0;

  auto profile = std::make_shared<const Profile>(*result.profile);
  const Profile& p = *profile;
  if (p.points.size() > kMaxProfilePoints || p.controls.size() > kMaxProfileControls) std::abort();
  if (p.variables.size() > kMaxVariables) std::abort();
  std::set<std::string> names;
  for (const Point& point : p.points) {
    if (!names.insert(point.name).second) std::abort();
    if (p.find_point(point.name) != &point) std::abort();
    if (point.source.values.size() > kMaxValueMapEntries) std::abort();
    if (!std::isfinite(point.scale)) std::abort();
    if (point.min && point.max && *point.min > *point.max) std::abort();
  }
  names.clear();
  for (const Control& control : p.controls) {
    if (!names.insert(control.name).second) std::abort();
    if (p.find_control(control.name) != &control) std::abort();
    if (control.min && control.max && *control.min > *control.max) std::abort();
  }

  // A device of this profile: bound with an ordinary topic id, and with one that spans levels.
  for (const std::string_view id : {std::string_view("dev-1"), std::string_view("Kitchen Plug/2")}) {
    const auto bound = bind_device(profile, id);
    if (bound.binding.has_value() == !bound.errors.empty()) std::abort();
    if (bound.binding) check_binding(*bound.binding);
  }
  return 0;
}
