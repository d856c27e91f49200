// Reading a TOML document for people: every problem with its file, line, column and key path,
// all of them at once, so an installer fixes a file in one pass. The configuration loader and the
// device profile loader both use it, so their errors read alike.
//
// Header with toml++ types: include it only in the .cpp files that read a TOML document.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/toml_diagnostics.hpp"

namespace gridlet::adapters {

// Reads a TOML file of at most `max_bytes` whole: its text, or the one error (file, line 0) that
// says why not. For the configuration's profile loaders.
struct FileText {
  std::optional<std::string> text;
  std::optional<TomlError> error;
};
FileText read_toml_file(const std::filesystem::path& path, std::size_t max_bytes);

// Collects errors while a document is walked. Every getter leaves `out` alone (or returns
// nullopt) when the key is absent or wrong, after recording why.
class TomlChecker {
 public:
  explicit TomlChecker(std::string file) : file_(std::move(file)) {}

  void error(const toml::node* node, std::string key_path, std::string message);
  void error_at(const toml::source_region& where, std::string key_path, std::string message);
  // Reports every key of `table` not in `allowed`.
  void known_keys(const toml::table& table, const std::string& path,
                  std::initializer_list<std::string_view> allowed);
  static std::string join(const std::string& path, std::string_view key);

  const toml::table* table(const toml::table& parent, std::string_view key, const std::string& path);
  // True when the key is present and a string (stored in `out`).
  bool string(const toml::table& t, std::string_view key, const std::string& path, std::string& out,
              bool required = false);
  bool boolean(const toml::table& t, std::string_view key, const std::string& path, bool& out);
  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key, const std::string& path,
                                      std::int64_t min, std::int64_t max, bool required = false);
  // The same, stored into `out` when present and valid (left alone otherwise).
  template <typename Int>
  void integer_into(const toml::table& t, std::string_view key, const std::string& path, Int& out,
                    std::int64_t min, std::int64_t max, bool required = false) {
    if (const auto v = integer(t, key, path, min, max, required)) out = static_cast<Int>(*v);
  }
  // An integer or a float, finite.
  std::optional<double> number(const toml::table& t, std::string_view key, const std::string& path);
  // A string that must be one of `choices`; returns its index.
  std::optional<std::size_t> choice(const toml::table& t, std::string_view key, const std::string& path,
                                    std::initializer_list<std::string_view> choices, bool required = false);
  // A duration string within [min, max]; "forever" (stored as 0) when allowed.
  void duration(const toml::table& t, std::string_view key, const std::string& path,
                std::chrono::milliseconds& out, std::chrono::milliseconds min,
                std::chrono::milliseconds max, bool allow_forever = false);
  // A size: an integer (bytes) or a string with a unit, at least `min`.
  void size(const toml::table& t, std::string_view key, const std::string& path, std::uint64_t& out,
            std::uint64_t min);

  bool ok() const { return errors_.empty(); }
  // The errors in file order.
  std::vector<TomlError> take_errors();

 private:
  std::string file_;
  std::vector<TomlError> errors_;
};

}  // namespace gridlet::adapters
