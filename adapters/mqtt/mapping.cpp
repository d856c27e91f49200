// Interpreting MQTT messages with a device profile, and rendering commands. See mapping.hpp.
#include "adapters/mqtt/mapping.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <set>
#include <utility>

namespace gridlet::adapters::mqtt {
namespace {

using Json = nlohmann::json;
constexpr std::string_view::size_type npos = std::string_view::npos;

// Unix milliseconds a device timestamp must lie in (2000-01-01 .. 2200-01-01) to be believed: a
// device without time sync sends its uptime or zero, and then the receive time is used instead.
constexpr std::int64_t kFirstPlausibleMs = 946'684'800'000;
constexpr std::int64_t kLastPlausibleMs = 7'258'118'400'000;

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as MQTT requires
// of topics.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((b & 0xE0) == 0xC0) {
      n = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// '+', '#' or NUL anywhere in s. A plain loop: find_first_of with a set of characters calls memchr
// once per byte of s, which made topic checks the largest cost of routing a message.
bool has_wildcard_or_nul(std::string_view s) {
  for (const char ch : s) {
    if (ch == '+' || ch == '#' || ch == '\0') return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = s.find_first_not_of(kSpace);
  if (first == npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

std::optional<double> parse_number(std::string_view s) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

void append_json_escaped(std::string& out, std::string_view s) {
  for (const char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(ch)));
        } else {
          out += ch;
        }
    }
  }
}

// Short quoted excerpt of untrusted text for a log line: valid UTF-8 (cut at a character
// boundary, other non-ASCII bytes shown as '?'), so a message can go into JSON as it is.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string_view cut = s.substr(0, kMax);
  if (cut.size() < s.size()) {
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) cut.remove_suffix(1);
    if (!cut.empty() && static_cast<unsigned char>(cut.back()) >= 0xC0) cut.remove_suffix(1);
  }
  std::string text(cut);
  if (!valid_utf8(text)) {
    for (char& ch : text) {
      if (static_cast<unsigned char>(ch) >= 0x80) ch = '?';
    }
  }
  std::string out = "\"";
  append_json_escaped(out, text);
  out += cut.size() < s.size() ? "\"..." : "\"";
  return out;
}

std::string format_number(double v) { return fmt::format("{}", v); }

std::string render_literal(const Literal& l, PayloadFormat format) {
  switch (l.type) {
    case Literal::Type::kNumber: return format_number(l.number);
    case Literal::Type::kBool: return l.boolean ? "true" : "false";
    case Literal::Type::kString: break;
  }
  if (format == PayloadFormat::kText) return l.string;
  std::string out = "\"";
  append_json_escaped(out, l.string);
  out += '"';
  return out;
}

// value_text: what {value} becomes (nullopt: {value} is not allowed, as in topics).
std::optional<std::string> render(std::string_view text, const Variables& variables, bool strict,
                                  const std::optional<std::string>& value_text, bool json_escape) {
  const auto parts = split_template(text, strict);
  if (!parts) return std::nullopt;
  std::string out;
  for (const TemplatePart& part : *parts) {
    if (!part.placeholder) {
      out += part.text;
    } else if (part.text == "value" && value_text) {
      out += *value_text;
    } else if (auto it = variables.find(part.text); it != variables.end()) {
      if (json_escape) {
        append_json_escaped(out, it->second);
      } else {
        out += it->second;
      }
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// Deeper than `limit` levels of arrays and objects (checked before parsing, so a hostile payload
// never reaches the parser's stack or the destructor's).
bool nested_deeper_than(std::string_view s, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char ch : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > limit) return true;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

const Json* resolve(const Json& doc, const JsonPointer& pointer) {
  const Json* at = &doc;
  for (const std::string& token : pointer.tokens) {
    if (at->is_object()) {
      const auto it = at->find(token);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      // RFC 6901: an index is "0" or digits without a leading zero.
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0') ||
          !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return nullptr;
      }
      const std::size_t index = std::stoul(token);
      if (index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
  }
  return at;
}

bool literal_equals(const Json& v, const Literal& l) {
  switch (l.type) {
    case Literal::Type::kString: return v.is_string() && v.get_ref<const std::string&>() == l.string;
    case Literal::Type::kNumber: return v.is_number() && v.get<double>() == l.number;
    case Literal::Type::kBool: return v.is_boolean() && v.get<bool>() == l.boolean;
  }
  return false;
}

std::string_view json_type_name(const Json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_null()) return "null";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  return "a number";
}

// The payload, parsed as JSON at most once and only when a point needs it.
class Payload {
 public:
  explicit Payload(std::string_view raw) : raw_(raw) {}

  std::string_view text() const { return trim(raw_); }

  // nullptr when the payload is not JSON (or nested too deeply); failure() says which.
  const Json* document() {
    if (!tried_) {
      tried_ = true;
      if (nested_deeper_than(raw_, kMaxJsonDepth)) {
        failure_ = {RejectReason::kTooLarge, "", fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth)};
      } else {
        doc_ = Json::parse(raw_.begin(), raw_.end(), nullptr, false);
        if (doc_.is_discarded()) {
          failure_ = {RejectReason::kNotJson, "", fmt::format("payload {} is not JSON", excerpt(raw_))};
        } else {
          parsed_ = true;
        }
      }
    }
    return parsed_ ? &doc_ : nullptr;
  }
  const Rejection& failure() const { return failure_; }

 private:
  std::string_view raw_;
  bool tried_ = false;
  bool parsed_ = false;
  Json doc_;
  Rejection failure_;
};

// What one source (a point's, or a control's state) makes of a message.
struct Extracted {
  enum class Outcome : std::uint8_t { kValue, kNotThisMessage, kAbsent, kRejected, kNotJson };
  Outcome outcome = Outcome::kNotThisMessage;
  double value = 0.0;
  Rejection rejection;
};

Extracted value_of_text(std::string_view text, const Source& source, const std::string& name) {
  Extracted e;
  e.outcome = Extracted::Outcome::kRejected;
  if (auto it = source.values.find(text); it != source.values.end()) {
    e.outcome = Extracted::Outcome::kValue;
    e.value = it->second;
    return e;
  }
  if (text == "true" || text == "false") {
    e.outcome = Extracted::Outcome::kValue;
    e.value = text == "true" ? 1.0 : 0.0;
    return e;
  }
  if (auto v = parse_number(text)) {
    e.outcome = Extracted::Outcome::kValue;
    e.value = *v;
    return e;
  }
  e.rejection = {RejectReason::kBadValue, name,
                 text.empty() ? std::string("empty payload")
                 : source.values.empty()
                     ? fmt::format("payload {} is not a number", excerpt(text))
                     : fmt::format("payload {} is neither a number nor in the value map", excerpt(text))};
  return e;
}

Extracted value_of_json(const Json& v, const Source& source, const std::string& name) {
  Extracted e;
  e.outcome = Extracted::Outcome::kRejected;
  const std::string& where = source.json->text;
  if (v.is_boolean()) {
    const char* key = v.get<bool>() ? "true" : "false";
    const auto it = source.values.find(std::string_view(key));
    e.outcome = Extracted::Outcome::kValue;
    e.value = it != source.values.end() ? it->second : (v.get<bool>() ? 1.0 : 0.0);
    return e;
  }
  if (v.is_number()) {
    e.value = v.get<double>();
    if (!std::isfinite(e.value)) {
      e.rejection = {RejectReason::kBadValue, name, fmt::format("{} is not a finite number", where)};
      return e;
    }
    e.outcome = Extracted::Outcome::kValue;
    return e;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (auto it = source.values.find(s); it != source.values.end()) {
      e.outcome = Extracted::Outcome::kValue;
      e.value = it->second;
      return e;
    }
    if (!source.values.empty()) {
      e.rejection = {RejectReason::kBadValue, name, fmt::format("{} = {} is not in the value map", where, excerpt(s))};
      return e;
    }
    if (auto n = parse_number(trim(s))) {
      e.outcome = Extracted::Outcome::kValue;
      e.value = *n;
      return e;
    }
    e.rejection = {RejectReason::kWrongType, name,
                   fmt::format("{} is the string {}, not a number", where, excerpt(s))};
    return e;
  }
  e.rejection = {RejectReason::kWrongType, name, fmt::format("{} is {}, not a value", where, json_type_name(v))};
  return e;
}

Extracted extract(const Source& source, const std::string& name, Payload& payload, const Json** doc_out) {
  Extracted e;
  if (!source.json) {
    return value_of_text(payload.text(), source, name);
  }
  const Json* doc = payload.document();
  if (doc == nullptr) {
    e.outcome = Extracted::Outcome::kNotJson;
    return e;
  }
  *doc_out = doc;
  if (source.when) {
    const Json* field = resolve(*doc, source.when->json);
    const bool holds = field != nullptr && std::any_of(source.when->equals.begin(), source.when->equals.end(),
                                                       [&](const Literal& l) { return literal_equals(*field, l); });
    if (!holds) {
      e.outcome = Extracted::Outcome::kNotThisMessage;
      return e;
    }
  }
  const Json* field = resolve(*doc, *source.json);
  if (field == nullptr) {
    e.outcome = Extracted::Outcome::kAbsent;
    e.rejection = {RejectReason::kMissingField, name, source.json->text};
    return e;
  }
  return value_of_json(*field, source, name);
}

std::optional<std::int64_t> timestamp_of(const Json& doc, const Point& pt) {
  if (!pt.timestamp) return std::nullopt;
  const Json* field = resolve(doc, *pt.timestamp);
  if (field == nullptr || !field->is_number()) return std::nullopt;
  const double raw = field->get<double>();
  const double ms = pt.timestamp_unit == TimestampUnit::kSeconds ? raw * 1000.0 : raw;
  if (!std::isfinite(ms) || ms < static_cast<double>(kFirstPlausibleMs) || ms > static_cast<double>(kLastPlausibleMs)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(std::llround(ms));
}

void interpret_availability(const Availability& a, Payload& payload, Interpretation& out) {
  std::string_view candidate = payload.text();
  if (a.json) {
    if (const Json* doc = payload.document()) {
      if (const Json* field = resolve(*doc, *a.json)) {
        if (!field->is_string()) {
          out.rejections.push_back({RejectReason::kWrongType, "",
                                    fmt::format("availability {} is {}, not a string", a.json->text,
                                                json_type_name(*field))});
          return;
        }
        candidate = field->get_ref<const std::string&>();
      }
    }
  }
  if (candidate == a.payload_online) {
    out.online = true;
  } else if (candidate == a.payload_offline) {
    out.online = false;
  } else {
    out.rejections.push_back({RejectReason::kBadValue, "",
                              fmt::format("availability {} is neither {} nor {}", excerpt(candidate),
                                          excerpt(a.payload_online), excerpt(a.payload_offline))});
  }
}

Interpretation interpret_unchecked(const DeviceBinding& b, std::string_view topic, std::string_view raw) {
  Interpretation out;
  if (topic.size() > kMaxTopicBytes) {
    out.rejections.push_back({RejectReason::kTooLarge, "", fmt::format("topic longer than {} bytes", kMaxTopicBytes)});
    return out;
  }
  if (!valid_topic_name(topic)) {
    out.rejections.push_back({RejectReason::kNoMapping, "", fmt::format("{} is not a topic name", excerpt(topic))});
    return out;
  }
  const Profile& p = *b.profile;
  const bool availability = p.availability && topic == b.availability_topic;
  // A profile's points mostly share one topic: a filter equal to the one before has its answer.
  const std::string* previous = nullptr;
  bool previous_matches = false;
  const auto matches = [&](const std::string& filter) {
    if (previous == nullptr || filter != *previous) {
      previous = &filter;
      previous_matches = topic_matches(filter, topic);
    }
    return previous_matches;
  };
  std::vector<std::size_t> points;
  for (std::size_t i = 0; i < p.points.size() && i < b.point_filters.size(); ++i) {
    if (matches(b.point_filters[i])) points.push_back(i);
  }
  std::vector<std::size_t> controls;
  for (std::size_t i = 0; i < p.controls.size() && i < b.state_filters.size(); ++i) {
    if (p.controls[i].state && matches(b.state_filters[i])) controls.push_back(i);
  }
  if (!availability && points.empty() && controls.empty()) {
    out.rejections.push_back({RejectReason::kNoMapping, "",
                              fmt::format("profile {} maps nothing on {}", p.name, excerpt(topic))});
    return out;
  }
  if (raw.size() > kMaxPayloadBytes) {
    out.rejections.push_back({RejectReason::kTooLarge, "",
                              fmt::format("payload of {} bytes is over the {} byte limit", raw.size(), kMaxPayloadBytes)});
    return out;
  }

  Payload payload(raw);
  if (availability) interpret_availability(*p.availability, payload, out);

  bool json_failure = false;
  std::vector<std::string> missing;
  auto consider = [&](const Extracted& e) -> bool {
    switch (e.outcome) {
      case Extracted::Outcome::kValue: return true;
      case Extracted::Outcome::kNotJson: json_failure = true; break;
      case Extracted::Outcome::kAbsent:
        if (std::find(missing.begin(), missing.end(), e.rejection.message) == missing.end()) {
          missing.push_back(e.rejection.message);
        }
        break;
      case Extracted::Outcome::kRejected: out.rejections.push_back(e.rejection); break;
      case Extracted::Outcome::kNotThisMessage: break;
    }
    return false;
  };

  for (const std::size_t i : points) {
    const Point& pt = p.points[i];
    const Json* doc = nullptr;
    const Extracted e = extract(pt.source, pt.name, payload, &doc);
    if (!consider(e)) continue;
    const double value = e.value * pt.scale;
    if (!std::isfinite(value)) {
      out.rejections.push_back({RejectReason::kBadValue, pt.name, "the scaled value is not finite"});
      continue;
    }
    if ((pt.min && value < *pt.min) || (pt.max && value > *pt.max)) {
      out.rejections.push_back(
          {RejectReason::kBadValue, pt.name,
           fmt::format("{} {} is outside [{}, {}]", format_number(value), pt.unit,
                       pt.min ? format_number(*pt.min) : "-inf", pt.max ? format_number(*pt.max) : "inf")});
      continue;
    }
    PointValue v;
    v.point = pt.name;
    v.unit = pt.unit;
    v.value = value;
    v.kind = pt.kind;
    v.max_age_ms = pt.max_age.count();
    if (doc != nullptr) v.timestamp_ms = timestamp_of(*doc, pt);
    out.readings.push_back(std::move(v));
  }
  for (const std::size_t i : controls) {
    const Control& ct = p.controls[i];
    const Json* doc = nullptr;
    const Extracted e = extract(*ct.state, ct.name, payload, &doc);
    if (consider(e)) out.observations.push_back({ct.name, e.value});
  }

  if (json_failure) out.rejections.push_back(payload.failure());
  if (!out.used() && out.rejections.empty()) {
    if (!missing.empty()) {
      std::string fields;
      for (std::size_t k = 0; k < missing.size() && k < 3; ++k) fields += (k ? ", " : "") + missing[k];
      if (missing.size() > 3) fields += ", ...";
      out.rejections.push_back({RejectReason::kMissingField, "", fmt::format("none of {} is in the message", fields)});
    } else {
      out.rejections.push_back(
          {RejectReason::kNoMapping, "", "a message of a kind no point wants (its `when` conditions do not hold)"});
    }
  }
  return out;
}

}  // namespace

std::string_view to_string(RejectReason r) {
  switch (r) {
    case RejectReason::kNotJson: return "not_json";
    case RejectReason::kWrongType: return "wrong_type";
    case RejectReason::kMissingField: return "missing_field";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kNoMapping: return "no_mapping";
    case RejectReason::kBadValue: return "bad_value";
  }
  return "unknown";
}

bool valid_topic_name(std::string_view topic) {
  return !topic.empty() && topic.size() <= kMaxTopicBytes && !has_wildcard_or_nul(topic) && valid_utf8(topic);
}

bool valid_topic_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes || filter.find('\0') != npos || !valid_utf8(filter)) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t end = filter.find('/', start);
    const std::string_view level = filter.substr(start, end == npos ? npos : end - start);
    if (has_wildcard_or_nul(level)) {  // no NUL here: checked above
      if (level.size() != 1) return false;      // "a+" or "#b": a wildcard must be the whole level
      if (level == "#" && end != npos) return false;  // '#' only as the last level
    }
    if (end == npos) return true;
    start = end + 1;
  }
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  // The levels are compared first and validity is checked only for a match: a bus offers every
  // message to every device's filters, most of which differ at the first or second level, and the
  // validity checks walk both texts in full. The answer is the same: false when either is invalid.
  if (filter.empty() || topic.empty()) return false;
  // 4.7.2: wildcards at the first level do not match topics starting with '$' ($SYS/...).
  if ((filter.front() == '+' || filter.front() == '#') && topic.front() == '$') return false;
  const auto matched = [&] { return valid_topic_filter(filter) && valid_topic_name(topic); };
  // One walk over both texts, level by level (no find or compare calls: most filters differ from
  // the topic within the first few bytes). For invalid input the walk's answer does not matter,
  // since a match is checked above; it only stays within both texts.
  const std::size_t fn = filter.size();
  const std::size_t tn = topic.size();
  std::size_t fi = 0;
  std::size_t ti = 0;
  while (true) {  // fi and ti at the start of a level
    if (fi < fn && filter[fi] == '#') return matched();  // '#' is the whole last level
    if (fi < fn && filter[fi] == '+') {                  // '+' is a whole level: skip the topic's
      ++fi;
      while (ti < tn && topic[ti] != '/') ++ti;
    } else {
      while (fi < fn && ti < tn && filter[fi] != '/' && filter[fi] == topic[ti]) {
        ++fi;
        ++ti;
      }
      if ((fi < fn && filter[fi] != '/') || (ti < tn && topic[ti] != '/')) return false;
    }
    if (fi >= fn) return ti >= tn && matched();
    // The topic ends here: only a last "#" level matches the parent ("sport/#" matches "sport").
    if (ti >= tn) return filter.substr(fi + 1) == "#" && matched();
    ++fi;  // past the '/' of both
    ++ti;
  }
}

bool valid_topic_variable(std::string_view value) {
  return !value.empty() && value.size() <= kMaxVariableBytes &&
         value.find_first_of(std::string_view("+#\0", 3)) == npos && valid_utf8(value);
}

std::optional<std::string> render_topic(std::string_view text, const Variables& variables) {
  try {
    return render(text, variables, true, std::nullopt, false);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> render_payload(const Control& control, const Variables& variables, double value) {
  if (!std::isfinite(value)) return std::nullopt;
  try {
    std::string value_text;
    if (control.command_values.empty()) {
      value_text = format_number(value);
    } else {
      const auto it = std::find_if(control.command_values.begin(), control.command_values.end(),
                                   [&](const auto& entry) { return entry.first == value; });
      if (it == control.command_values.end()) return std::nullopt;
      value_text = render_literal(it->second, control.format);
    }
    return render(control.payload, variables, false, value_text, control.format == PayloadFormat::kJson);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

BindResult bind_device(std::shared_ptr<const Profile> profile, std::string_view topic_id, const Variables& overrides) {
  BindResult r;
  if (!profile) {
    r.errors.emplace_back("no profile");
    return r;
  }
  try {
    const Profile& p = *profile;
    Variables vars;
    if (!valid_topic_variable(topic_id)) {
      r.errors.push_back(fmt::format("topic id {}: must be 1-{} bytes of UTF-8 without '+', '#' or NUL",
                                     excerpt(topic_id), kMaxVariableBytes));
    }
    vars.emplace("id", std::string(topic_id));
    for (const auto& [name, value] : p.variables) vars.emplace(name, value);
    for (const auto& [name, value] : overrides) {
      if (p.variables.find(name) == p.variables.end()) {
        std::string declared;
        for (const auto& entry : p.variables) declared += (declared.empty() ? "" : ", ") + entry.first;
        r.errors.push_back(fmt::format("variable {}: profile {} declares no such variable ({})", name, p.name,
                                       declared.empty() ? "it declares none" : "it has " + declared));
        continue;
      }
      if (!valid_topic_variable(value)) {
        r.errors.push_back(fmt::format("variable {}: {} must be 1-{} bytes of UTF-8 without '+', '#' or NUL", name,
                                       excerpt(value), kMaxVariableBytes));
        continue;
      }
      vars[name] = value;
    }
    if (!r.errors.empty()) return r;

    DeviceBinding b;
    auto topic = [&](const std::string& text, bool filter, const std::string& what) -> std::string {
      auto rendered = render_topic(text, vars);
      if (!rendered || !(filter ? valid_topic_filter(*rendered) : valid_topic_name(*rendered))) {
        r.errors.push_back(fmt::format("{}: \"{}\" does not render as a topic {}", what, text,
                                       filter ? "filter" : "name"));
        return {};
      }
      return std::move(*rendered);
    };
    if (p.availability) b.availability_topic = topic(p.availability->topic, false, "availability.topic");
    for (const Point& pt : p.points) b.point_filters.push_back(topic(pt.source.topic, true, "point " + pt.name));
    for (const Control& ct : p.controls) {
      b.command_topics.push_back(topic(ct.command_topic, false, "control " + ct.name));
      b.state_filters.push_back(ct.state ? topic(ct.state->topic, true, "control " + ct.name + " state") : "");
    }
    if (!r.errors.empty()) return r;
    b.profile = std::move(profile);
    b.variables = std::move(vars);
    r.binding = std::move(b);
  } catch (const std::exception& e) {
    r.binding.reset();
    r.errors.push_back(fmt::format("cannot bind: {}", e.what()));
  }
  return r;
}

std::vector<std::string> subscriptions(const DeviceBinding& binding) {
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  auto add = [&](const std::string& filter) {
    if (!filter.empty() && seen.insert(filter).second) out.push_back(filter);
  };
  add(binding.availability_topic);
  for (const std::string& f : binding.point_filters) add(f);
  for (const std::string& f : binding.state_filters) add(f);
  return out;
}

Interpretation interpret(const DeviceBinding& binding, std::string_view topic, std::string_view payload) {
  if (!binding.profile) {
    Interpretation out;
    out.rejections.push_back({RejectReason::kNoMapping, "", "no profile"});
    return out;
  }
  try {
    return interpret_unchecked(binding, topic, payload);
  } catch (const std::exception& e) {  // allocation failure; the parser itself does not throw
    Interpretation out;
    out.rejections.push_back({RejectReason::kTooLarge, "", fmt::format("cannot be processed: {}", e.what())});
    return out;
  }
}

Reading to_reading(const PointValue& value, std::string device, std::int64_t received_ms) {
  Reading r;
  r.device = std::move(device);
  r.point = value.point;
  r.unit = value.unit;
  r.value = value.value;
  r.quality = Quality::kGood;
  r.timestamp_ms = value.timestamp_ms.value_or(received_ms);
  r.max_age_ms = value.max_age_ms;
  return r;
}

CommandResult render_command(const DeviceBinding& binding, std::string_view control, double value) {
  CommandResult r;
  const Profile* p = binding.profile.get();
  std::size_t index = 0;
  while (p != nullptr && index < p->controls.size() && p->controls[index].name != control) ++index;
  if (p == nullptr || index >= p->controls.size() || index >= binding.command_topics.size()) {
    r.rejection = Rejection{RejectReason::kNoMapping, std::string(control), "no such control"};
    return r;
  }
  const Control& ct = p->controls[index];
  if (!std::isfinite(value)) {
    r.rejection = Rejection{RejectReason::kBadValue, ct.name, "the value is not finite"};
    return r;
  }
  if ((ct.min && value < *ct.min) || (ct.max && value > *ct.max)) {
    r.rejection = Rejection{RejectReason::kBadValue, ct.name,
                            fmt::format("{} is outside [{}, {}]", format_number(value),
                                        ct.min ? format_number(*ct.min) : "-inf",
                                        ct.max ? format_number(*ct.max) : "inf")};
    return r;
  }
  auto payload = render_payload(ct, binding.variables, value);
  if (!payload) {
    std::string accepted;
    for (const auto& entry : ct.command_values) {
      accepted += (accepted.empty() ? "" : ", ") + format_number(entry.first);
    }
    r.rejection = Rejection{RejectReason::kBadValue, ct.name,
                            fmt::format("{} is not a value this control takes ({})", format_number(value), accepted)};
    return r;
  }
  r.command = Command{binding.command_topics[index], std::move(*payload)};
  return r;
}

bool confirms(const Control& control, double commanded, double reported) {
  if (!std::isfinite(commanded) || !std::isfinite(reported)) return false;
  // A relative hair of slack, so that a tolerance of 0.1 accepts 50.1 for 50 despite binary floats.
  const double slack = 1e-9 * std::max(1.0, std::fabs(commanded));
  return std::fabs(reported - commanded) <= control.tolerance + slack;
}

}  // namespace gridlet::adapters::mqtt
