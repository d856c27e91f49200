// The MQTT device profiles that ship with Gridlet, built into the binary so that a configuration
// can name them ("shelly-gen2-switch") without any file installed. The files in
// configs/profiles/mqtt/ are the only copy: the build embeds each of them, byte for byte, in a
// source it generates (adapters/mqtt/embed_presets.cmake, run whenever a file changes), so a new
// or changed file is a built-in preset at the next build.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "adapters/mqtt/profile.hpp"

namespace gridlet::adapters::mqtt {

// The TOML text of a built-in preset, by its name (the file name without .toml); nullopt when
// there is none.
std::optional<std::string_view> builtin_preset(std::string_view name);
// Every built-in preset's name, sorted.
std::vector<std::string_view> builtin_preset_names();
// A built-in preset, loaded; errors name it as "<builtin>/NAME.toml". An unknown name is one error.
ProfileLoadResult load_builtin_preset(std::string_view name);

namespace detail {
// A preset file's name (without .toml) and its bytes.
struct EmbeddedPreset {
  std::string_view name;
  std::string_view text;
};
// Every preset file, sorted by name; defined by the generated source.
std::span<const EmbeddedPreset> embedded_presets();
}  // namespace detail

}  // namespace gridlet::adapters::mqtt
