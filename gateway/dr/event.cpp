#include "gateway/dr/event.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace gridlet::dr {
namespace {

// ---- Reading JSON ---------------------------------------------------------------------------
// nlohmann's DOM keeps numbers as double, which would lose "0.17"'s exactness; its SAX interface
// hands over a number's text, so we build a small tree of our own that keeps it.

struct Node {
  enum class Kind : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;  // a string's contents, or a number's text as written
  std::vector<Node> items;         // an array's items, or an object's member values
  std::vector<std::string> names;  // an object's member names, parallel to items (document order)
};

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Builds a Node tree, refusing nesting beyond kMaxJsonDepth and duplicate member names.
class TreeBuilder {
 public:
  using json = nlohmann::json;

  bool null() { return add(Node{}); }
  bool boolean(bool value) {
    Node n;
    n.kind = Node::Kind::kBool;
    n.boolean = value;
    return add(std::move(n));
  }
  bool number_integer(json::number_integer_t value) { return number(std::to_string(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return number(std::to_string(value)); }
  bool number_float(json::number_float_t /*value*/, const json::string_t& text) { return number(text); }
  bool string(json::string_t& value) {
    Node n;
    n.kind = Node::Kind::kString;
    n.text = std::move(value);
    return add(std::move(n));
  }
  bool binary(json::binary_t& /*value*/) { return fail("", "binary values are not JSON"); }
  bool start_object(std::size_t /*size*/) { return open(Node::Kind::kObject); }
  bool key(json::string_t& name) {
    key_ = std::move(name);
    return true;
  }
  bool end_object() {
    Frame& frame = stack_.back();
    std::vector<std::string_view> names;
    names.reserve(frame.node->names.size());
    for (const std::string& name : frame.node->names) names.push_back(name);
    std::sort(names.begin(), names.end());
    const auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) {
      return fail(frame.pointer + "/" + escape_pointer_token(*dup), "appears twice in the object");
    }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*size*/) { return open(Node::Kind::kArray); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string& /*last_token*/, const json::exception& ex) {
    // ex.what() is "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string_view what = ex.what();
    if (const auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return fail("", "invalid JSON (byte " + std::to_string(position) + "): " + std::string(what));
  }

  Node& root() { return root_; }
  const std::optional<InputError>& error() const { return error_; }

 private:
  struct Frame {
    Node* node;
    std::string pointer;
  };

  bool fail(std::string pointer, std::string message) {
    if (!error_) error_ = InputError{std::move(pointer), std::move(message)};
    return false;
  }

  bool number(std::string text) {
    Node n;
    n.kind = Node::Kind::kNumber;
    n.text = std::move(text);
    return add(std::move(n));
  }

  // Places `n` in its parent; returns false (stops the parse) on error.
  bool add(Node n) { return place(std::move(n)) != nullptr; }

  Node* place(Node n) {
    if (stack_.empty()) {
      root_ = std::move(n);
      last_pointer_.clear();
      return &root_;
    }
    Frame& parent = stack_.back();
    if (parent.node->kind == Node::Kind::kArray) {
      last_pointer_ = parent.pointer + "/" + std::to_string(parent.node->items.size());
      parent.node->items.push_back(std::move(n));
      return &parent.node->items.back();
    }
    last_pointer_ = parent.pointer + "/" + escape_pointer_token(key_);
    parent.node->names.push_back(std::move(key_));
    parent.node->items.push_back(std::move(n));
    return &parent.node->items.back();
  }

  bool open(Node::Kind kind) {
    if (stack_.size() >= kMaxJsonDepth) {
      return fail(stack_.back().pointer, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    Node n;
    n.kind = kind;
    Node* placed = place(std::move(n));
    // Pointers into parents stay valid: a container only grows while it is the innermost open one.
    stack_.push_back(Frame{placed, last_pointer_});
    return true;
  }

  Node root_;
  std::vector<Frame> stack_;
  std::string key_;
  std::string last_pointer_;
  std::optional<InputError> error_;
};

// ---- Validating -----------------------------------------------------------------------------
// Inside this file a refusal is thrown as Invalid and turned into an InputError at parse_event.

struct Invalid {
  std::string pointer;
  std::string message;
};

[[noreturn]] void invalid(std::string pointer, std::string message) {
  throw Invalid{std::move(pointer), std::move(message)};
}

const char* kind_name(Node::Kind kind) {
  switch (kind) {
    case Node::Kind::kNull: return "null";
    case Node::Kind::kBool: return "a boolean";
    case Node::Kind::kNumber: return "a number";
    case Node::Kind::kString: return "a string";
    case Node::Kind::kArray: return "an array";
    case Node::Kind::kObject: return "an object";
  }
  return "?";
}

// The members of one JSON object: refuses names not in `allowed`; null members read as absent.
class ObjectReader {
 public:
  ObjectReader(const Node& node, std::string pointer, std::initializer_list<std::string_view> allowed)
      : node_(node), pointer_(std::move(pointer)) {
    if (node.kind != Node::Kind::kObject) {
      invalid(pointer_.empty() ? "" : pointer_, std::string("expected an object, not ") + kind_name(node.kind));
    }
    for (const std::string& name : node.names) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        invalid(at(name), "unknown field");
      }
    }
  }

  const Node* find(std::string_view name) const {
    for (std::size_t i = 0; i < node_.names.size(); ++i) {
      if (node_.names[i] == name) return node_.items[i].kind == Node::Kind::kNull ? nullptr : &node_.items[i];
    }
    return nullptr;
  }
  const Node& require(std::string_view name) const {
    const Node* n = find(name);
    if (n == nullptr) invalid(at(name), "required field is missing");
    return *n;
  }
  std::string at(std::string_view name) const { return pointer_ + "/" + escape_pointer_token(name); }
  const std::string& pointer() const { return pointer_; }

 private:
  const Node& node_;
  std::string pointer_;
};

const std::string& expect_string(const Node& n, const std::string& pointer, std::size_t min_length,
                                 std::size_t max_length = kMaxStringLength) {
  if (n.kind != Node::Kind::kString) invalid(pointer, std::string("expected a string, not ") + kind_name(n.kind));
  if (n.text.size() < min_length) invalid(pointer, "must not be empty");
  if (n.text.size() > max_length) {
    invalid(pointer, "longer than " + std::to_string(max_length) + " bytes");
  }
  return n.text;
}

// OpenADR's objectID: ^[a-zA-Z0-9_-]*$, here 1..128 characters.
std::string expect_object_id(const Node& n, const std::string& pointer) {
  const std::string& s = expect_string(n, pointer, 1);
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) invalid(pointer, "may contain only letters, digits, '_' and '-'");
  }
  return s;
}

const std::vector<Node>& expect_array(const Node& n, const std::string& pointer, std::size_t max_items,
                                      const char* what = "expected an array") {
  if (n.kind != Node::Kind::kArray) invalid(pointer, std::string(what) + ", not " + kind_name(n.kind));
  if (n.items.size() > max_items) {
    invalid(pointer, "more than " + std::to_string(max_items) + " items");
  }
  return n.items;
}

// A JSON integer within [min, max]: digits with an optional '-', no fraction or exponent.
std::int64_t expect_integer(const Node& n, const std::string& pointer, std::int64_t min, std::int64_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (n.kind != Node::Kind::kNumber) invalid(pointer, "expected an integer " + range + ", not " + kind_name(n.kind));
  std::string_view t = n.text;
  const bool negative = !t.empty() && t.front() == '-';
  if (negative) t.remove_prefix(1);
  const bool digits_only = !t.empty() && t.size() <= 18 &&
                           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits_only) invalid(pointer, "expected an integer " + range);
  std::int64_t v = 0;
  for (const char c : t) v = v * 10 + (c - '0');
  if (negative) v = -v;
  if (v < min || v > max) invalid(pointer, "expected an integer " + range);
  return v;
}

std::int64_t expect_timestamp(const Node& n, const std::string& pointer) {
  const auto r = parse_timestamp_ms(expect_string(n, pointer, 1));
  if (!r.is_ok()) invalid(pointer, r.error().message);
  return *r;
}

std::int64_t expect_duration(const Node& n, const std::string& pointer, std::int64_t max_ms, bool open_ended_ok) {
  const auto r = parse_duration_ms(expect_string(n, pointer, 1));
  if (!r.is_ok()) invalid(pointer, r.error().message);
  if (*r == kOpenEndedMs) {
    if (!open_ended_ok) invalid(pointer, "may not be open-ended (P9999Y)");
    return *r;
  }
  if (*r > max_ms) invalid(pointer, "longer than " + format_duration_ms(max_ms));
  return *r;
}

Decimal expect_decimal(const Node& n, const std::string& pointer) {
  if (n.kind != Node::Kind::kNumber) invalid(pointer, std::string("expected a number, not ") + kind_name(n.kind));
  const auto r = parse_decimal(n.text);
  if (!r.is_ok()) invalid(pointer, r.error().message);
  return *r;
}

// ---- Timing ---------------------------------------------------------------------------------

// An interval_period as written, each value with the pointer it came from.
struct PeriodField {
  std::int64_t value = 0;
  std::string pointer;
};
struct WrittenPeriod {
  std::optional<PeriodField> start;
  std::optional<PeriodField> duration;
  std::optional<PeriodField> randomize_start;
};

WrittenPeriod read_period(const Node& n, const std::string& pointer) {
  const ObjectReader r(n, pointer, {"start", "duration", "randomize_start"});
  WrittenPeriod p;
  if (const Node* s = r.find("start")) {
    const std::string at = r.at("start");
    // OpenADR also writes "now" without a time or an offset.
    if (s->kind == Node::Kind::kString && (s->text == "0001-01-01" || s->text == "0001-01-01T00:00:00")) {
      p.start = PeriodField{kStartNowMs, at};
    } else {
      const std::int64_t ms = expect_timestamp(*s, at);
      if (!is_relative_to_now(ms) && ms < 0) {
        invalid(at, "before 1970 (only year 0001 has a meaning: relative to \"now\")");
      }
      p.start = PeriodField{ms, at};
    }
  }
  if (const Node* d = r.find("duration")) {
    p.duration = PeriodField{expect_duration(*d, r.at("duration"), kMaxDurationMs, true), r.at("duration")};
  }
  if (const Node* d = r.find("randomize_start")) {
    p.randomize_start =
        PeriodField{expect_duration(*d, r.at("randomize_start"), kMaxRandomizeStartMs, false), r.at("randomize_start")};
  }
  return p;
}

bool is_cancel_form(std::int64_t start_ms, std::int64_t duration_ms) {
  return start_ms == kStartNowMs && duration_ms == 0;
}

// ---- Payloads -------------------------------------------------------------------------------

constexpr std::array<std::pair<PayloadType, std::string_view>, 10> kPayloadNames = {{
    {PayloadType::kSimple, "SIMPLE"},
    {PayloadType::kPrice, "PRICE"},
    {PayloadType::kExportPrice, "EXPORT_PRICE"},
    {PayloadType::kGhg, "GHG"},
    {PayloadType::kImportCapacityLimit, "IMPORT_CAPACITY_LIMIT"},
    {PayloadType::kExportCapacityLimit, "EXPORT_CAPACITY_LIMIT"},
    {PayloadType::kDispatchSetpoint, "DISPATCH_SETPOINT"},
    {PayloadType::kDispatchSetpointRelative, "DISPATCH_SETPOINT_RELATIVE"},
    {PayloadType::kChargeStateSetpoint, "CHARGE_STATE_SETPOINT"},
    {PayloadType::kControlSetpoint, "CONTROL_SETPOINT"},
}};

PayloadValue read_any_value(const Node& n, const std::string& pointer) {
  switch (n.kind) {
    case Node::Kind::kNumber: return expect_decimal(n, pointer);
    case Node::Kind::kBool: return n.boolean;
    case Node::Kind::kString: return expect_string(n, pointer, 0);
    case Node::Kind::kObject: {
      const ObjectReader r(n, pointer, {"x", "y"});
      return PayloadPoint{expect_decimal(r.require("x"), r.at("x")), expect_decimal(r.require("y"), r.at("y"))};
    }
    case Node::Kind::kNull:
    case Node::Kind::kArray: break;
  }
  invalid(pointer, std::string("expected a number, string, boolean or point {x, y}, not ") + kind_name(n.kind));
}

struct TypeName {
  PayloadType type;
  std::string unknown;
};

TypeName read_type_name(const Node& n, const std::string& pointer) {
  const std::string& name = expect_string(n, pointer, 1);
  const PayloadType type = payload_type_from_name(name);
  return {type, type == PayloadType::kUnknown ? name : std::string()};
}

bool is_percent(const PayloadDescriptor* d) { return d == nullptr || !d->units || *d->units == "PERCENT"; }

Payload read_payload(const Node& n, const std::string& pointer, const DrEvent& event) {
  const ObjectReader r(n, pointer, {"type", "values"});
  auto [type, unknown] = read_type_name(r.require("type"), r.at("type"));
  Payload p{type, std::move(unknown), {}};
  const std::string at = r.at("values");
  const Node& values = r.require("values");
  const std::string_view name = p.type_name();

  if (type == PayloadType::kUnknown || type == PayloadType::kControlSetpoint) {
    const auto& items = expect_array(values, at, kMaxValuesPerPayload);
    if (type == PayloadType::kControlSetpoint && items.size() != 1) invalid(at, "CONTROL_SETPOINT takes exactly one value");
    for (std::size_t i = 0; i < items.size(); ++i) p.values.push_back(read_any_value(items[i], at + "/" + std::to_string(i)));
    return p;
  }

  const auto& items = expect_array(values, at, kMaxValuesPerPayload, "expected an array of numbers");
  for (const Node& item : items) {
    if (item.kind != Node::Kind::kNumber) invalid(at, "expected an array of numbers");
  }
  if (items.size() != 1) invalid(at, std::string(name) + " takes exactly one value");
  const std::string at0 = at + "/0";
  const Decimal v = expect_decimal(items[0], at0);
  switch (type) {
    case PayloadType::kSimple:
      if (!v.is_integer() || v < Decimal::units(0) || v > Decimal::units(3)) {
        invalid(at0, "SIMPLE takes a level 0, 1, 2 or 3");
      }
      break;
    case PayloadType::kGhg:
    case PayloadType::kImportCapacityLimit:
    case PayloadType::kExportCapacityLimit:
      if (v < Decimal{0}) invalid(at0, std::string(name) + " must not be negative");
      break;
    case PayloadType::kChargeStateSetpoint:
      if (v < Decimal{0}) invalid(at0, "CHARGE_STATE_SETPOINT must not be negative");
      if (is_percent(event.descriptor_for(p)) && v > Decimal::units(100)) {
        invalid(at0, "CHARGE_STATE_SETPOINT in PERCENT must be 0..100");
      }
      break;
    default: break;
  }
  p.values.push_back(v);
  return p;
}

PayloadDescriptor read_descriptor(const Node& n, const std::string& pointer) {
  const ObjectReader r(n, pointer, {"payload_type", "units", "currency"});
  auto [type, unknown] = read_type_name(r.require("payload_type"), r.at("payload_type"));
  PayloadDescriptor d{type, std::move(unknown), std::nullopt, std::nullopt};
  if (const Node* u = r.find("units")) d.units = expect_string(*u, r.at("units"), 1);
  if (const Node* c = r.find("currency")) d.currency = expect_string(*c, r.at("currency"), 1);
  return d;
}

// ---- The event ------------------------------------------------------------------------------

DrEvent read_event(const Node& root) {
  const ObjectReader r(root, "",
                       {"event_id", "program", "name", "priority", "modification_number", "created", "modified",
                        "cancelled", "targets", "payload_descriptors", "interval_period", "intervals"});
  DrEvent e;
  e.event_id = expect_object_id(r.require("event_id"), r.at("event_id"));
  e.program = expect_object_id(r.require("program"), r.at("program"));
  if (const Node* n = r.find("name")) e.name = expect_string(*n, r.at("name"), 0);
  if (const Node* n = r.find("priority")) {
    e.priority = static_cast<std::uint32_t>(expect_integer(*n, r.at("priority"), 0, kLowestPriority));
  }
  if (const Node* n = r.find("modification_number")) {
    e.modification_number =
        static_cast<std::uint32_t>(expect_integer(*n, r.at("modification_number"), 0, 4'294'967'295));
  }
  if (const Node* n = r.find("created")) e.created_ms = expect_timestamp(*n, r.at("created"));
  if (const Node* n = r.find("modified")) e.modified_ms = expect_timestamp(*n, r.at("modified"));
  if (const Node* n = r.find("cancelled")) {
    if (n->kind != Node::Kind::kBool) invalid(r.at("cancelled"), std::string("expected a boolean, not ") + kind_name(n->kind));
    e.cancelled = n->boolean;
  }
  if (const Node* n = r.find("targets")) {
    const std::string at = r.at("targets");
    std::set<std::string> seen;
    const auto& items = expect_array(*n, at, kMaxTargets);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string item_at = at + "/" + std::to_string(i);
      const std::string& t = expect_string(items[i], item_at, 1);
      if (!seen.insert(t).second) invalid(item_at, "appears twice");
      e.targets.push_back(t);
    }
  }
  if (const Node* n = r.find("payload_descriptors")) {
    const std::string at = r.at("payload_descriptors");
    std::set<std::string, std::less<>> seen;
    const auto& items = expect_array(*n, at, kMaxPayloadDescriptors);
    for (std::size_t i = 0; i < items.size(); ++i) {
      PayloadDescriptor d = read_descriptor(items[i], at + "/" + std::to_string(i));
      if (!seen.emplace(d.type_name()).second) {
        invalid(at + "/" + std::to_string(i) + "/payload_type", "a second descriptor for " + std::string(d.type_name()));
      }
      e.payload_descriptors.push_back(std::move(d));
    }
  }

  WrittenPeriod event_period;
  if (const Node* n = r.find("interval_period")) event_period = read_period(*n, r.at("interval_period"));
  if (event_period.randomize_start) e.randomize_start_ms = event_period.randomize_start->value;
  const bool event_cancel_form = event_period.start && event_period.duration &&
                                 is_cancel_form(event_period.start->value, event_period.duration->value);

  const std::string intervals_at = r.at("intervals");
  const auto& items = expect_array(r.require("intervals"), intervals_at, kMaxIntervals);
  std::set<std::int32_t> ids;
  std::vector<std::string> duration_pointers;  // where each interval's duration came from
  // The end of the previous interval, when a following interval may start there (a plain flag and
  // value: GCC 12 warns falsely about std::optional<int64_t> here).
  bool has_next_start = false;
  std::int64_t next_start = 0;
  std::string no_next_start;  // why there is none
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string at = intervals_at + "/" + std::to_string(i);
    const ObjectReader ir(items[i], at, {"id", "interval_period", "payloads"});
    DrInterval interval;
    interval.id = static_cast<std::int32_t>(expect_integer(ir.require("id"), ir.at("id"), -2'147'483'648, 2'147'483'647));
    if (!ids.insert(interval.id).second) invalid(ir.at("id"), "interval id " + std::to_string(interval.id) + " appears twice");

    WrittenPeriod own;
    if (const Node* n = ir.find("interval_period")) own = read_period(*n, ir.at("interval_period"));
    if (own.start) {
      interval.start_ms = own.start->value;
    } else if (i == 0 && event_period.start) {
      interval.start_ms = event_period.start->value;
    } else if (i == 0) {
      invalid(at, "no start: set interval_period.start on the event or on the interval");
    } else if (!has_next_start) {
      invalid(at, no_next_start);
    } else {
      interval.start_ms = next_start;
    }
    const auto& duration = own.duration ? own.duration : event_period.duration;
    if (!duration) invalid(at, "no duration: set interval_period.duration on the event or on the interval");
    interval.duration_ms = duration->value;
    duration_pointers.push_back(duration->pointer);
    if (own.randomize_start) interval.randomize_start_ms = own.randomize_start->value;

    // Where the next interval starts when it has no start of its own; a start computed from a
    // relative one must stay relative (in year 0001), an absolute one within year 9999.
    has_next_start = false;
    if (interval.open_ended()) {
      no_next_start = "no start, and the interval before is open-ended";
    } else {
      const std::int64_t end = interval.start_ms + interval.duration_ms;
      const bool relative = is_relative_to_now(interval.start_ms);
      if (end <= (relative ? kRelativeToNowEndMs - 1 : kMaxTimestampMs)) {
        next_start = end;
        has_next_start = true;
      } else {
        no_next_start = relative ? "no start, and the interval before ends more than a year after \"now\""
                                 : "no start, and the interval before ends after year 9999";
      }
    }

    const std::string payloads_at = ir.at("payloads");
    const auto& payloads = expect_array(ir.require("payloads"), payloads_at, kMaxPayloadsPerInterval);
    std::set<std::string, std::less<>> types;
    for (std::size_t k = 0; k < payloads.size(); ++k) {
      const std::string pat = payloads_at + "/" + std::to_string(k);
      Payload p = read_payload(payloads[k], pat, e);
      if (!types.emplace(p.type_name()).second) {
        invalid(pat + "/type", std::string(p.type_name()) + " appears twice in this interval");
      }
      interval.payloads.push_back(std::move(p));
    }
    e.intervals.push_back(std::move(interval));
  }

  const bool every_interval_cancel_form =
      !e.intervals.empty() && std::all_of(e.intervals.begin(), e.intervals.end(), [](const DrInterval& iv) {
        return is_cancel_form(iv.start_ms, iv.duration_ms);
      });
  e.cancelled = e.cancelled || event_cancel_form || every_interval_cancel_form;
  if (!e.cancelled) {
    if (e.intervals.empty()) invalid(intervals_at, "an event needs at least one interval (unless cancelled)");
    for (std::size_t i = 0; i < e.intervals.size(); ++i) {
      if (e.intervals[i].duration_ms == 0) {
        invalid(duration_pointers[i], "must be longer than PT0S (PT0S with start \"now\" is OpenADR's cancel form)");
      }
    }
  }
  return e;
}

// ---- Writing JSON ---------------------------------------------------------------------------

void write_string(std::string& out, std::string_view s) {
  out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_value(std::string& out, const PayloadValue& v) {
  if (const auto* d = std::get_if<Decimal>(&v)) {
    out += format_decimal(*d);
  } else if (const auto* b = std::get_if<bool>(&v)) {
    out += *b ? "true" : "false";
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    write_string(out, *s);
  } else if (const auto* p = std::get_if<PayloadPoint>(&v)) {
    out += "{\"x\":" + format_decimal(p->x) + ",\"y\":" + format_decimal(p->y) + "}";
  }
}

}  // namespace

std::string_view to_string(PayloadType type) {
  for (const auto& [t, name] : kPayloadNames) {
    if (t == type) return name;
  }
  return "";
}

PayloadType payload_type_from_name(std::string_view name) {
  for (const auto& [t, n] : kPayloadNames) {
    if (n == name) return t;
  }
  return PayloadType::kUnknown;
}

std::optional<Decimal> Payload::number() const {
  if (values.size() != 1) return std::nullopt;
  if (const auto* d = std::get_if<Decimal>(&values.front())) return *d;
  return std::nullopt;
}

const PayloadDescriptor* DrEvent::descriptor_for(const Payload& payload) const {
  for (const PayloadDescriptor& d : payload_descriptors) {
    if (d.type == payload.type && d.unknown_type == payload.unknown_type) return &d;
  }
  return nullptr;
}

Result<DrEvent> parse_event(std::string_view json) {
  if (json.size() > kMaxEventJsonBytes) {
    return InputError{"", "event larger than " + std::to_string(kMaxEventJsonBytes) + " bytes"};
  }
  TreeBuilder builder;
  try {
    const bool parsed = nlohmann::json::sax_parse(json.begin(), json.end(), &builder);
    if (!parsed || builder.error()) {
      if (builder.error()) return *builder.error();
      return InputError{"", "invalid JSON"};
    }
  } catch (const nlohmann::json::exception& ex) {
    return InputError{"", std::string("invalid JSON: ") + ex.what()};
  }
  try {
    return read_event(builder.root());
  } catch (Invalid& bad) {
    return InputError{std::move(bad.pointer), std::move(bad.message)};
  }
}

std::string to_json(const DrEvent& e) {
  std::string out;
  out.reserve(256 + e.intervals.size() * 128);
  out += "{\"event_id\":";
  write_string(out, e.event_id);
  out += ",\"program\":";
  write_string(out, e.program);
  if (!e.name.empty()) {
    out += ",\"name\":";
    write_string(out, e.name);
  }
  if (e.priority != kLowestPriority) out += ",\"priority\":" + std::to_string(e.priority);
  out += ",\"modification_number\":" + std::to_string(e.modification_number);
  if (e.created_ms) out += ",\"created\":\"" + format_timestamp_ms(*e.created_ms) + "\"";
  if (e.modified_ms) out += ",\"modified\":\"" + format_timestamp_ms(*e.modified_ms) + "\"";
  out += e.cancelled ? ",\"cancelled\":true" : ",\"cancelled\":false";
  if (!e.targets.empty()) {
    out += ",\"targets\":[";
    for (std::size_t i = 0; i < e.targets.size(); ++i) {
      if (i != 0) out.push_back(',');
      write_string(out, e.targets[i]);
    }
    out.push_back(']');
  }
  if (!e.payload_descriptors.empty()) {
    out += ",\"payload_descriptors\":[";
    for (std::size_t i = 0; i < e.payload_descriptors.size(); ++i) {
      const PayloadDescriptor& d = e.payload_descriptors[i];
      if (i != 0) out.push_back(',');
      out += "{\"payload_type\":";
      write_string(out, d.type_name());
      if (d.units) {
        out += ",\"units\":";
        write_string(out, *d.units);
      }
      if (d.currency) {
        out += ",\"currency\":";
        write_string(out, *d.currency);
      }
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (e.randomize_start_ms != 0) {
    out += ",\"interval_period\":{\"randomize_start\":\"" + format_duration_ms(e.randomize_start_ms) + "\"}";
  }
  out += ",\"intervals\":[";
  for (std::size_t i = 0; i < e.intervals.size(); ++i) {
    const DrInterval& iv = e.intervals[i];
    if (i != 0) out.push_back(',');
    out += "{\"id\":" + std::to_string(iv.id);
    out += ",\"interval_period\":{\"start\":\"" + format_timestamp_ms(iv.start_ms) + "\",\"duration\":\"" +
           format_duration_ms(iv.duration_ms) + "\"";
    if (iv.randomize_start_ms) out += ",\"randomize_start\":\"" + format_duration_ms(*iv.randomize_start_ms) + "\"";
    out += "},\"payloads\":[";
    for (std::size_t k = 0; k < iv.payloads.size(); ++k) {
      const Payload& p = iv.payloads[k];
      if (k != 0) out.push_back(',');
      out += "{\"type\":";
      write_string(out, p.type_name());
      out += ",\"values\":[";
      for (std::size_t v = 0; v < p.values.size(); ++v) {
        if (v != 0) out.push_back(',');
        write_value(out, p.values[v]);
      }
      out += "]}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace gridlet::dr
