// The MQTT device profiles that ship with Gridlet, built into the binary so that a configuration
// can name them ("shelly-gen2-switch") without any file installed. The files in
// configs/profiles/mqtt/ are the source of truth; presets.cpp holds a copy of each, and a unit test
// (MqttPresets.EmbeddedCopiesEqualTheFiles) fails when a copy differs from its file.
#pragma once

#include <optional>
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

}  // namespace gridlet::adapters::mqtt
