#include "adapters/toml_checker.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace gridlet::adapters {

FileText read_toml_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) return {std::nullopt, TomlError{path.string(), 0, 0, "", "cannot read the file"}};
  if (size > max_bytes) {
    return {std::nullopt, TomlError{path.string(), 0, 0, "", fmt::format("profile is larger than {} MiB", max_bytes >> 20)}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return {text.str(), std::nullopt};
}
namespace {

using namespace std::chrono_literals;

// Parses "<digits><unit>"; nullopt when malformed or when the result does not fit in 63 bits.
std::optional<std::uint64_t> parse_scaled(std::string_view s, const std::map<std::string_view, std::uint64_t>& units) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (__builtin_mul_overflow(n, 10u, &n) ||
        __builtin_add_overflow(n, static_cast<std::uint64_t>(s[i] - '0'), &n)) {
      return std::nullopt;
    }
    ++i;
  }
  if (i == 0) return std::nullopt;
  auto it = units.find(s.substr(i));
  if (it == units.end()) return std::nullopt;
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(n, it->second, &out) || out > static_cast<std::uint64_t>(INT64_MAX)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string TomlError::format() const {
  std::string out = fmt::format("{}:{}:{}: error: ", file, line, column);
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  static const std::map<std::string_view, std::uint64_t> kUnitsMs{
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  const auto ms = parse_scaled(s, kUnitsMs);
  if (!ms) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
  static const std::map<std::string_view, std::uint64_t> kUnits{
      {"", 1},          {"B", 1},          {"KB", 1000},      {"MB", 1000'000},
      {"GB", 1000'000'000}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}};
  return parse_scaled(s, kUnits);
}

void TomlChecker::error(const toml::node* node, std::string key_path, std::string message) {
  error_at(node != nullptr ? node->source() : toml::source_region{}, std::move(key_path), std::move(message));
}

void TomlChecker::error_at(const toml::source_region& where, std::string key_path, std::string message) {
  TomlError e;
  e.file = file_;
  // Every error has a place: a missing key of the root table is reported at 1:1.
  e.line = std::max(1, static_cast<int>(where.begin.line));
  e.column = std::max(1, static_cast<int>(where.begin.column));
  e.key_path = std::move(key_path);
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

void TomlChecker::known_keys(const toml::table& table, const std::string& path,
                             std::initializer_list<std::string_view> allowed) {
  for (const auto& entry : table) {
    const toml::key& key = entry.first;
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
      error_at(key.source(), join(path, key.str()), "unknown key");
    }
  }
}

std::string TomlChecker::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

const toml::table* TomlChecker::table(const toml::table& parent, std::string_view key, const std::string& path) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    error(node, join(path, key), "must be a table");
    return nullptr;
  }
  return node->as_table();
}

bool TomlChecker::string(const toml::table& t, std::string_view key, const std::string& path, std::string& out,
                         bool required) {
  const toml::node* node = t.get(key);
  if (node == nullptr) {
    if (required) error(&t, join(path, key), "required key is missing");
    return false;
  }
  if (!node->is_string()) {
    error(node, join(path, key), "must be a string");
    return false;
  }
  out = *node->value<std::string>();
  return true;
}

bool TomlChecker::boolean(const toml::table& t, std::string_view key, const std::string& path, bool& out) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return false;
  if (!node->is_boolean()) {
    error(node, join(path, key), "must be true or false");
    return false;
  }
  out = *node->value<bool>();
  return true;
}

std::optional<std::int64_t> TomlChecker::integer(const toml::table& t, std::string_view key, const std::string& path,
                                                 std::int64_t min, std::int64_t max, bool required) {
  const toml::node* node = t.get(key);
  if (node == nullptr) {
    if (required) error(&t, join(path, key), "required key is missing");
    return std::nullopt;
  }
  if (!node->is_integer()) {
    error(node, join(path, key), "must be an integer");
    return std::nullopt;
  }
  const std::int64_t v = *node->value<std::int64_t>();
  if (v < min || v > max) {
    error(node, join(path, key), fmt::format("{} is out of range [{}, {}]", v, min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> TomlChecker::number(const toml::table& t, std::string_view key, const std::string& path) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_integer() && !node->is_floating_point()) {
    error(node, join(path, key), "must be a number");
    return std::nullopt;
  }
  const double v =
      node->is_integer() ? static_cast<double>(*node->value<std::int64_t>()) : *node->value<double>();
  if (!std::isfinite(v)) {
    error(node, join(path, key), "must be a finite number");
    return std::nullopt;
  }
  return v;
}

std::optional<std::size_t> TomlChecker::choice(const toml::table& t, std::string_view key, const std::string& path,
                                               std::initializer_list<std::string_view> choices, bool required) {
  std::string text;
  if (!string(t, key, path, text, required)) return std::nullopt;
  std::size_t i = 0;
  for (auto c : choices) {
    if (c == text) return i;
    ++i;
  }
  std::string list;
  for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  error(t.get(key), join(path, key), fmt::format("\"{}\" is not one of {}", text, list));
  return std::nullopt;
}

void TomlChecker::duration(const toml::table& t, std::string_view key, const std::string& path,
                           std::chrono::milliseconds& out, std::chrono::milliseconds min,
                           std::chrono::milliseconds max, bool allow_forever) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return;
  const auto text = node->value<std::string>();
  if (!node->is_string() || !text) {
    error(node, join(path, key), "must be a duration string such as \"500ms\", \"1s\", \"7d\"");
    return;
  }
  if (allow_forever && *text == "forever") {
    out = 0ms;
    return;
  }
  const auto parsed = parse_duration(*text);
  if (!parsed) {
    error(node, join(path, key),
          fmt::format("\"{}\" is not a duration (use a number and ms, s, m, h or d{})", *text,
                      allow_forever ? ", or \"forever\"" : ""));
    return;
  }
  if (*parsed < min || *parsed > max) {
    error(node, join(path, key), fmt::format("{} is out of range [{}ms, {}ms]", *text, min.count(), max.count()));
    return;
  }
  out = *parsed;
}

void TomlChecker::size(const toml::table& t, std::string_view key, const std::string& path, std::uint64_t& out,
                       std::uint64_t min) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return;
  std::optional<std::uint64_t> parsed;
  if (node->is_integer() && *node->value<std::int64_t>() >= 0) {
    parsed = static_cast<std::uint64_t>(*node->value<std::int64_t>());
  } else if (node->is_string()) {
    parsed = parse_size(*node->value<std::string>());
  }
  if (!parsed) {
    error(node, join(path, key), "must be a size such as \"512MiB\" or \"2GiB\"");
    return;
  }
  if (*parsed < min) {
    error(node, join(path, key), fmt::format("must be at least {} bytes", min));
    return;
  }
  out = *parsed;
}

std::vector<TomlError> TomlChecker::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const TomlError& a, const TomlError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::move(errors_);
}

}  // namespace gridlet::adapters
