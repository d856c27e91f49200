// Read planning: which Modbus read requests fetch a set of points in as few requests as the
// protocol allows. Pure function of its inputs; the bus worker executes the plan.
//
// Guarantees of plan_reads (tested in tests/unit/modbus_read_plan_test.cpp):
// - every wanted point is read whole by exactly one request (never split across two);
// - all points with the same nonzero `group` land in the same request (a value with its SunSpec
//   scale factor, so they are never torn), or the plan fails;
// - no request exceeds its table's limit (125 registers / 2000 bits by default), bridges a gap of
//   more than max_gap unwanted registers, or touches a forbidden register;
// - among plans with those properties, the number of requests is minimal, and among those, the
//   number of registers read is minimal (dynamic programming over the sorted points);
// - requests are sorted by (table, start), tables in the order of the Table enum.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/modbus/bus.hpp"

namespace gridlet::adapters::modbus {

// `Table` (holding, input, coil, discrete) and to_string(Table) come from bus.hpp: one type for
// the whole adapter. parse_table reads the same names.
std::optional<Table> parse_table(std::string_view s);
inline bool is_bit_table(Table t) { return t == Table::kCoil || t == Table::kDiscrete; }
inline bool is_writable_table(Table t) { return t == Table::kCoil || t == Table::kHolding; }

// Registers first..last (inclusive, 0-based protocol addresses) of one table.
struct RegisterRange {
  Table table = Table::kHolding;
  std::uint16_t first = 0;
  std::uint16_t last = 0;

  bool contains(Table t, std::uint32_t address) const {
    return t == table && address >= first && address <= last;
  }
  friend bool operator==(const RegisterRange&, const RegisterRange&) = default;
};

// One point to read: `count` registers (or bits) from `address`.
struct PointSpan {
  Table table = Table::kHolding;
  std::uint16_t address = 0;
  std::uint16_t count = 1;
  std::uint32_t group = 0;  // 0 = no group; equal nonzero ids must share one request
};

struct PlanOptions {
  std::uint16_t max_registers = 125;  // per request, holding/input (Modbus limit: 125)
  std::uint16_t max_bits = 2000;      // per request, coil/discrete (Modbus limit: 2000)
  std::uint16_t max_gap = 8;          // unwanted registers a request may bridge
  std::uint16_t max_bit_gap = 64;     // unwanted bits a request may bridge
  std::vector<RegisterRange> forbidden;  // never read, not even inside a bridged gap
};

struct ReadRequest {
  Table table = Table::kHolding;
  std::uint16_t start = 0;
  std::uint16_t count = 0;
  std::vector<std::size_t> points;  // indices into `wanted`, in address order

  std::uint32_t end() const { return std::uint32_t{start} + count; }  // one past the last
};

enum class PlanErrorKind : std::uint8_t {
  kEmptyPoint,       // count 0
  kBeyondAddressSpace,  // address + count > 65536
  kTooLarge,         // a point (or the points it must be read with) exceeds the request limit
  kForbidden,        // a point (or its group's span) covers a forbidden register
  kGroupAcrossTables,  // one group has points in two tables: no single request can read them
};

struct PlanError {
  PlanErrorKind kind;
  std::size_t point;  // index into `wanted` of a point involved
  std::string message;
};

struct PlanResult {
  std::vector<ReadRequest> requests;
  std::vector<PlanError> errors;  // when non-empty, `requests` is empty
  bool ok() const { return errors.empty(); }
};

// Plans the reads of `wanted`. Points may repeat or overlap (they are read together).
PlanResult plan_reads(std::span<const PointSpan> wanted, const PlanOptions& options = {});

}  // namespace gridlet::adapters::modbus
