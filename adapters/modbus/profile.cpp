// Loading and validating device profiles. Every check records an error and goes on, so one run
// reports every problem in the file (the same approach as the gateway's configuration loader).
#include "adapters/modbus/profile.hpp"

#include "adapters/toml_checker.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <tuple>

namespace gridlet::adapters::modbus {
namespace {

// Decodes a 1-based Modicon register number (see profile.hpp).
std::optional<std::pair<Table, std::uint16_t>> decode_modicon(std::int64_t n) {
  struct Band {
    std::int64_t first, last;
    Table table;
  };
  static constexpr Band kBands[] = {
      {1, 9999, Table::kCoil},          {10001, 19999, Table::kDiscrete},
      {30001, 39999, Table::kInput},    {40001, 49999, Table::kHolding},
      {100001, 165536, Table::kDiscrete}, {300001, 365536, Table::kInput},
      {400001, 465536, Table::kHolding},
  };
  for (const Band& b : kBands) {
    if (n >= b.first && n <= b.last) return std::pair{b.table, static_cast<std::uint16_t>(n - b.first)};
  }
  return std::nullopt;
}

// An enum key: decimal ("3", "-1") or hex ("0x10"); nullopt otherwise.
std::optional<std::int64_t> parse_raw_key(std::string_view s) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return negative ? -v : v;
}

constexpr Table kTables[] = {Table::kCoil, Table::kDiscrete, Table::kHolding, Table::kInput};

std::optional<Table> table_choice(TomlChecker& c, const toml::table& t, const std::string& path,
                                  bool required) {
  auto i = c.choice(t, "table", path, {"coil", "discrete", "holding", "input"}, required);
  if (!i) return std::nullopt;
  return kTables[*i];
}

void load_header(TomlChecker& c, const toml::table& root, Profile& p) {
  const toml::node* node = root.get("profile");
  if (node == nullptr) {
    c.error(&root, "profile", "required table [profile] is missing");
    return;
  }
  const toml::table* t = node->as_table();
  if (t == nullptr) {
    c.error(node, "profile", "must be a table");
    return;
  }
  const std::string path = "profile";
  c.known_keys(*t, path,
               {"name", "manufacturer", "model", "kind", "source", "description", "word_order",
                "byte_order", "sentinels", "max_read_registers"});
  c.string(*t, "name", path, p.name, true);
  if (t->get("name") && p.name.empty()) c.error(t->get("name"), "profile.name", "must not be empty");
  c.string(*t, "manufacturer", path, p.manufacturer);
  c.string(*t, "model", path, p.model);
  std::string kind;
  if (c.string(*t, "kind", path, kind, true)) {
    if (auto k = parse_device_kind(kind)) {
      p.kind = *k;
    } else {
      c.error(t->get("kind"), "profile.kind",
              fmt::format("\"{}\" is not one of inverter, battery, meter, ev_charger, other", kind));
    }
  }
  // A register map without its source cannot be checked by the next person: the citation is required.
  if (c.string(*t, "source", path, p.source, true) && p.source.size() < 8) {
    c.error(t->get("source"), "profile.source",
            "must cite the public register document (title, version, URL)");
  }
  std::string description;
  c.string(*t, "description", path, description);
  if (auto i = c.choice(*t, "word_order", path, {"high_first", "low_first"})) {
    p.word_order = *i == 0 ? WordOrder::kHighFirst : WordOrder::kLowFirst;
  }
  if (auto i = c.choice(*t, "byte_order", path, {"big_endian", "swapped"})) {
    p.byte_order = *i == 0 ? ByteOrder::kBigEndian : ByteOrder::kSwapped;
  }
  c.boolean(*t, "sentinels", path, p.sentinels);
  if (auto v = c.integer(*t, "max_read_registers", path, 1, 125)) {
    p.max_read_registers = static_cast<std::uint16_t>(*v);
  }
}

// The table arrays ([[forbidden]], [[points]]); nullptr when absent or malformed.
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

void load_forbidden(TomlChecker& c, const toml::table& root, Profile& p) {
  const toml::array* arr = table_array(c, root, "forbidden");
  if (arr == nullptr) return;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table& t = *arr->get(i)->as_table();
    const std::string path = fmt::format("forbidden[{}]", i);
    c.known_keys(t, path, {"table", "start", "end", "reason"});
    auto table = table_choice(c, t, path, true);
    auto start = c.integer(t, "start", path, 0, 65535, true);
    auto end = c.integer(t, "end", path, 0, 65535, true);
    std::string reason;
    c.string(t, "reason", path, reason);
    if (start && end && *end < *start) {
      c.error(t.get("end"), path + ".end", fmt::format("end {} is before start {}", *end, *start));
      continue;
    }
    if (table && start && end) {
      p.forbidden.push_back(
          {*table, static_cast<std::uint16_t>(*start), static_cast<std::uint16_t>(*end)});
    }
  }
}

// Per point, what the cross-checks need to point at.
struct PointNodes {
  const toml::table* table = nullptr;
  const toml::node* where = nullptr;  // address or register node
  std::string path;
  bool placed = false;  // table and address known
};

void load_point(TomlChecker& c, const toml::table& t, const std::string& path, const Profile& p, Point& pt,
                PointNodes& nodes) {
  c.known_keys(t, path,
               {"name", "table", "address", "register", "type", "length", "word_order", "byte_order",
                "sentinels", "scale", "scale_point", "unit", "access", "min", "max", "poll", "kind",
                "values", "description", "readback", "readback_point", "revert_timeout_point",
                "heartbeat_point", "failsafe", "keepalive_s"});
  nodes.table = &t;
  nodes.path = path;
  pt.line = static_cast<int>(t.source().begin.line);
  if (c.string(t, "name", path, pt.name, true) && !valid_name(pt.name)) {
    c.error(t.get("name"), path + ".name",
            fmt::format("\"{}\" is not a valid point name (1-64 of A-Z, a-z, 0-9, '_', '-', '.')", pt.name));
  }

  // Where: `address` + `table`, or a Modicon `register` number that implies the table.
  std::optional<Table> table = table_choice(c, t, path, false);
  const toml::node* addr_node = t.get("address");
  const toml::node* reg_node = t.get("register");
  std::optional<std::uint16_t> address;
  if (addr_node != nullptr && reg_node != nullptr) {
    c.error(reg_node, path + ".register", "use either address or register, not both");
  } else if (reg_node != nullptr) {
    nodes.where = reg_node;
    if (!reg_node->is_integer()) {
      c.error(reg_node, path + ".register", "must be an integer");
    } else if (auto decoded = decode_modicon(*reg_node->value<std::int64_t>())) {
      if (table && *table != decoded->first) {
        c.error(reg_node, path + ".register",
                fmt::format("register {} is in the {} table, but table = \"{}\"",
                            *reg_node->value<std::int64_t>(), to_string(decoded->first), to_string(*table)));
      } else {
        table = decoded->first;
        address = decoded->second;
      }
    } else {
      c.error(reg_node, path + ".register",
              fmt::format("{} is not a Modicon register number (1-9999 coil, 10001-19999 discrete, "
                          "30001-39999 input, 40001-49999 holding, or 6-digit forms)",
                          *reg_node->value<std::int64_t>()));
    }
  } else if (addr_node != nullptr) {
    nodes.where = addr_node;
    if (auto v = c.integer(t, "address", path, 0, 65535)) address = static_cast<std::uint16_t>(*v);
    if (!t.get("table")) c.error(&t, path + ".table", "required key is missing (or use register = ...)");
  } else {
    c.error(&t, path + ".address", "required key is missing (address with table, or register)");
  }
  if (table) pt.table = *table;
  if (address) pt.address = *address;
  nodes.placed = table.has_value() && address.has_value();

  // Encoding.
  pt.encoding.word_order = p.word_order;
  pt.encoding.byte_order = p.byte_order;
  pt.encoding.sentinels = p.sentinels;
  std::string type_text;
  bool type_ok = false;
  if (c.string(t, "type", path, type_text)) {
    if (auto ty = parse_data_type(type_text)) {
      pt.encoding.type = *ty;
      type_ok = true;
    } else {
      c.error(t.get("type"), path + ".type",
              fmt::format("\"{}\" is not a type (u16, i16, u32, i32, u64, i64, f32, f64, string, "
                          "bitfield16/32/64, enum16/32, sunssf, acc16/32/64, bool)",
                          type_text));
    }
  } else if (table && is_bit_table(*table) && !t.get("type")) {
    pt.encoding.type = DataType::kBool;
    type_ok = true;
  } else if (!t.get("type")) {
    c.error(&t, path + ".type", "required key is missing");
  }
  if (type_ok && table) {
    const bool is_bool = pt.encoding.type == DataType::kBool;
    if (is_bool != is_bit_table(*table)) {
      c.error(t.get("type") ? t.get("type") : &t, path + ".type",
              is_bool ? "bool is only valid in the coil and discrete tables"
                      : fmt::format("the {} table holds single bits: use type = \"bool\"", to_string(*table)));
    }
  }
  if (auto len = c.integer(t, "length", path, 1, 125)) {
    if (type_ok && pt.encoding.type != DataType::kString) {
      c.error(t.get("length"), path + ".length", "only valid for type = \"string\"");
    } else {
      pt.encoding.string_registers = static_cast<std::uint16_t>(*len);
    }
  } else if (type_ok && pt.encoding.type == DataType::kString && !t.get("length")) {
    c.error(t.get("type"), path + ".length", "a string needs length (in registers, 2 characters each)");
  }
  if (auto i = c.choice(t, "word_order", path, {"high_first", "low_first"})) {
    pt.encoding.word_order = *i == 0 ? WordOrder::kHighFirst : WordOrder::kLowFirst;
  }
  if (auto i = c.choice(t, "byte_order", path, {"big_endian", "swapped"})) {
    pt.encoding.byte_order = *i == 0 ? ByteOrder::kBigEndian : ByteOrder::kSwapped;
  }
  c.boolean(t, "sentinels", path, pt.encoding.sentinels);

  // Address space: the last register must exist.
  if (nodes.placed && pt.register_count() > 0 &&
      std::uint32_t{pt.address} + pt.register_count() - 1 > 65535U) {
    c.error(nodes.where, path + (reg_node ? ".register" : ".address"),
            fmt::format("address {} + {} registers ends beyond 65535", pt.address, pt.register_count()));
  }

  // Scale.
  const bool numeric = type_ok && pt.encoding.type != DataType::kString && pt.encoding.type != DataType::kBool;
  if (auto s = c.number(t, "scale", path)) {
    if (*s == 0.0) {
      c.error(t.get("scale"), path + ".scale", "must not be zero");
    } else if (type_ok && !numeric) {
      c.error(t.get("scale"), path + ".scale", fmt::format("not valid for type \"{}\"", to_string(pt.encoding.type)));
    } else {
      pt.scale = *s;
    }
  }
  if (c.string(t, "scale_point", path, pt.scale_point)) {
    if (t.get("scale")) {
      c.error(t.get("scale_point"), path + ".scale_point", "use scale or scale_point, not both");
    }
    if (type_ok && !numeric) {
      c.error(t.get("scale_point"), path + ".scale_point",
              fmt::format("not valid for type \"{}\"", to_string(pt.encoding.type)));
    }
  }
  c.string(t, "unit", path, pt.unit);
  c.string(t, "description", path, pt.description);

  if (auto i = c.choice(t, "access", path, {"r", "w", "rw"})) {
    pt.access = *i == 0 ? Access::kRead : (*i == 1 ? Access::kWrite : Access::kReadWrite);
    if (pt.access != Access::kRead && table && !is_writable_table(*table)) {
      c.error(t.get("access"), path + ".access",
              fmt::format("the {} table is read-only in Modbus", to_string(*table)));
    }
  }
  pt.min = c.number(t, "min", path);
  pt.max = c.number(t, "max", path);
  if (pt.min && pt.max && *pt.min > *pt.max) {
    c.error(t.get("max"), path + ".max", fmt::format("max {} is below min {}", *pt.max, *pt.min));
  }
  if (auto i = c.choice(t, "poll", path, {"fast", "normal", "slow"})) {
    pt.poll = static_cast<PollClass>(*i);
  }
  if (auto i = c.choice(t, "kind", path, {"measured", "setpoint", "status", "counter"})) {
    pt.kind = static_cast<PointKind>(*i);
  }

  if (const toml::node* vnode = t.get("values")) {
    const toml::table* vt = vnode->as_table();
    if (vt == nullptr) {
      c.error(vnode, path + ".values", "must be a table of raw value = \"label\"");
    } else if (type_ok && !is_integer_type(pt.encoding.type) && pt.encoding.type != DataType::kBool) {
      c.error(vnode, path + ".values", "only valid for integer types");
    } else {
      for (const auto& [key, label] : *vt) {
        const std::string kp = path + ".values." + std::string(key.str());
        const auto raw_value = parse_raw_key(key.str());
        if (!raw_value) {
          c.error_at(key.source(), kp, "key must be an integer raw value, e.g. 0 = \"idle\"");
          continue;
        }
        if (!label.is_string()) {
          c.error(&label, kp, "label must be a string");
          continue;
        }
        pt.enum_values[*raw_value] = *label.value<std::string>();
      }
    }
  }

  // Write-related keys.
  const bool has_readback = c.boolean(t, "readback", path, pt.readback);
  const bool has_rb_point = c.string(t, "readback_point", path, pt.readback_point);
  const bool has_revert = c.string(t, "revert_timeout_point", path, pt.revert_timeout_point);
  const bool has_heartbeat = c.string(t, "heartbeat_point", path, pt.heartbeat_point);
  const toml::node* failsafe_node = t.get("failsafe");
  if (failsafe_node != nullptr) {
    if (auto v = failsafe_node->value<double>(); v && std::isfinite(*v)) {
      pt.failsafe = *v;
      if ((pt.min && *v < *pt.min) || (pt.max && *v > *pt.max)) {
        c.error(failsafe_node, path + ".failsafe", "is outside the point's min/max");
      }
    } else {
      c.error(failsafe_node, path + ".failsafe", "must be a number");
    }
  }
  const toml::node* keepalive_node = t.get("keepalive_s");
  if (keepalive_node != nullptr) {
    if (auto v = keepalive_node->value<std::int64_t>(); v && *v >= 1 && *v <= 86400) {
      pt.keepalive_s = static_cast<int>(*v);
    } else {
      c.error(keepalive_node, path + ".keepalive_s", "must be an integer number of seconds, 1..86400");
    }
  }
  if (!pt.writable()) {
    for (auto [present, key] : {std::pair{has_readback, "readback"}, std::pair{has_rb_point, "readback_point"},
                                std::pair{has_revert, "revert_timeout_point"},
                                std::pair{has_heartbeat, "heartbeat_point"},
                                std::pair{failsafe_node != nullptr, "failsafe"},
                                std::pair{keepalive_node != nullptr, "keepalive_s"}}) {
      if (present) c.error(t.get(key), path + "." + key, "only valid for writable points (access = \"w\" or \"rw\")");
    }
  }
  if (pt.access == Access::kWrite && pt.readback && pt.readback_point.empty() && has_readback) {
    c.error(t.get("readback"), path + ".readback",
            "a write-only point cannot be read back; name a readback_point or set readback = false");
  }
  if (pt.access == Access::kWrite && !has_readback && pt.readback_point.empty()) {
    pt.readback = false;  // nothing to read it back through
  }
  if (pt.readable() && pt.register_count() > p.max_read_registers) {
    c.error(nodes.where ? nodes.where : &t, path,
            fmt::format("needs {} registers but the device reads at most {} per request",
                        pt.register_count(), p.max_read_registers));
  }
}

void cross_check(TomlChecker& c, Profile& p, const std::vector<PointNodes>& nodes) {
  std::map<std::string, std::size_t, std::less<>> by_name;
  for (std::size_t i = 0; i < p.points.size(); ++i) {
    const Point& pt = p.points[i];
    if (pt.name.empty()) continue;
    auto [it, inserted] = by_name.emplace(pt.name, i);
    if (!inserted) {
      c.error(nodes[i].table->get("name"), nodes[i].path + ".name",
              fmt::format("duplicate point name \"{}\" (first defined on line {})", pt.name,
                          p.points[it->second].line));
    }
  }

  auto reference = [&](std::size_t i, std::string_view key, const std::string& target) -> const Point* {
    if (target.empty()) return nullptr;
    auto it = by_name.find(target);
    const toml::node* node = nodes[i].table->get(key);
    if (it == by_name.end()) {
      c.error(node, nodes[i].path + "." + std::string(key), fmt::format("no point named \"{}\"", target));
      return nullptr;
    }
    if (it->second == i) {
      c.error(node, nodes[i].path + "." + std::string(key), "a point cannot refer to itself");
      return nullptr;
    }
    return &p.points[it->second];
  };

  for (std::size_t i = 0; i < p.points.size(); ++i) {
    const Point& pt = p.points[i];
    const std::string sp = nodes[i].path + ".scale_point";
    if (const Point* sf = reference(i, "scale_point", pt.scale_point)) {
      const toml::node* node = nodes[i].table->get("scale_point");
      if (sf->encoding.type != DataType::kScaleFactor && sf->encoding.type != DataType::kI16) {
        c.error(node, sp,
                fmt::format("\"{}\" is {}, but a scale factor must be sunssf or i16", sf->name,
                            to_string(sf->encoding.type)));
      } else if (!sf->scale_point.empty() || sf->scale != 1.0) {
        c.error(node, sp, fmt::format("scale factor \"{}\" must not be scaled itself", sf->name));
      } else if (!sf->readable()) {
        c.error(node, sp, fmt::format("scale factor \"{}\" is write-only", sf->name));
      } else if (nodes[i].placed && sf->table != pt.table) {
        c.error(node, sp,
                fmt::format("scale factor \"{}\" is in the {} table; it must share the {} table so both "
                            "are read in one request",
                            sf->name, to_string(sf->table), to_string(pt.table)));
      }
    }
    if (const Point* rb = reference(i, "readback_point", pt.readback_point); rb && !rb->readable()) {
      c.error(nodes[i].table->get("readback_point"), nodes[i].path + ".readback_point",
              fmt::format("\"{}\" is write-only", rb->name));
    }
    reference(i, "revert_timeout_point", pt.revert_timeout_point);
    reference(i, "heartbeat_point", pt.heartbeat_point);
  }

  // Two points sharing a register is a register-map mistake.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.points.size(); ++i) {
    if (nodes[i].placed && p.points[i].register_count() > 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(p.points[a].table, p.points[a].address, a) < std::tie(p.points[b].table, p.points[b].address, b);
  });
  std::optional<std::size_t> reach;  // point with the furthest end so far in this table
  for (std::size_t k = 0; k < order.size(); ++k) {
    const Point& cur = p.points[order[k]];
    if (reach && p.points[*reach].table == cur.table &&
        std::uint32_t{p.points[*reach].address} + p.points[*reach].register_count() > cur.address) {
      const std::size_t later = std::max(*reach, order[k]);
      const std::size_t earlier = std::min(*reach, order[k]);
      c.error(nodes[later].where, nodes[later].path,
              fmt::format("registers of \"{}\" ({} {}..{}) overlap \"{}\" ({} {}..{}, line {})",
                          p.points[later].name, to_string(p.points[later].table), p.points[later].address,
                          p.points[later].address + p.points[later].register_count() - 1,
                          p.points[earlier].name, to_string(p.points[earlier].table),
                          p.points[earlier].address,
                          p.points[earlier].address + p.points[earlier].register_count() - 1,
                          p.points[earlier].line));
    }
    const auto end_of = [&](std::size_t i) {
      return std::uint32_t{p.points[i].address} + p.points[i].register_count();
    };
    if (!reach || p.points[*reach].table != cur.table || end_of(order[k]) > end_of(*reach)) reach = order[k];
  }

  // Points inside forbidden ranges (write-only points are never read, but writing there is just
  // as wrong).
  for (std::size_t i = 0; i < p.points.size(); ++i) {
    const Point& pt = p.points[i];
    if (!nodes[i].placed || pt.register_count() == 0) continue;
    const std::uint32_t end = std::uint32_t{pt.address} + pt.register_count() - 1;
    for (const RegisterRange& r : p.forbidden) {
      if (r.table == pt.table && r.first <= end && r.last >= pt.address) {
        c.error(nodes[i].where, nodes[i].path,
                fmt::format("\"{}\" ({} {}..{}) lies in the forbidden range {}..{}", pt.name,
                            to_string(pt.table), pt.address, end, r.first, r.last));
        break;
      }
    }
  }
}

}  // namespace

std::string_view to_string(Access a) {
  switch (a) {
    case Access::kRead: return "r";
    case Access::kWrite: return "w";
    case Access::kReadWrite: return "rw";
  }
  return "unknown";
}

std::string_view to_string(PollClass p) {
  switch (p) {
    case PollClass::kFast: return "fast";
    case PollClass::kNormal: return "normal";
    case PollClass::kSlow: return "slow";
  }
  return "unknown";
}

std::string_view to_string(PointKind k) {
  switch (k) {
    case PointKind::kMeasured: return "measured";
    case PointKind::kSetpoint: return "setpoint";
    case PointKind::kStatus: return "status";
    case PointKind::kCounter: return "counter";
  }
  return "unknown";
}

const Point* Profile::find(std::string_view point_name) const {
  for (const Point& pt : points) {
    if (pt.name == point_name) return &pt;
  }
  return nullptr;
}

std::vector<PointSpan> Profile::read_spans(const std::vector<std::size_t>& point_indices,
                                           std::vector<std::size_t>& indices_out) const {
  auto index_of = [&](const std::string& wanted) -> std::optional<std::size_t> {
    if (wanted.empty()) return std::nullopt;
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (points[i].name == wanted) return i;
    }
    return std::nullopt;
  };
  // Group id of a scale factor point = its index + 1; shared by every point scaled by it.
  std::vector<std::uint32_t> group(points.size(), 0);
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (auto sf = index_of(points[i].scale_point)) {
      group[i] = static_cast<std::uint32_t>(*sf + 1);
      group[*sf] = static_cast<std::uint32_t>(*sf + 1);
    }
  }
  std::vector<PointSpan> spans;
  std::set<std::size_t> added;
  indices_out.clear();
  auto add = [&](std::size_t i) {
    if (i >= points.size() || !points[i].readable() || !added.insert(i).second) return;
    spans.push_back(points[i].span(group[i]));
    indices_out.push_back(i);
  };
  for (std::size_t i : point_indices) {
    add(i);
    if (i < points.size()) {
      if (auto sf = index_of(points[i].scale_point)) add(*sf);
    }
  }
  return spans;
}

PlanOptions Profile::plan_options() const {
  PlanOptions o;
  o.max_registers = max_read_registers;
  o.forbidden = forbidden;
  return o;
}

ProfileLoadResult load_profile_string(std::string_view toml_text, std::string_view source_name) {
  ProfileLoadResult result;
  if (toml_text.size() > kMaxProfileBytes) {
    result.errors.push_back({std::string(source_name), 0, 0, "", "profile is larger than 4 MiB"});
    return result;
  }
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
  c.known_keys(root, "", {"profile", "forbidden", "points"});
  load_header(c, root, profile);
  load_forbidden(c, root, profile);
  std::vector<PointNodes> nodes;
  if (const toml::array* arr = table_array(c, root, "points")) {
    if (arr->size() > kMaxProfilePoints) {
      c.error(arr, "points", fmt::format("more than {} points", kMaxProfilePoints));
    } else {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        Point pt;
        PointNodes n;
        load_point(c, *arr->get(i)->as_table(), fmt::format("points[{}]", i), profile, pt, n);
        profile.points.push_back(std::move(pt));
        nodes.push_back(n);
      }
      cross_check(c, profile, nodes);
    }
  } else if (root.get("points") == nullptr) {
    c.error(&root, "points", "a profile needs at least one [[points]] entry");
  }
  result.errors = c.take_errors();
  if (result.errors.empty()) result.profile = std::move(profile);
  return result;
}

ProfileLoadResult load_profile_file(const std::filesystem::path& path) {
  auto file = read_toml_file(path, kMaxProfileBytes);
  if (!file.text) return ProfileLoadResult{std::nullopt, {std::move(*file.error)}};
  return load_profile_string(*file.text, path.string());
}

}  // namespace gridlet::adapters::modbus
