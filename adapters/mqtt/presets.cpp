// Built-in MQTT presets: configs/profiles/mqtt/*.toml as the build embedded them (see presets.hpp;
// the bytes are in the source adapters/mqtt/embed_presets.cmake generates).
#include "adapters/mqtt/presets.hpp"

#include <algorithm>
#include <string>

namespace gridlet::adapters::mqtt {

using detail::embedded_presets;
using detail::EmbeddedPreset;

std::optional<std::string_view> builtin_preset(std::string_view name) {
  for (const EmbeddedPreset& p : embedded_presets()) {
    if (p.name == name) return p.text;
  }
  return std::nullopt;
}

std::vector<std::string_view> builtin_preset_names() {
  std::vector<std::string_view> names;
  for (const EmbeddedPreset& p : embedded_presets()) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return names;
}

ProfileLoadResult load_builtin_preset(std::string_view name) {
  const std::string source = "<builtin>/" + std::string(name) + ".toml";
  const auto text = builtin_preset(name);
  if (!text) {
    ProfileLoadResult r;
    std::string known;
    for (const EmbeddedPreset& p : embedded_presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
    r.errors.push_back({source, 0, 0, "", "no built-in MQTT preset of this name (there are: " + known + ")"});
    return r;
  }
  return load_profile_string(*text, source);
}

}  // namespace gridlet::adapters::mqtt
