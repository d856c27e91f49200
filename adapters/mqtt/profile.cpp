// Loading and validating MQTT device profiles. Every check records an error and goes on, so one
// run reports every problem in the file (as the Modbus profile loader and the configuration do).
#include "adapters/mqtt/profile.hpp"

#include "adapters/mqtt/mapping.hpp"
#include "adapters/toml_checker.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace gridlet::adapters::mqtt {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxPlaceholderLength = 32;
constexpr auto kMinMaxAge = 1s;
constexpr auto kMaxMaxAge = std::chrono::milliseconds(7 * 24h);
constexpr auto kDefaultMaxAge = std::chrono::milliseconds(10min);

bool identifier_start(char c) { return c >= 'a' && c <= 'z'; }
bool identifier_char(char c) { return identifier_start(c) || (c >= '0' && c <= '9') || c == '_'; }

// The names a template of this profile may use (besides {value} in payloads).
bool known_variable(const Profile& p, std::string_view name) {
  return name == "id" || p.variables.find(name) != p.variables.end();
}

// The table arrays ([[points]], [[controls]]); nullptr when absent or malformed.
const toml::array* table_array(TomlChecker& c, const toml::table& root, std::string_view key) {
  const toml::node* node = root.get(key);
  if (node == nullptr) return nullptr;
  const toml::array* arr = node->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    c.error(node, std::string(key), fmt::format("must be an array of tables ([[{}]])", key));
    return nullptr;
  }
  return arr;
}

std::optional<Literal> literal_of(const toml::node& node) {
  Literal l;
  if (const auto s = node.value_exact<std::string>()) {
    l.type = Literal::Type::kString;
    l.string = *s;
  } else if (const auto b = node.value_exact<bool>()) {
    l.type = Literal::Type::kBool;
    l.boolean = *b;
  } else if (node.is_integer() || node.is_floating_point()) {
    l.type = Literal::Type::kNumber;
    l.number = node.is_integer() ? static_cast<double>(*node.value_exact<std::int64_t>())
                                 : *node.value_exact<double>();
    if (!std::isfinite(l.number)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return l;
}

class Loader {
 public:
  Loader(TomlChecker& c, Profile& p) : c_(c), p_(p) {}

  void header(const toml::table& root) {
    const toml::node* node = root.get("profile");
    if (node == nullptr) {
      c_.error(&root, "profile", "required table [profile] is missing");
      return;
    }
    const toml::table* t = node->as_table();
    if (t == nullptr) {
      c_.error(node, "profile", "must be a table");
      return;
    }
    const std::string path = "profile";
    c_.known_keys(*t, path, {"name", "manufacturer", "model", "kind", "source", "description", "max_age"});
    c_.string(*t, "name", path, p_.name, true);
    if (t->get("name") && p_.name.empty()) c_.error(t->get("name"), "profile.name", "must not be empty");
    c_.string(*t, "manufacturer", path, p_.manufacturer);
    c_.string(*t, "model", path, p_.model);
    std::string kind;
    if (c_.string(*t, "kind", path, kind, true)) {
      if (auto k = parse_device_kind(kind)) {
        p_.kind = *k;
      } else {
        c_.error(t->get("kind"), "profile.kind",
                 fmt::format("\"{}\" is not one of inverter, battery, meter, ev_charger, other", kind));
      }
    }
    // Topics and payloads without their source cannot be checked by the next person.
    if (c_.string(*t, "source", path, p_.source, true) && p_.source.size() < 8) {
      c_.error(t->get("source"), "profile.source", "must cite the vendor document (title, URL)");
    }
    c_.string(*t, "description", path, p_.description);
    default_max_age_ = kDefaultMaxAge;
    c_.duration(*t, "max_age", path, default_max_age_, kMinMaxAge, kMaxMaxAge);
  }

  void variables(const toml::table& root) {
    const toml::table* t = c_.table(root, "variables", "");
    if (t == nullptr) return;
    if (t->size() > kMaxVariables) {
      c_.error(t, "variables", fmt::format("more than {} variables", kMaxVariables));
      return;
    }
    for (const auto& [key, node] : *t) {
      const std::string path = TomlChecker::join("variables", key.str());
      const std::string_view name = key.str();
      if (name.empty() || name.size() > kMaxPlaceholderLength || !identifier_start(name.front()) ||
          !std::all_of(name.begin(), name.end(), identifier_char)) {
        c_.error_at(key.source(), path, "a variable name is 1-32 of a-z, 0-9, '_', starting with a letter");
        continue;
      }
      if (name == "id" || name == "value") {
        c_.error_at(key.source(), path,
                    fmt::format("\"{}\" is reserved ({{id}} is the device's topic id, {{value}} the command value)",
                                name));
        continue;
      }
      const auto value = node.value_exact<std::string>();
      if (!value) {
        c_.error(&node, path, "must be a string (the default value)");
        continue;
      }
      if (!valid_topic_variable(*value)) {
        c_.error(&node, path,
                 fmt::format("\"{}\" is not a valid value (1-{} bytes of UTF-8, no '+', '#' or NUL)", *value,
                             kMaxVariableBytes));
        continue;
      }
      p_.variables.emplace(std::string(name), *value);
    }
  }

  void availability(const toml::table& root) {
    const toml::table* t = c_.table(root, "availability", "");
    if (t == nullptr) return;
    const std::string path = "availability";
    c_.known_keys(*t, path, {"topic", "payload_online", "payload_offline", "json"});
    Availability a;
    bool ok = topic_template(*t, "topic", path, a.topic, TopicUse::kName, true);
    ok &= c_.string(*t, "payload_online", path, a.payload_online, true);
    ok &= c_.string(*t, "payload_offline", path, a.payload_offline, true);
    if (t->get("payload_online") && t->get("payload_offline") && a.payload_online == a.payload_offline) {
      c_.error(t->get("payload_offline"), path + ".payload_offline", "must differ from payload_online");
      ok = false;
    }
    a.json = pointer(*t, "json", path);
    if (t->get("json") && !a.json) ok = false;
    if (ok) p_.availability = std::move(a);
  }

  void point(const toml::table& t, const std::string& path, Point& pt) {
    c_.known_keys(t, path,
                  {"name", "topic", "json", "when", "values", "scale", "unit", "kind", "timestamp", "max_age",
                   "min", "max", "description"});
    pt.line = static_cast<int>(t.source().begin.line);
    name(t, path, pt.name, "point");
    source(t, path, {"topic", "json", "when", "values"}, true, pt.source);
    if (auto s = c_.number(t, "scale", path)) {
      if (*s == 0.0) {
        c_.error(t.get("scale"), path + ".scale", "must not be 0");
      } else {
        pt.scale = *s;
      }
    }
    c_.string(t, "unit", path, pt.unit);
    if (auto k = c_.choice(t, "kind", path, {"measured", "counter", "status"})) {
      pt.kind = static_cast<ReadingKind>(*k);
    }
    if (const toml::table* ts = c_.table(t, "timestamp", path)) {
      const std::string tp = path + ".timestamp";
      c_.known_keys(*ts, tp, {"json", "unit"});
      pt.timestamp = pointer(*ts, "json", tp, true);
      if (auto u = c_.choice(*ts, "unit", tp, {"s", "ms"}, true)) {
        pt.timestamp_unit = *u == 0 ? TimestampUnit::kSeconds : TimestampUnit::kMilliseconds;
      }
      if (!pt.source.json && t.get("json") == nullptr) {
        c_.error(ts, tp, "needs a JSON payload: set json = \"/pointer\" for the value too");
      }
    }
    pt.max_age = default_max_age_;
    c_.duration(t, "max_age", path, pt.max_age, kMinMaxAge, kMaxMaxAge);
    range(t, path, pt.min, pt.max);
    c_.string(t, "description", path, pt.description);
  }

  void control(const toml::table& t, const std::string& path, Control& ct) {
    c_.known_keys(t, path,
                  {"name", "description", "unit", "command_topic", "payload", "payload_format", "command_values",
                   "state_topic", "state_json", "state_when", "state_values", "confirm_timeout", "tolerance",
                   "min", "max", "failsafe", "nonpersistent"});
    ct.line = static_cast<int>(t.source().begin.line);
    name(t, path, ct.name, "control");
    c_.string(t, "description", path, ct.description);
    c_.string(t, "unit", path, ct.unit);
    topic_template(t, "command_topic", path, ct.command_topic, TopicUse::kName, true);
    if (auto f = c_.choice(t, "payload_format", path, {"text", "json"})) {
      ct.format = *f == 0 ? PayloadFormat::kText : PayloadFormat::kJson;
    }
    bool payload_ok = true;
    if (t.get("payload") != nullptr) {
      payload_ok = c_.string(t, "payload", path, ct.payload);
      if (payload_ok) payload_ok = payload_template(t.get("payload"), path + ".payload", ct.payload);
    }
    const bool values_ok = command_values(t, path, ct);

    if (t.get("state_topic") != nullptr) {
      Source s;
      if (source(t, path, {"state_topic", "state_json", "state_when", "state_values"}, true, s)) {
        ct.state = std::move(s);
      }
    } else {
      for (const char* key : {"state_json", "state_when", "state_values"}) {
        if (t.get(key)) c_.error(t.get(key), path + "." + key, "only valid with state_topic");
      }
    }
    c_.duration(t, "confirm_timeout", path, ct.confirm_timeout, 1s, std::chrono::milliseconds(10min));
    if (auto tol = c_.number(t, "tolerance", path)) {
      if (*tol < 0) {
        c_.error(t.get("tolerance"), path + ".tolerance", "must not be negative");
      } else {
        ct.tolerance = *tol;
      }
    }
    range(t, path, ct.min, ct.max);
    if (auto fs = c_.number(t, "failsafe", path)) {
      ct.failsafe = *fs;
      if ((ct.min && *fs < *ct.min) || (ct.max && *fs > *ct.max)) {
        c_.error(t.get("failsafe"), path + ".failsafe", "is outside the control's min/max");
      }
    }
    c_.boolean(t, "nonpersistent", path, ct.nonpersistent);

    // The payload must render for every value the control can send: each command value, or the
    // ends of its range; a JSON payload must then parse.
    if (payload_ok && values_ok) check_renders(t, path, ct);
  }

 private:
  enum class TopicUse : std::uint8_t { kName, kFilter };

  // A point or control name.
  void name(const toml::table& t, const std::string& path, std::string& out, std::string_view what) {
    if (c_.string(t, "name", path, out, true) && !valid_name(out)) {
      c_.error(t.get("name"), path + ".name",
               fmt::format("\"{}\" is not a valid {} name (1-64 of A-Z, a-z, 0-9, '_', '-', '.')", out, what));
    }
  }

  // Reads a template and checks its placeholders and, rendered with sample values, its syntax.
  bool topic_template(const toml::table& t, std::string_view key, const std::string& path, std::string& out,
                      TopicUse use, bool required) {
    std::string text;
    if (!c_.string(t, key, path, text, required)) return false;
    const toml::node* node = t.get(key);
    const std::string kp = TomlChecker::join(path, key);
    const auto parts = split_template(text, true);
    if (!parts) {
      c_.error(node, kp, "braces in a topic must enclose a variable name: {id}, {base}, ...");
      return false;
    }
    if (!placeholders_known(*parts, node, kp, false)) return false;
    Variables sample{{"id", "x"}};
    for (const auto& [name, value] : p_.variables) sample[name] = value;
    const auto rendered = render_topic(text, sample);
    if (!rendered || (use == TopicUse::kName ? !valid_topic_name(*rendered) : !valid_topic_filter(*rendered))) {
      c_.error(node, kp,
               use == TopicUse::kName
                   ? fmt::format("\"{}\" is not a topic name (no wildcards + or #, not empty)", text)
                   : fmt::format("\"{}\" is not a topic filter ('+' must be a whole level, '#' the whole last "
                                 "level)",
                                 text));
      return false;
    }
    out = std::move(text);
    return true;
  }

  bool placeholders_known(const std::vector<TemplatePart>& parts, const toml::node* node, const std::string& kp,
                          bool allow_value) {
    bool ok = true;
    for (const auto& part : parts) {
      if (!part.placeholder) continue;
      if (allow_value && part.text == "value") continue;
      if (!known_variable(p_, part.text)) {
        c_.error(node, kp,
                 fmt::format("{{{}}} is not a variable: use {{id}}{}, or declare it under [variables]", part.text,
                             allow_value ? ", {value}" : ""));
        ok = false;
      }
    }
    return ok;
  }

  bool payload_template(const toml::node* node, const std::string& kp, const std::string& text) {
    const auto parts = split_template(text, false);
    if (!parts) {
      c_.error(node, kp, "malformed template");
      return false;
    }
    if (!placeholders_known(*parts, node, kp, true)) return false;
    if (std::none_of(parts->begin(), parts->end(),
                     [](const TemplatePart& part) { return part.placeholder && part.text == "value"; })) {
      c_.error(node, kp, "must contain {value}, where the commanded value goes");
      return false;
    }
    return true;
  }

  std::optional<JsonPointer> pointer(const toml::table& t, std::string_view key, const std::string& path,
                                     bool required = false) {
    std::string text;
    if (!c_.string(t, key, path, text, required)) return std::nullopt;
    auto p = parse_json_pointer(text);
    if (!p) {
      c_.error(t.get(key), TomlChecker::join(path, key),
               fmt::format("\"{}\" is not a JSON pointer (RFC 6901: \"\" or \"/a/b\"; '~' only as ~0 or ~1)", text));
    }
    return p;
  }

  // `keys` names the topic, json, when and values keys (plain or state_ prefixed).
  bool source(const toml::table& t, const std::string& path, std::array<std::string_view, 4> keys, bool required,
              Source& s) {
    bool ok = topic_template(t, keys[0], path, s.topic, TopicUse::kFilter, required);
    s.json = pointer(t, keys[1], path);
    if (t.get(keys[1]) && !s.json) ok = false;
    if (const toml::table* w = c_.table(t, keys[2], path)) {
      const std::string wp = TomlChecker::join(path, keys[2]);
      c_.known_keys(*w, wp, {"json", "equals"});
      Condition cond;
      auto p = pointer(*w, "json", wp, true);
      const toml::node* eq = w->get("equals");
      if (eq == nullptr) {
        c_.error(w, wp + ".equals", "required key is missing");
        ok = false;
      } else if (const toml::array* arr = eq->as_array()) {
        if (arr->empty()) {
          c_.error(eq, wp + ".equals", "must not be empty");
          ok = false;
        }
        for (std::size_t i = 0; i < arr->size(); ++i) {
          if (auto l = literal_of(*arr->get(i))) {
            cond.equals.push_back(std::move(*l));
          } else {
            c_.error(arr->get(i), fmt::format("{}.equals[{}]", wp, i), "must be a string, number or boolean");
            ok = false;
          }
        }
      } else if (auto l = literal_of(*eq)) {
        cond.equals.push_back(std::move(*l));
      } else {
        c_.error(eq, wp + ".equals", "must be a string, number, boolean or an array of them");
        ok = false;
      }
      if (p) {
        cond.json = std::move(*p);
        s.when = std::move(cond);
      } else {
        ok = false;
      }
      if (t.get(keys[1]) == nullptr) {
        c_.error(w, wp, fmt::format("needs a JSON payload: set {} = \"/pointer\" for the value too", keys[1]));
        ok = false;
      }
    } else if (t.get(keys[2]) != nullptr) {
      ok = false;
    }
    if (const toml::table* v = c_.table(t, keys[3], path)) {
      const std::string vp = TomlChecker::join(path, keys[3]);
      if (v->empty() || v->size() > kMaxValueMapEntries) {
        c_.error(v, vp, fmt::format("must map 1-{} payload strings to numbers", kMaxValueMapEntries));
        ok = false;
      }
      for (const auto& [key, node] : *v) {
        const auto n = literal_of(node);
        if (!n || n->type != Literal::Type::kNumber) {
          c_.error(&node, TomlChecker::join(vp, key.str()), "must be a finite number");
          ok = false;
          continue;
        }
        s.values.emplace(std::string(key.str()), n->number);
      }
    } else if (t.get(keys[3]) != nullptr) {
      ok = false;
    }
    return ok;
  }

  bool command_values(const toml::table& t, const std::string& path, Control& ct) {
    const toml::table* v = c_.table(t, "command_values", path);
    if (v == nullptr) return t.get("command_values") == nullptr;
    const std::string vp = path + ".command_values";
    if (v->empty() || v->size() > kMaxValueMapEntries) {
      c_.error(v, vp, fmt::format("must map 1-{} command values to what is sent", kMaxValueMapEntries));
      return false;
    }
    bool ok = true;
    for (const auto& [key, node] : *v) {
      const std::string kp = TomlChecker::join(vp, key.str());
      const std::string_view k = key.str();
      double number = 0.0;
      const auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), number);
      if (k.empty() || ec != std::errc{} || end != k.data() + k.size() || !std::isfinite(number)) {
        c_.error_at(key.source(), kp, fmt::format("\"{}\" is not a number (the commanded value, e.g. \"1\")", k));
        ok = false;
        continue;
      }
      const bool duplicate = std::any_of(ct.command_values.begin(), ct.command_values.end(),
                                         [&](const auto& entry) { return entry.first == number; });
      if (duplicate) {
        c_.error_at(key.source(), kp, fmt::format("the value {} is mapped twice", number));
        ok = false;
        continue;
      }
      auto l = literal_of(node);
      if (!l) {
        c_.error(&node, kp, "must be a string, number or boolean (what {value} renders as)");
        ok = false;
        continue;
      }
      ct.command_values.emplace_back(number, std::move(*l));
    }
    return ok;
  }

  void check_renders(const toml::table& t, const std::string& path, const Control& ct) {
    std::vector<double> samples;
    for (const auto& entry : ct.command_values) samples.push_back(entry.first);
    if (samples.empty()) samples = {ct.min.value_or(0.0), ct.max.value_or(0.0)};
    Variables vars{{"id", "x"}};
    for (const auto& [name, value] : p_.variables) vars[name] = value;
    for (double v : samples) {
      const auto payload = render_payload(ct, vars, v);
      if (!payload) continue;  // cannot happen for the samples above; render_command reports it
      if (ct.format == PayloadFormat::kJson && !nlohmann::json::accept(*payload)) {
        const toml::node* node = t.get("payload") ? t.get("payload") : &t;
        c_.error(node, path + ".payload",
                 fmt::format("for the value {} the payload renders as {}, which is not valid JSON", v, *payload));
        return;
      }
    }
  }

  void range(const toml::table& t, const std::string& path, std::optional<double>& min, std::optional<double>& max) {
    min = c_.number(t, "min", path);
    max = c_.number(t, "max", path);
    if (min && max && *min > *max) {
      c_.error(t.get("max"), path + ".max", fmt::format("max {} is below min {}", *max, *min));
    }
  }

  TomlChecker& c_;
  Profile& p_;
  std::chrono::milliseconds default_max_age_ = kDefaultMaxAge;
};

template <typename Item>
void check_unique_names(TomlChecker& c, const std::vector<Item>& items, const std::vector<const toml::table*>& tables,
                        std::string_view array, std::string_view what) {
  std::map<std::string, std::size_t, std::less<>> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].name.empty()) continue;
    auto [it, inserted] = seen.emplace(items[i].name, i);
    if (!inserted) {
      c.error(tables[i]->get("name"), fmt::format("{}[{}].name", array, i),
              fmt::format("duplicate {} name \"{}\" (first defined on line {})", what, items[i].name,
                          items[it->second].line));
    }
  }
}

}  // namespace

std::string_view to_string(ReadingKind k) {
  switch (k) {
    case ReadingKind::kMeasured: return "measured";
    case ReadingKind::kCounter: return "counter";
    case ReadingKind::kStatus: return "status";
  }
  return "unknown";
}

std::optional<JsonPointer> parse_json_pointer(std::string_view text) {
  JsonPointer p;
  p.text = std::string(text);
  if (text.empty()) return p;
  if (text.front() != '/') return std::nullopt;
  std::string token;
  for (std::size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      p.tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (text[i] == '~') {
      if (i + 1 >= text.size() || (text[i + 1] != '0' && text[i + 1] != '1')) return std::nullopt;
      token += text[i + 1] == '0' ? '~' : '/';
      ++i;
      continue;
    }
    token += text[i];
  }
  return p;
}

std::optional<std::vector<TemplatePart>> split_template(std::string_view text, bool strict) {
  std::vector<TemplatePart> parts;
  auto literal = [&](std::string_view s) {
    if (s.empty()) return;
    if (parts.empty() || parts.back().placeholder) parts.push_back({false, ""});
    parts.back().text += s;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char ch = text[i];
    if (ch == '{') {
      std::size_t j = i + 1;
      while (j < text.size() && j - i - 1 <= kMaxPlaceholderLength && identifier_char(text[j])) ++j;
      const std::size_t length = j - i - 1;
      if (j < text.size() && text[j] == '}' && length >= 1 && length <= kMaxPlaceholderLength &&
          identifier_start(text[i + 1])) {
        parts.push_back({true, std::string(text.substr(i + 1, length))});
        i = j + 1;
        continue;
      }
      if (strict) return std::nullopt;
      literal(text.substr(i, 1));
      ++i;
      continue;
    }
    if (ch == '}' && strict) return std::nullopt;
    literal(text.substr(i, 1));
    ++i;
  }
  return parts;
}

ControlInfo Control::info() const {
  ControlInfo i;
  i.point = name;
  i.unit = unit;
  i.min = min;
  i.max = max;
  i.failsafe = failsafe;
  i.release = failsafe ? fmt::format("commands the fail-safe value {}", *failsafe)
                       : std::string("leaves the last commanded value");
  if (nonpersistent) i.release += "; the device forgets the value at power loss, so it is re-sent when it comes back";
  return i;
}

const Point* Profile::find_point(std::string_view point_name) const {
  for (const Point& pt : points) {
    if (pt.name == point_name) return &pt;
  }
  return nullptr;
}

const Control* Profile::find_control(std::string_view control_name) const {
  for (const Control& ct : controls) {
    if (ct.name == control_name) return &ct;
  }
  return nullptr;
}

ProfileLoadResult load_profile_string(std::string_view toml_text, std::string_view source_name) {
  ProfileLoadResult result;
  if (toml_text.size() > kMaxProfileBytes) {
    result.errors.push_back({std::string(source_name), 0, 0, "", "profile is larger than 1 MiB"});
    return result;
  }
  try {
    toml::table root;
    try {
      root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& e) {
      ProfileError err;
      err.file = std::string(source_name);
      err.line = std::max(1, static_cast<int>(e.source().begin.line));
      err.column = std::max(1, static_cast<int>(e.source().begin.column));
      err.message = std::string(e.description());
      if (err.message.empty()) err.message = "TOML syntax error";
      result.errors.push_back(std::move(err));
      return result;
    }
    TomlChecker c{std::string(source_name)};
    Profile profile;
    Loader loader(c, profile);
    c.known_keys(root, "", {"profile", "variables", "availability", "points", "controls"});
    loader.header(root);
    loader.variables(root);  // before any template: they name the variables templates may use
    loader.availability(root);

    std::vector<const toml::table*> point_tables;
    if (const toml::array* arr = table_array(c, root, "points")) {
      if (arr->size() > kMaxProfilePoints) {
        c.error(arr, "points", fmt::format("more than {} points", kMaxProfilePoints));
      } else {
        for (std::size_t i = 0; i < arr->size(); ++i) {
          const toml::table* t = arr->get(i)->as_table();
          Point pt;
          loader.point(*t, fmt::format("points[{}]", i), pt);
          profile.points.push_back(std::move(pt));
          point_tables.push_back(t);
        }
        check_unique_names(c, profile.points, point_tables, "points", "point");
      }
    } else if (root.get("points") == nullptr) {
      c.error(&root, "points", "a profile needs at least one [[points]] entry");
    }

    std::vector<const toml::table*> control_tables;
    if (const toml::array* arr = table_array(c, root, "controls")) {
      if (arr->size() > kMaxProfileControls) {
        c.error(arr, "controls", fmt::format("more than {} controls", kMaxProfileControls));
      } else {
        for (std::size_t i = 0; i < arr->size(); ++i) {
          const toml::table* t = arr->get(i)->as_table();
          Control ct;
          loader.control(*t, fmt::format("controls[{}]", i), ct);
          profile.controls.push_back(std::move(ct));
          control_tables.push_back(t);
        }
        check_unique_names(c, profile.controls, control_tables, "controls", "control");
      }
    }
    result.errors = c.take_errors();
    if (result.errors.empty()) result.profile = std::move(profile);
  } catch (const std::exception& e) {  // allocation failure: nothing of ours throws
    result.profile.reset();
    result.errors.push_back({std::string(source_name), 0, 0, "", fmt::format("cannot load: {}", e.what())});
  }
  return result;
}

ProfileLoadResult load_profile_file(const std::filesystem::path& path) {
  auto file = read_toml_file(path, kMaxProfileBytes);
  if (!file.text) return ProfileLoadResult{std::nullopt, {std::move(*file.error)}};
  return load_profile_string(*file.text, path.string());
}

}  // namespace gridlet::adapters::mqtt
