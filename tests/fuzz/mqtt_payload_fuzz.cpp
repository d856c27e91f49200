// Fuzzes the MQTT mapping with every built-in preset. Input: a topic, '\n', then the payload (no
// '\n': all of it is the topic). Any bytes give an Interpretation and never a crash; nothing used
// means at least one rejection; every reading is finite and within its point's range; the topic
// matches itself and "#"; the first payload bytes as a command value render a command or a
// rejection, and a JSON command is valid JSON; the topic as a device's topic id binds to valid
// subscription filters or is refused.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/mqtt/mapping.hpp"
#include "adapters/mqtt/presets.hpp"

using namespace gridlet::adapters::mqtt;

namespace {

struct Preset {
  std::shared_ptr<const Profile> profile;
  DeviceBinding binding;
};

// The seeds in tests/fuzz/corpus/mqtt_payload_fuzz use these topic ids.
const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = [] {
    const std::pair<std::string_view, std::string_view> ids[] = {
        {"opendtu", "114182912345"},
        {"shelly-gen2-switch", "shellyplus1pm-a8032ab12345"},
        {"shelly-pro3em", "shellypro3em-c8f09e8a1b2c"},
        {"tasmota-plug", "tasmota_ABC123"},
        {"zigbee2mqtt-plug", "kitchen/plug"},
    };
    std::vector<Preset> out;
    for (const auto& [name, id] : ids) {
      auto loaded = load_builtin_preset(name);
      if (!loaded.profile) std::abort();
      auto profile = std::make_shared<const Profile>(std::move(*loaded.profile));
      auto bound = bind_device(profile, id);
      if (!bound.binding) std::abort();
      out.push_back({profile, std::move(*bound.binding)});
    }
    return out;
  }();
  return all;
}

void check(const Preset& preset, std::string_view topic, std::string_view payload) {
  const Interpretation in = interpret(preset.binding, topic, payload);
  if (!in.used() && in.rejections.empty()) std::abort();
  for (const Rejection& r : in.rejections) {
    if (r.message.empty()) std::abort();
  }
  for (const PointValue& v : in.readings) {
    const Point* pt = preset.profile->find_point(v.point);
    if (pt == nullptr || !std::isfinite(v.value)) std::abort();
    if ((pt->min && v.value < *pt->min) || (pt->max && v.value > *pt->max)) std::abort();
  }
  for (const ControlObservation& o : in.observations) {
    if (!std::isfinite(o.value) || preset.profile->find_control(o.control) == nullptr) std::abort();
  }

  double value = 0.0;
  if (!payload.empty()) std::memcpy(&value, payload.data(), std::min(payload.size(), sizeof value));
  for (const Control& ct : preset.profile->controls) {
    for (const double v : {value, std::round(value), static_cast<double>(payload.size() % 3)}) {
      const CommandResult r = render_command(preset.binding, ct.name, v);
      if (r.command.has_value() == r.rejection.has_value()) std::abort();
      if (r.command && ct.format == PayloadFormat::kJson && !nlohmann::json::accept(r.command->payload)) {
        std::abort();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\n');
  const std::string_view topic = input.substr(0, split);
  const std::string_view payload = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  if (valid_topic_name(topic)) {
    if (!topic_matches(topic, topic)) std::abort();
    if (topic.front() != '$' && !topic_matches("#", topic)) std::abort();
  }
  (void)topic_matches(topic, payload.substr(0, 256));

  for (const Preset& preset : presets()) {
    check(preset, topic, payload);
    const BindResult bound = bind_device(preset.profile, topic);
    if (bound.binding.has_value() == !bound.errors.empty()) std::abort();
    if (bound.binding) {
      for (const std::string& filter : subscriptions(*bound.binding)) {
        if (!valid_topic_filter(filter)) std::abort();
      }
    }
  }
  return 0;
}
