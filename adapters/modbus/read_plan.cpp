#include "adapters/modbus/read_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

namespace gridlet::adapters::modbus {
namespace {

// Union-find over point indices: points that must share a request.
class Components {
 public:
  explicit Components(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  std::size_t find(std::size_t i) {
    while (parent_[i] != i) {
      parent_[i] = parent_[parent_[i]];
      i = parent_[i];
    }
    return i;
  }
  void unite(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<std::size_t> parent_;
};

// A set of points that is read as one unit: [start, end) of one table.
struct Block {
  Table table;
  std::uint32_t start;
  std::uint32_t end;
  std::size_t first_point;  // smallest point index, for messages
};

bool touches_forbidden(const PlanOptions& o, Table t, std::uint32_t start, std::uint32_t end) {
  return std::any_of(o.forbidden.begin(), o.forbidden.end(), [&](const RegisterRange& r) {
    return r.table == t && r.first < end && std::uint32_t{r.last} >= start;
  });
}

std::uint32_t limit_of(const PlanOptions& o, Table t) {
  return std::max<std::uint32_t>(1, is_bit_table(t) ? o.max_bits : o.max_registers);
}

std::uint32_t gap_of(const PlanOptions& o, Table t) { return is_bit_table(t) ? o.max_bit_gap : o.max_gap; }

}  // namespace

std::optional<Table> parse_table(std::string_view s) {
  if (s == "coil") return Table::kCoil;
  if (s == "discrete") return Table::kDiscrete;
  if (s == "holding") return Table::kHolding;
  if (s == "input") return Table::kInput;
  return std::nullopt;
}

PlanResult plan_reads(std::span<const PointSpan> wanted, const PlanOptions& options) {
  PlanResult result;
  const std::size_t n = wanted.size();
  for (std::size_t i = 0; i < n; ++i) {
    const PointSpan& p = wanted[i];
    if (p.count == 0) {
      result.errors.push_back({PlanErrorKind::kEmptyPoint, i, fmt::format("point {} has no registers", i)});
    } else if (std::uint32_t{p.address} + p.count > 65536U) {
      result.errors.push_back({PlanErrorKind::kBeyondAddressSpace, i,
                               fmt::format("point {} ({} at {} + {}) ends beyond address 65535", i,
                                           to_string(p.table), p.address, p.count)});
    }
  }
  if (!result.errors.empty()) return result;

  // 1. Points of one group belong together.
  Components comp(n);
  std::map<std::uint32_t, std::size_t> group_first;
  for (std::size_t i = 0; i < n; ++i) {
    if (wanted[i].group == 0) continue;
    auto [it, inserted] = group_first.emplace(wanted[i].group, i);
    if (inserted) continue;
    if (wanted[it->second].table != wanted[i].table) {
      result.errors.push_back({PlanErrorKind::kGroupAcrossTables, i,
                               fmt::format("group {} has points in tables {} and {}", wanted[i].group,
                                           to_string(wanted[it->second].table), to_string(wanted[i].table))});
      continue;
    }
    comp.unite(it->second, i);
  }
  if (!result.errors.empty()) return result;

  // 2. Hulls of components; overlapping hulls merge (a register read once serves both).
  std::map<std::size_t, Block> hulls;
  for (std::size_t i = 0; i < n; ++i) {
    const PointSpan& p = wanted[i];
    const std::uint32_t end = std::uint32_t{p.address} + p.count;
    auto [it, inserted] = hulls.emplace(comp.find(i), Block{p.table, p.address, end, i});
    if (!inserted) {
      it->second.start = std::min<std::uint32_t>(it->second.start, p.address);
      it->second.end = std::max(it->second.end, end);
    }
  }
  std::vector<std::pair<Block, std::size_t>> sorted;  // (hull, component root)
  sorted.reserve(hulls.size());
  for (const auto& [root, b] : hulls) sorted.emplace_back(b, root);
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.table, a.first.start) < std::tie(b.first.table, b.first.start);
  });
  std::vector<Block> blocks;
  std::map<std::size_t, std::size_t> block_of_root;
  for (const auto& [b, root] : sorted) {
    if (!blocks.empty() && blocks.back().table == b.table && b.start < blocks.back().end) {
      blocks.back().end = std::max(blocks.back().end, b.end);
      blocks.back().first_point = std::min(blocks.back().first_point, b.first_point);
    } else {
      blocks.push_back(b);
    }
    block_of_root[root] = blocks.size() - 1;
  }

  // 3. Each block must fit one request and avoid forbidden registers.
  for (const Block& b : blocks) {
    if (b.end - b.start > limit_of(options, b.table)) {
      result.errors.push_back({PlanErrorKind::kTooLarge, b.first_point,
                               fmt::format("{} {}..{} ({} registers, with the points it must be read "
                                           "with) exceeds the limit of {} per request",
                                           to_string(b.table), b.start, b.end - 1, b.end - b.start,
                                           limit_of(options, b.table))});
    } else if (touches_forbidden(options, b.table, b.start, b.end)) {
      result.errors.push_back({PlanErrorKind::kForbidden, b.first_point,
                               fmt::format("{} {}..{} (with the points it must be read with) covers "
                                           "a forbidden register",
                                           to_string(b.table), b.start, b.end - 1)});
    }
  }
  if (!result.errors.empty()) return result;

  // 4. Per table, split the sorted blocks into runs: fewest requests, then fewest registers.
  // dp[j] = best cost of blocks [lo, j); a run [i, j) is feasible while its span fits the limit
  // and every gap inside is bridgeable, so scanning i downwards stops at the first failure.
  std::vector<std::size_t> block_request(blocks.size());
  std::size_t lo = 0;
  while (lo < blocks.size()) {
    std::size_t hi = lo;
    while (hi < blocks.size() && blocks[hi].table == blocks[lo].table) ++hi;
    const Table table = blocks[lo].table;
    const std::uint32_t limit = limit_of(options, table);
    const std::uint32_t max_gap = gap_of(options, table);
    const std::size_t m = hi - lo;
    using Cost = std::pair<std::size_t, std::uint64_t>;  // (requests, registers)
    const Cost kInf{std::numeric_limits<std::size_t>::max(), 0};
    std::vector<Cost> dp(m + 1, kInf);
    std::vector<std::size_t> from(m + 1, 0);
    dp[0] = {0, 0};
    for (std::size_t j = 1; j <= m; ++j) {
      const Block& last = blocks[lo + j - 1];
      for (std::size_t i = j; i-- > 0;) {
        const Block& first = blocks[lo + i];
        if (last.end - first.start > limit) break;
        if (i + 1 < j) {
          const Block& next = blocks[lo + i + 1];
          const std::uint32_t gap = next.start - first.end;
          if (gap > max_gap || touches_forbidden(options, table, first.end, next.start)) break;
        }
        const Cost c{dp[i].first + 1, dp[i].second + (last.end - first.start)};
        if (dp[i] != kInf && c < dp[j]) {
          dp[j] = c;
          from[j] = i;
        }
      }
    }
    std::vector<std::pair<std::size_t, std::size_t>> runs;
    for (std::size_t j = m; j > 0; j = from[j]) runs.emplace_back(from[j], j);
    std::reverse(runs.begin(), runs.end());
    for (const auto& [i, j] : runs) {
      ReadRequest req;
      req.table = table;
      req.start = static_cast<std::uint16_t>(blocks[lo + i].start);
      req.count = static_cast<std::uint16_t>(blocks[lo + j - 1].end - blocks[lo + i].start);
      for (std::size_t b = i; b < j; ++b) block_request[lo + b] = result.requests.size();
      result.requests.push_back(std::move(req));
    }
    lo = hi;
  }

  // 5. Tell each request which points it carries.
  for (std::size_t i = 0; i < n; ++i) {
    result.requests[block_request[block_of_root[comp.find(i)]]].points.push_back(i);
  }
  for (auto& req : result.requests) {
    std::stable_sort(req.points.begin(), req.points.end(), [&](std::size_t a, std::size_t b) {
      return wanted[a].address < wanted[b].address;
    });
  }
  return result;
}

}  // namespace gridlet::adapters::modbus
