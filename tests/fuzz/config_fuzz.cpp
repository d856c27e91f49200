// Fuzzes the configuration loader: any bytes give either a Config or errors, never a crash, and
// every error has a place.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = gridlet::config::load_config_string(text, "fuzz.toml");
  if (result.config.has_value() == !result.errors.empty()) std::abort();
  for (const auto& e : result.errors) {
    if (e.file != "fuzz.toml" || e.line < 0 || e.message.empty()) std::abort();
  }
  return 0;
}
