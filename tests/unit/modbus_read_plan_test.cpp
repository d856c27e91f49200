// Read planning: request limits, gaps, forbidden ranges, groups, and optimality against brute force.
#include "adapters/modbus/read_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace gridlet::adapters::modbus {
namespace {

PointSpan H(std::uint16_t address, std::uint16_t count = 1, std::uint32_t group = 0) {
  return {Table::kHolding, address, count, group};
}

// Checks the plan's promises independently of how it was made.
void check_plan(const std::vector<PointSpan>& wanted, const PlanOptions& o, const PlanResult& r) {
  ASSERT_TRUE(r.ok()) << r.errors.front().message;
  std::vector<int> seen(wanted.size(), 0);
  std::map<std::uint32_t, std::size_t> group_request;
  for (std::size_t k = 0; k < r.requests.size(); ++k) {
    const ReadRequest& q = r.requests[k];
    if (k > 0) {
      const ReadRequest& prev = r.requests[k - 1];
      EXPECT_TRUE(prev.table < q.table || (prev.table == q.table && prev.end() <= q.start)) << "sorted, disjoint";
    }
    const std::uint32_t limit = is_bit_table(q.table) ? o.max_bits : o.max_registers;
    EXPECT_LE(q.count, limit);
    EXPECT_GT(q.count, 0);
    for (const auto& f : o.forbidden) {
      EXPECT_FALSE(f.table == q.table && f.first < q.end() && f.last >= q.start) << "touches forbidden";
    }
    for (std::size_t i : q.points) {
      ++seen[i];
      EXPECT_EQ(wanted[i].table, q.table);
      EXPECT_GE(wanted[i].address, q.start);
      EXPECT_LE(std::uint32_t{wanted[i].address} + wanted[i].count, q.end()) << "point split";
      if (wanted[i].group != 0) {
        auto [it, inserted] = group_request.emplace(wanted[i].group, k);
        EXPECT_EQ(it->second, k) << "group split across requests";
      }
    }
  }
  for (std::size_t i = 0; i < wanted.size(); ++i) EXPECT_EQ(seen[i], 1) << "point " << i;
}

TEST(ModbusReadPlan, ContiguousThreeHundredRegistersTakeThreeRequests) {
  std::vector<PointSpan> wanted;
  for (std::uint16_t a = 0; a < 300; ++a) wanted.push_back(H(a));
  auto r = plan_reads(wanted);
  check_plan(wanted, {}, r);
  ASSERT_EQ(r.requests.size(), 3U);
  EXPECT_EQ(r.requests[0].start, 0);
  EXPECT_EQ(r.requests[0].count, 125);
  EXPECT_EQ(r.requests[2].end(), 300U);
}

TEST(ModbusReadPlan, TwoRegisterPointsAreNeverSplitAtTheLimit) {
  std::vector<PointSpan> wanted;
  for (std::uint16_t a = 0; a < 300; a += 2) wanted.push_back(H(a, 2));
  auto r = plan_reads(wanted);
  check_plan(wanted, {}, r);
  ASSERT_EQ(r.requests.size(), 3U);
  EXPECT_EQ(r.requests[0].count, 124);  // 125 would cut the 63rd point in half
}

TEST(ModbusReadPlan, SmallGapsAreBridgedLargeOnesSplit) {
  std::vector<PointSpan> wanted{H(0, 2), H(10, 2), H(30, 2)};  // gaps 8 and 18
  PlanOptions o;
  o.max_gap = 8;
  auto r = plan_reads(wanted, o);
  check_plan(wanted, o, r);
  ASSERT_EQ(r.requests.size(), 2U);
  EXPECT_EQ(r.requests[0].start, 0);
  EXPECT_EQ(r.requests[0].count, 12);
  EXPECT_EQ(r.requests[1].start, 30);
  o.max_gap = 0;
  EXPECT_EQ(plan_reads(wanted, o).requests.size(), 3U);
  o.max_gap = 20;
  EXPECT_EQ(plan_reads(wanted, o).requests.size(), 1U);
}

TEST(ModbusReadPlan, ForbiddenRegistersAreNeverReadEvenInAGap) {
  std::vector<PointSpan> wanted{H(0, 2), H(4, 2)};
  PlanOptions o;
  o.forbidden.push_back({Table::kHolding, 3, 3});
  auto r = plan_reads(wanted, o);
  check_plan(wanted, o, r);
  EXPECT_EQ(r.requests.size(), 2U);
  // The same range in another table does not matter.
  o.forbidden = {{Table::kInput, 3, 3}};
  EXPECT_EQ(plan_reads(wanted, o).requests.size(), 1U);
}

TEST(ModbusReadPlan, APointInAForbiddenRangeIsAnError) {
  PlanOptions o;
  o.forbidden.push_back({Table::kHolding, 5, 9});
  std::vector<PointSpan> wanted{H(0), H(9, 2)};
  auto r = plan_reads(wanted, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].kind, PlanErrorKind::kForbidden);
  EXPECT_EQ(r.errors[0].point, 1U);
  EXPECT_TRUE(r.requests.empty());
}

TEST(ModbusReadPlan, TablesArePlannedSeparatelyAndSorted) {
  std::vector<PointSpan> wanted{{Table::kInput, 0, 2, 0}, H(0, 2), {Table::kCoil, 5, 1, 0},
                                {Table::kDiscrete, 0, 1, 0}, H(2, 2)};
  auto r = plan_reads(wanted);
  check_plan(wanted, {}, r);
  ASSERT_EQ(r.requests.size(), 4U);
  // In the order of the Table enum (bus.hpp): holding, input, coil, discrete.
  EXPECT_EQ(r.requests[0].table, Table::kHolding);
  EXPECT_EQ(r.requests[0].count, 4);
  EXPECT_EQ(r.requests[0].points, (std::vector<std::size_t>{1, 4}));
  EXPECT_EQ(r.requests[1].table, Table::kInput);
  EXPECT_EQ(r.requests[2].table, Table::kCoil);
  EXPECT_EQ(r.requests[3].table, Table::kDiscrete);
}

TEST(ModbusReadPlan, CoilsUseTheBitLimit) {
  std::vector<PointSpan> wanted;
  for (std::uint16_t a = 0; a < 4000; ++a) wanted.push_back({Table::kCoil, a, 1, 0});
  auto r = plan_reads(wanted);
  check_plan(wanted, {}, r);
  ASSERT_EQ(r.requests.size(), 2U);
  EXPECT_EQ(r.requests[0].count, 2000);
}

TEST(ModbusReadPlan, GroupsLandInOneRequest) {
  // Value at 0, its scale factor at 120: one request of 121 registers, even though the gap is big.
  std::vector<PointSpan> wanted{H(0, 1, 7), H(50, 2), H(120, 1, 7)};
  auto r = plan_reads(wanted);
  check_plan(wanted, {}, r);
  ASSERT_EQ(r.requests.size(), 1U);
  EXPECT_EQ(r.requests[0].count, 121);
}

TEST(ModbusReadPlan, GroupsStayTogetherAcrossTheLimitBoundary) {
  // 100 single points, then a value at 120 whose SF is at 130: without the group the greedy cut
  // at 125 would separate them.
  std::vector<PointSpan> wanted;
  for (std::uint16_t a = 0; a < 120; ++a) wanted.push_back(H(a));
  wanted.push_back(H(120, 1, 1));
  wanted.push_back(H(130, 1, 1));
  auto r = plan_reads(wanted);
  check_plan(wanted, {}, r);
  EXPECT_EQ(r.requests.size(), 2U);
}

TEST(ModbusReadPlan, ImpossibleGroupsAreErrors) {
  {
    std::vector<PointSpan> wanted{H(0, 1, 1), H(200, 1, 1)};
    auto r = plan_reads(wanted);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.errors[0].kind, PlanErrorKind::kTooLarge);
  }
  {
    std::vector<PointSpan> wanted{H(0, 1, 1), {Table::kInput, 1, 1, 1}};
    auto r = plan_reads(wanted);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.errors[0].kind, PlanErrorKind::kGroupAcrossTables);
  }
  {
    PlanOptions o;
    o.forbidden.push_back({Table::kHolding, 5, 5});
    std::vector<PointSpan> wanted{H(0, 1, 1), H(10, 1, 1)};
    auto r = plan_reads(wanted, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.errors[0].kind, PlanErrorKind::kForbidden);
  }
}

TEST(ModbusReadPlan, BadPointsAreErrors) {
  std::vector<PointSpan> wanted{H(0, 0), H(65535, 2), H(0, 126)};
  auto r = plan_reads(wanted);
  ASSERT_EQ(r.errors.size(), 2U);
  EXPECT_EQ(r.errors[0].kind, PlanErrorKind::kEmptyPoint);
  EXPECT_EQ(r.errors[1].kind, PlanErrorKind::kBeyondAddressSpace);
  std::vector<PointSpan> big{H(0, 126)};
  r = plan_reads(big);
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].kind, PlanErrorKind::kTooLarge);
  // The very last register is fine.
  std::vector<PointSpan> last{H(65535, 1)};
  EXPECT_TRUE(plan_reads(last).ok());
}

TEST(ModbusReadPlan, DuplicateAndOverlappingPointsShareARequest) {
  std::vector<PointSpan> wanted{H(10, 2), H(10, 2), H(11, 1), H(0, 1)};
  PlanOptions o;
  o.max_gap = 0;
  auto r = plan_reads(wanted, o);
  check_plan(wanted, o, r);
  ASSERT_EQ(r.requests.size(), 2U);
  EXPECT_EQ(r.requests[1].start, 10);
  EXPECT_EQ(r.requests[1].count, 2);
  EXPECT_EQ(r.requests[1].points.size(), 3U);
}

TEST(ModbusReadPlan, SmallDeviceLimit) {
  // A device that reads one 32-bit value per request (KEBA): every point alone.
  std::vector<PointSpan> wanted{H(1000, 2), H(1004, 2), H(1006, 2)};
  PlanOptions o;
  o.max_registers = 2;
  auto r = plan_reads(wanted, o);
  check_plan(wanted, o, r);
  EXPECT_EQ(r.requests.size(), 3U);
}

TEST(ModbusReadPlan, AmongMinimalPlansFewestRegisters) {
  // Limit 10: {0-1}, {7-8}, {10-11}. Two requests either way; reading 0-8 + 10-11 costs 11,
  // 0-1 + 7-11 costs 7. The planner must pick the cheaper.
  std::vector<PointSpan> wanted{H(0, 2), H(7, 2), H(10, 2)};
  PlanOptions o;
  o.max_registers = 10;
  o.max_gap = 8;
  auto r = plan_reads(wanted, o);
  check_plan(wanted, o, r);
  ASSERT_EQ(r.requests.size(), 2U);
  EXPECT_EQ(r.requests[0].count + r.requests[1].count, 7);
}

// Brute force over every split of the sorted points into consecutive runs.
std::size_t brute_force_minimum(const std::vector<PointSpan>& sorted, const PlanOptions& o) {
  const std::size_t n = sorted.size();
  std::size_t best = SIZE_MAX;
  for (std::uint32_t cuts = 0; cuts < (1U << (n - 1)); ++cuts) {
    std::size_t requests = 0;
    bool ok = true;
    std::size_t i = 0;
    while (i < n && ok) {
      std::size_t j = i;
      while (j + 1 < n && ((cuts >> j) & 1U) == 0) ++j;
      const std::uint32_t start = sorted[i].address, end = std::uint32_t{sorted[j].address} + sorted[j].count;
      ok = end - start <= o.max_registers;
      for (std::size_t k = i; k < j && ok; ++k) {
        const std::uint32_t gap_start = std::uint32_t{sorted[k].address} + sorted[k].count;
        ok = sorted[k + 1].address - gap_start <= o.max_gap;
        for (const auto& f : o.forbidden) {
          ok = ok && !(f.first < sorted[k + 1].address && f.last >= gap_start);
        }
      }
      ++requests;
      i = j + 1;
    }
    if (ok) best = std::min(best, requests);
  }
  return best;
}

TEST(ModbusReadPlan, RandomizedMatchesBruteForceMinimum) {
  const unsigned seed = std::random_device{}();
  std::printf("ModbusReadPlan randomized seed: %u\n", seed);
  std::mt19937 rng(seed);
  for (int round = 0; round < 300; ++round) {
    PlanOptions o;
    o.max_registers = static_cast<std::uint16_t>(4 + rng() % 20);
    o.max_gap = static_cast<std::uint16_t>(rng() % 6);
    std::vector<PointSpan> wanted;
    std::uint16_t a = static_cast<std::uint16_t>(rng() % 5);
    const int n = 1 + static_cast<int>(rng() % 10);
    for (int i = 0; i < n; ++i) {
      const auto count = static_cast<std::uint16_t>(1 + rng() % 4);
      wanted.push_back(H(a, count));
      a = static_cast<std::uint16_t>(a + count + rng() % 8);
    }
    if (rng() % 2 == 0) {
      // A forbidden register in some gap (never inside a point).
      const std::size_t k = rng() % wanted.size();
      const std::uint32_t end = std::uint32_t{wanted[k].address} + wanted[k].count;
      const bool free = k + 1 == wanted.size() || end < wanted[k + 1].address;
      if (free) o.forbidden.push_back({Table::kHolding, static_cast<std::uint16_t>(end), static_cast<std::uint16_t>(end)});
    }
    auto r = plan_reads(wanted, o);
    check_plan(wanted, o, r);
    ASSERT_EQ(r.requests.size(), brute_force_minimum(wanted, o)) << "seed " << seed << " round " << round;
  }
}

}  // namespace
}  // namespace gridlet::adapters::modbus
