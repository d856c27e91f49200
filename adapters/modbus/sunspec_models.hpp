// SunSpec information model tables: the layout (names, offsets, sizes, types, scale factors, units,
// access) of every SunSpec model Gridlet supports. The data lives in sunspec_models.cpp, generated
// by scripts/gen-sunspec-tables from the official SunSpec JSON and checked against it by
// tests/unit/sunspec_models_test.cpp. All tables are constant-initialized static data: no
// allocation, safe to use from any thread.
//
// Layout of one model as it appears on the wire, at the address of its ID register:
//   top group points (ID at offset 0, L at offset 1, then the model's own points),
//   then each nested group in table order, each as `instances x (its points, then its own nested
//   groups)`. L counts every register after L itself.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace gridlet::adapters::sunspec {

// SunSpec point types, as named in the JSON definitions ("uint16", "acc32", "sunssf", ...).
enum class PointType : std::uint8_t {
  kUint16,
  kInt16,
  kUint32,
  kInt32,
  kUint64,
  kInt64,
  kAcc16,
  kAcc32,
  kAcc64,
  kBitfield16,
  kBitfield32,
  kBitfield64,
  kEnum16,
  kEnum32,
  kFloat32,
  kFloat64,
  kString,
  kSunssf,
  kPad,
  kCount,
  kIpaddr,
  kIpv6addr,
  kEui48,
};

// "uint16", "acc32", ... (the JSON spelling); "" for an out-of-range value.
std::string_view to_string(PointType t);

// One point of a group. `offset` is in registers from the start of one instance of its group; for
// the top group of a model, offset 0 is the ID register and 1 is L.
struct PointDef {
  std::string_view name;  // e.g. "W", "DCW_SF", "WMaxLimPct"
  std::uint16_t offset;   // registers from the start of the group instance
  std::uint16_t size;     // registers
  PointType type;
  std::string_view sf;     // name of the scale-factor point ("" = none); found in the same group
                           // instance or an enclosing one
  std::string_view units;  // as in the SunSpec definition ("W", "Wh", "Pct", ...), "" = none
  bool writable;           // access "RW"
  bool mandatory;          // mandatory "M"
};

// How many instances of a group a model holds.
enum class GroupRepeat : std::uint8_t {
  kOnce,          // exactly one instance (the top group, and nested groups without "count")
  kByCountPoint,  // `count_point` (a point of an enclosing group) gives the number of instances
  kFillModel,  // "count": 0 - as many instances as fit in the rest of the model (e.g. 160 module)
};

struct GroupDef {
  std::string_view name;             // e.g. "mppt", "module", "Crv", "Pt"
  std::span<const PointDef> points;  // in register order
  std::uint16_t points_length;       // registers taken by `points` in one instance
  GroupRepeat repeat;
  std::string_view count_point;  // for kByCountPoint: point name in an enclosing group
  bool sync;                     // JSON group type "sync": points are meant to be written together
  std::span<const GroupDef> groups;  // nested groups, laid out after `points`, in order
};

// How the model length L is determined.
enum class LengthRule : std::uint8_t {
  kFixed,        // L == fixed_length always
  kFillRepeats,  // L == fixed_length + n * repeat_length (one kFillModel group, e.g. model 160)
  kCountPoints,  // depends on count points' values (e.g. 705 NCrv/NPt); L >= fixed_length
};

struct ModelDef {
  std::uint16_t id;
  std::string_view name;  // the top group's name, e.g. "common", "inverter", "mppt"
  GroupDef top;
  LengthRule length_rule;
  std::uint16_t fixed_length;   // L with every repeating group at zero instances
  std::uint16_t repeat_length;  // for kFillRepeats: registers per instance of the repeating group
};

// The model with this id, or nullptr when it is not in our tables.
const ModelDef* find_model(std::uint16_t id);

// Every model in our tables, ordered by id.
std::span<const ModelDef> supported_models();

// A point of `group` by name, or nullptr.
const PointDef* find_point(const GroupDef& group, std::string_view name);

}  // namespace gridlet::adapters::sunspec
