// What goes wrong in a TOML file people write (the configuration, device profiles), and the value
// syntaxes they share. TomlChecker (toml_checker.hpp) finds the errors; this header is light, for
// the loaders' public headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::adapters {

struct TomlError {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no single place (e.g. unreadable file)
  int column = 0;  // 1-based
  std::string key_path;  // e.g. "devices[2].bus", "points[3].scale_point"
  std::string message;

  std::string format() const;  // "FILE:LINE:COL: error: KEY: MESSAGE"
};

// "250ms", "1s", "5m", "2h", "7d"; nullopt when malformed or out of 63 bits. The one duration
// syntax of the configuration, the profiles and the API's query parameters.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// Bytes: "4096", "512MiB", "2GiB", "100MB"; nullopt when malformed or out of 63 bits.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace gridlet::adapters
