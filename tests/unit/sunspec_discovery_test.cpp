// SunSpec discovery, chain walking and block decoding against an in-memory register image (no
// network: the Modbus server tests live in tests/integration).
#include "adapters/modbus/sunspec_discovery.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/modbus/sunspec_models.hpp"

namespace gridlet::adapters::sunspec {
namespace {

// A device's holding registers. Unmapped registers answer exception 2 (illegal data address), as a
// real device does; `faults` make a read starting at an address fail in a chosen way.
class FakeDevice : public RegisterReader {
 public:
  FakeDevice() : regs_(0x10000, 0), mapped_(0x10000, false) {}

  void set(std::uint32_t address, std::uint16_t value) {
    regs_.at(address) = value;
    mapped_.at(address) = true;
  }
  void unmap(std::uint32_t address) { mapped_.at(address) = false; }

  ReadStatus read_holding(std::uint16_t address, std::uint16_t count,
                          std::span<std::uint16_t> out) override {
    requests.emplace_back(address, count);
    if (before_read) before_read(requests.size() - 1);
    if (count == 0 || count > kMaxRegistersPerRead || address + count > 0x10000U ||
        out.size() < count) {
      ADD_FAILURE() << "bad request " << address << "+" << count;
      return ReadStatus::exception(3);
    }
    if (const auto f = faults.find(address); f != faults.end()) return f->second;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!mapped_[address + i]) return ReadStatus::exception(2);
      out[i] = regs_[address + i];
    }
    return ReadStatus::ok();
  }

  std::map<std::uint16_t, ReadStatus> faults;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> requests;
  // Called with the request's index (0-based) before it is answered: a device changing its
  // registers while it is being read.
  std::function<void(std::size_t)> before_read;

 private:
  std::vector<std::uint16_t> regs_;
  std::vector<bool> mapped_;
};

// Registers of one model instance, ID and L included, filled with "not implemented"-free zeros.
struct Block {
  std::vector<std::uint16_t> regs;

  Block(std::uint16_t id, std::uint16_t length) : regs(2U + length, 0) {
    regs[0] = id;
    regs[1] = length;
  }
  void put(std::uint32_t offset, std::uint16_t v) { regs.at(offset) = v; }
  void put32(std::uint32_t offset, std::uint32_t v) {
    put(offset, static_cast<std::uint16_t>(v >> 16));
    put(offset + 1, static_cast<std::uint16_t>(v & 0xFFFF));
  }
  void put_text(std::uint32_t offset, std::uint16_t size, std::string_view s) {
    for (std::uint16_t i = 0; i < size; ++i) {
      const auto hi = 2U * i < s.size() ? static_cast<unsigned char>(s[2U * i]) : 0U;
      const auto lo = 2U * i + 1 < s.size() ? static_cast<unsigned char>(s[2U * i + 1]) : 0U;
      put(offset + i, static_cast<std::uint16_t>((hi << 8) | lo));
    }
  }
};

std::uint16_t top_offset(std::uint16_t model, std::string_view point) {
  const ModelDef* m = find_model(model);
  EXPECT_NE(m, nullptr) << model;
  const PointDef* p = m == nullptr ? nullptr : find_point(m->top, point);
  EXPECT_NE(p, nullptr) << model << "." << point;
  return p == nullptr ? 0 : p->offset;
}

Block common_block(std::string_view mn, std::string_view md, std::string_view sn,
                   std::uint16_t length = 66) {
  Block b(1, length);
  b.put_text(top_offset(1, "Mn"), 16, mn);
  b.put_text(top_offset(1, "Md"), 16, md);
  b.put_text(top_offset(1, "Opt"), 8, "opt");
  b.put_text(top_offset(1, "Vr"), 8, "1.2.3   ");
  b.put_text(top_offset(1, "SN"), 16, sn);
  if (top_offset(1, "DA") < b.regs.size()) b.put(top_offset(1, "DA"), 7);
  return b;
}

Block inverter_103() {
  Block b(103, 50);
  b.put(top_offset(103, "W"), 1234);
  b.put(top_offset(103, "W_SF"), static_cast<std::uint16_t>(-1));
  return b;
}

// 160 with `modules` module instances: module i has ID i+1, DCW 100*(i+1), DCW_SF 0.
Block mppt_160(std::uint16_t modules, std::uint16_t extra = 0) {
  const ModelDef* m = find_model(160);
  Block b(160, static_cast<std::uint16_t>(m->fixed_length + modules * m->repeat_length + extra));
  b.put(top_offset(160, "N"), modules);
  b.put(top_offset(160, "DCW_SF"), 0);
  b.put(top_offset(160, "DCA_SF"), static_cast<std::uint16_t>(-2));
  const GroupDef& module = m->top.groups[0];
  for (std::uint16_t i = 0; i < modules; ++i) {
    const std::uint32_t base = m->top.points_length + i * module.points_length;
    b.put(base + find_point(module, "ID")->offset, static_cast<std::uint16_t>(i + 1));
    b.put_text(base + find_point(module, "IDStr")->offset, 8, "string " + std::to_string(i));
    b.put(base + find_point(module, "DCW")->offset, static_cast<std::uint16_t>(100 * (i + 1)));
    b.put(base + find_point(module, "DCA")->offset, 250);
  }
  return b;
}

// Lays out "SunS", the blocks in order and (optionally) the end marker from `base`.
// Returns the address of each block's ID register.
std::vector<std::uint16_t> install(FakeDevice& dev, std::uint32_t base,
                                   const std::vector<Block>& blocks, bool end_marker = true) {
  std::vector<std::uint16_t> addresses;
  dev.set(base, kSunSpecMarker0);
  dev.set(base + 1, kSunSpecMarker1);
  std::uint32_t a = base + 2;
  for (const Block& b : blocks) {
    addresses.push_back(static_cast<std::uint16_t>(a));
    for (const std::uint16_t r : b.regs) dev.set(a++, r);
  }
  if (end_marker) {
    dev.set(a, kEndMarkerId);
    dev.set(a + 1, 0);
  }
  return addresses;
}

std::vector<std::uint16_t> ids(const DiscoveryResult& r) {
  std::vector<std::uint16_t> out;
  for (const auto& m : r.models) out.push_back(m.id);
  return out;
}

void expect_reads_within_limit(const FakeDevice& dev) {
  for (const auto& [address, count] : dev.requests) {
    EXPECT_LE(count, kMaxRegistersPerRead) << "read at " << address;
  }
}

TEST(SunSpecDiscovery, FindsTheChainAtEachBaseAddress) {
  for (const std::uint16_t base : {40000, 0, 50000}) {
    SCOPED_TRACE(base);
    FakeDevice dev;
    const auto addr = install(dev, base, {common_block("Acme", "Inv-5", "SN123"), inverter_103()});
    const DiscoveryResult r = discover(dev);
    ASSERT_TRUE(r.complete()) << to_string(r.error);
    ASSERT_EQ(r.base, base);
    EXPECT_TRUE(r.end_marker_found);
    EXPECT_EQ(ids(r), (std::vector<std::uint16_t>{1, 103}));
    EXPECT_EQ(r.models[0].address, addr[0]);
    EXPECT_EQ(r.models[1].address, addr[1]);
    EXPECT_EQ(r.models[1].length, 50);
    EXPECT_TRUE(r.models[1].known);
    EXPECT_EQ(r.models[1].length_check, LengthCheck::kOk);
    // Bases before the one that holds the chain answered "illegal data address".
    ASSERT_FALSE(r.probes.empty());
    EXPECT_TRUE(r.probes.back().marker_found);
    for (std::size_t i = 0; i + 1 < r.probes.size(); ++i) {
      EXPECT_EQ(r.probes[i].status, ReadStatus::exception(2));
    }
    expect_reads_within_limit(dev);
  }
}

TEST(SunSpecDiscovery, ReadsModel1Strings) {
  FakeDevice dev;
  install(dev, 40000, {common_block("Acme Energy", "Inverter 5000 TL", "SN-0042  ")});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  ASSERT_TRUE(r.common.has_value());
  EXPECT_EQ(r.common->manufacturer, "Acme Energy");
  EXPECT_EQ(r.common->model, "Inverter 5000 TL");
  EXPECT_EQ(r.common->options, "opt");
  EXPECT_EQ(r.common->version, "1.2.3");
  EXPECT_EQ(r.common->serial, "SN-0042");
  EXPECT_EQ(r.common->device_address, 7);
}

TEST(SunSpecDiscovery, Model1WithLegacyLength65StillParses) {
  FakeDevice dev;
  install(dev, 40000, {common_block("Old", "Box", "1", 65), inverter_103()});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.models[0].length_check, LengthCheck::kMismatch);  // a warning, not an error
  ASSERT_TRUE(r.common.has_value());
  EXPECT_EQ(r.common->manufacturer, "Old");
  EXPECT_EQ(r.common->device_address, 7);
  EXPECT_EQ(r.models[1].id, 103);
}

TEST(SunSpecDiscovery, Model1WithoutDeviceAddress) {
  Block b = common_block("A", "B", "C");
  b.put(top_offset(1, "DA"), 0xFFFF);
  FakeDevice dev;
  install(dev, 40000, {b});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.common.has_value());
  EXPECT_FALSE(r.common->device_address.has_value());
}

TEST(SunSpecDiscovery, UnknownModelIsKeptAndSkippedByLength) {
  Block vendor(64001, 7);
  vendor.put(2, 0xFFFF);  // its contents are irrelevant
  FakeDevice dev;
  const auto addr = install(dev, 40000, {common_block("A", "B", "C"), vendor, inverter_103()});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  ASSERT_EQ(ids(r), (std::vector<std::uint16_t>{1, 64001, 103}));
  EXPECT_FALSE(r.models[1].known);
  EXPECT_EQ(r.models[1].length_check, LengthCheck::kUnknownModel);
  EXPECT_EQ(r.models[1].address, addr[1]);
  EXPECT_EQ(r.models[1].length, 7);
  EXPECT_EQ(r.models[2].address, addr[1] + 9);
}

TEST(SunSpecDiscovery, RepeatingGroupCountComesFromLength) {
  FakeDevice dev;
  install(dev, 40000, {common_block("A", "B", "C"), inverter_103(), mppt_160(3)});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  const DiscoveredModel& m = r.models[2];
  EXPECT_EQ(m.id, 160);
  EXPECT_EQ(m.length, 8 + 3 * 20);
  EXPECT_EQ(m.length_check, LengthCheck::kOk);
  EXPECT_EQ(m.repeats, 3);
  EXPECT_FALSE(r.models[1].repeats.has_value());
}

TEST(SunSpecDiscovery, PartialRepeatIsAWarning) {
  FakeDevice dev;
  install(dev, 40000, {mppt_160(2, 5)});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.models[0].length_check, LengthCheck::kPartialRepeat);
  EXPECT_EQ(r.models[0].repeats, 2);
}

TEST(SunSpecDiscovery, FixedModelWithOtherLengthIsAWarning) {
  Block b(103, 52);
  FakeDevice dev;
  install(dev, 40000, {b, inverter_103()});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.models[0].length_check, LengthCheck::kMismatch);
  EXPECT_EQ(r.models[1].address, 40002 + 54);
}

TEST(SunSpecDiscovery, ExceptionAtFirstBaseThenSuccessAtNext) {
  FakeDevice dev;
  dev.faults[40000] = ReadStatus::exception(4);
  install(dev, 0, {common_block("A", "B", "C")});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.base, 0);
  ASSERT_EQ(r.probes.size(), 2U);
  EXPECT_EQ(r.probes[0].status, ReadStatus::exception(4));
}

TEST(SunSpecDiscovery, TimeoutAtABaseTriesTheNextUnlessAskedNotTo) {
  FakeDevice dev;
  dev.faults[40000] = ReadStatus::timeout();
  install(dev, 50000, {common_block("A", "B", "C")});
  EXPECT_EQ(discover(dev).base, 50000);

  DiscoveryOptions strict;
  strict.next_base_on_timeout = false;
  const DiscoveryResult r = discover(dev, strict);
  EXPECT_EQ(r.error, DiscoveryError::kReadFailed);
  EXPECT_EQ(r.read_status, ReadStatus::timeout());
  EXPECT_FALSE(r.base.has_value());
}

TEST(SunSpecDiscovery, IoErrorStopsAtOnce) {
  FakeDevice dev;
  dev.faults[40000] = ReadStatus::io_error();
  install(dev, 0, {common_block("A", "B", "C")});
  const DiscoveryResult r = discover(dev);
  EXPECT_EQ(r.error, DiscoveryError::kReadFailed);
  EXPECT_EQ(r.probes.size(), 1U);
}

TEST(SunSpecDiscovery, NoMarkerAnywhere) {
  FakeDevice dev;
  dev.set(40000, 0x1234);
  dev.set(40001, 0x5678);
  const DiscoveryResult r = discover(dev);
  EXPECT_EQ(r.error, DiscoveryError::kNotSunSpec);
  EXPECT_EQ(r.probes.size(), 3U);
  EXPECT_TRUE(r.probes[0].status.is_ok());
  EXPECT_FALSE(r.probes[0].marker_found);
  EXPECT_TRUE(r.models.empty());
}

TEST(SunSpecDiscovery, EndMarkerWithNonZeroLengthEndsTheChain) {
  FakeDevice dev;
  const auto addr = install(dev, 40000, {inverter_103()}, false);
  dev.set(addr[0] + 52, 0xFFFF);
  dev.set(addr[0] + 53, 0x1234);
  const DiscoveryResult r = discover(dev);
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.end_marker_found);
  EXPECT_EQ(r.models.size(), 1U);
}

TEST(SunSpecDiscovery, MissingEndMarkerKeepsWhatWasFound) {
  FakeDevice dev;
  install(dev, 40000, {common_block("A", "B", "C"), inverter_103()}, false);
  const DiscoveryResult r = discover(dev);
  EXPECT_EQ(r.error, DiscoveryError::kReadFailed);
  EXPECT_EQ(r.read_status, ReadStatus::exception(2));
  EXPECT_FALSE(r.end_marker_found);
  EXPECT_EQ(ids(r), (std::vector<std::uint16_t>{1, 103}));
  ASSERT_TRUE(r.common.has_value());
}

TEST(SunSpecDiscovery, ChainRunningToTheEndOfTheAddressSpace) {
  // The last model ends exactly at register 65535: no room for an end marker.
  FakeDevice dev;
  const auto length = static_cast<std::uint16_t>(0x10000 - 50004);
  install(dev, 50000, {Block(64100, length)}, false);
  const DiscoveryResult r = discover(dev);
  EXPECT_EQ(r.error, DiscoveryError::kNoEndMarker);
  EXPECT_EQ(r.models.size(), 1U);

  // One register short of the end: the header read would pass register 65535.
  FakeDevice dev2;
  install(dev2, 50000, {Block(64100, static_cast<std::uint16_t>(length - 1))}, false);
  dev2.set(0xFFFF, 0xFFFF);
  EXPECT_EQ(discover(dev2).error, DiscoveryError::kNoEndMarker);
}

TEST(SunSpecDiscovery, LengthPastTheAddressSpaceIsGarbage) {
  FakeDevice dev;
  const auto addr = install(dev, 50000, {inverter_103()}, false);
  dev.set(addr[0] + 52, 64100);
  dev.set(addr[0] + 53, 0xFFF0);
  const DiscoveryResult r = discover(dev);
  EXPECT_EQ(r.error, DiscoveryError::kModelPastAddressSpace);
  EXPECT_EQ(ids(r), (std::vector<std::uint16_t>{103}));
}

TEST(SunSpecDiscovery, ZeroFilledChainStopsAtMaxModels) {
  FakeDevice dev;
  install(dev, 40000, {}, false);
  for (std::uint32_t a = 40002; a < 41000; ++a) dev.set(a, 0);  // ID 0, L 0, forever
  DiscoveryOptions options;
  options.max_models = 10;
  const DiscoveryResult r = discover(dev, options);
  EXPECT_EQ(r.error, DiscoveryError::kTooManyModels);
  EXPECT_EQ(r.models.size(), 10U);
  EXPECT_LE(r.requests, 1U + 10U + 1U);
}

TEST(SunSpecDiscovery, ExactlyMaxModelsWithEndMarkerIsComplete) {
  FakeDevice dev;
  std::vector<Block> blocks(64, Block(64001, 1));
  install(dev, 40000, blocks);
  const DiscoveryResult r = discover(dev);
  EXPECT_TRUE(r.complete()) << to_string(r.error);
  EXPECT_EQ(r.models.size(), 64U);
}

TEST(SunSpecDiscovery, Model1ReadInSeveralRequestsWhenTheLimitIsSmall) {
  FakeDevice dev;
  install(dev, 40000, {common_block("Acme", "M", "S")});
  DiscoveryOptions options;
  options.max_registers_per_read = 20;
  const DiscoveryResult r = discover(dev, options);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.common->manufacturer, "Acme");
  for (const auto& [address, count] : dev.requests) EXPECT_LE(count, 20) << address;
  EXPECT_EQ(r.requests, dev.requests.size());
}

TEST(SunSpecDiscovery, ModelLongerThan125RegistersIsReadInSeveralRequests) {
  FakeDevice dev;
  const Block block = mppt_160(10);  // 2 + 8 + 200 = 210 registers
  install(dev, 40000, {block});
  const DiscoveryResult r = discover(dev);
  ASSERT_TRUE(r.complete());
  ASSERT_EQ(r.models[0].repeats, 10);

  dev.requests.clear();
  std::vector<std::uint16_t> regs;
  ASSERT_TRUE(read_model(dev, r.models[0], regs).is_ok());
  EXPECT_EQ(regs, block.regs);
  // The fewest requests (2 for 210 registers), cut before module[5].Tms (offsets 124-125, a
  // uint32) rather than through it, then one check read of the scale factors (offsets 2-5).
  ASSERT_EQ(dev.requests.size(), (210U + 124U) / 125U + 1U);
  EXPECT_EQ(dev.requests[0], (std::pair<std::uint16_t, std::uint16_t>{40002, 124}));
  EXPECT_EQ(dev.requests[1], (std::pair<std::uint16_t, std::uint16_t>{40126, 86}));
  EXPECT_EQ(dev.requests[2], (std::pair<std::uint16_t, std::uint16_t>{40004, 4}));

  const DecodedModel d = decode_model(*find_model(160), regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  for (int i = 0; i < 10; ++i) {
    const std::string m = "module[" + std::to_string(i) + "].";
    ASSERT_NE(d.find(m + "DCW"), nullptr) << m;
    EXPECT_EQ(d.find(m + "DCW")->value, 100.0 * (i + 1)) << m;
    EXPECT_NEAR(*d.find(m + "DCA")->value, 2.5, 1e-9) << m;
    EXPECT_EQ(d.find(m + "IDStr")->text, "string " + std::to_string(i)) << m;
  }
  EXPECT_EQ(d.find("module[10].DCW"), nullptr);
}

// --- Torn reads: a model longer than one request must still be one consistent block ---

// 160 with 10 modules at 40002 (210 registers: two requests plus the check read), as discovered.
DiscoveredModel model_at(FakeDevice& dev, const Block& block, std::uint16_t address = 40002) {
  install(dev, static_cast<std::uint16_t>(address - 2), {block});
  DiscoveredModel m;
  m.id = block.regs[0];
  m.length = block.regs[1];
  m.address = address;
  m.known = find_model(m.id) != nullptr;
  return m;
}

// The device rescales its 160 model to `step` (0..2; 0 is how mppt_160 lays it out): DCW_SF =
// step and DCA_SF = -2 - step, with the raw values rescaled so the physical values (DCA 2.5 A,
// DCW 100 * (i + 1) W) stay the same.
void rescale_160(FakeDevice& dev, std::uint16_t address, std::uint16_t modules, int step) {
  const ModelDef& m = *find_model(160);
  const GroupDef& module = m.top.groups[0];
  const int p10[] = {1, 10, 100};
  dev.set(address + top_offset(160, "DCA_SF"), static_cast<std::uint16_t>(-2 - step));
  dev.set(address + top_offset(160, "DCW_SF"), static_cast<std::uint16_t>(step));
  for (std::uint16_t i = 0; i < modules; ++i) {
    const std::uint32_t base = address + m.top.points_length + i * module.points_length;
    dev.set(base + find_point(module, "DCA")->offset, static_cast<std::uint16_t>(250 * p10[step]));
    dev.set(base + find_point(module, "DCW")->offset,
            static_cast<std::uint16_t>(100 * (i + 1) / p10[step]));
  }
}

void expect_160_values(const std::vector<std::uint16_t>& regs, std::uint16_t modules) {
  const DecodedModel d = decode_model(*find_model(160), regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  for (std::uint16_t i = 0; i < modules; ++i) {
    const std::string m = "module[" + std::to_string(i) + "].";
    ASSERT_NE(d.find(m + "DCW"), nullptr) << m;
    ASSERT_TRUE(d.find(m + "DCW")->value.has_value()) << m;
    EXPECT_NEAR(*d.find(m + "DCW")->value, 100.0 * (i + 1), 1e-9) << m;
    ASSERT_TRUE(d.find(m + "DCA")->value.has_value()) << m;
    EXPECT_NEAR(*d.find(m + "DCA")->value, 2.5, 1e-9) << m;
  }
}

TEST(SunSpecReadModel, ScaleFactorChangeBetweenRequestsIsDetectedAndTheModelReadAgain) {
  FakeDevice dev;
  const DiscoveredModel m = model_at(dev, mppt_160(10));
  // The device switches to the coarse scale just before the second request.
  dev.before_read = [&](std::size_t i) {
    if (i == 1) rescale_160(dev, m.address, 10, 1);
  };

  // What a plain chunked read gets: module[9].DCW = 100 (raw) x 10^0 (SF from the first request)
  // instead of 1000 W: a torn read.
  std::vector<std::uint16_t> torn;
  ASSERT_TRUE(read_registers(dev, m.address, 2U + m.length, torn).is_ok());
  EXPECT_EQ(decode_model(*find_model(160), torn).find("module[9].DCW")->value, 100.0);

  rescale_160(dev, m.address, 10, 0);
  dev.requests.clear();
  std::vector<std::uint16_t> regs;
  ASSERT_TRUE(read_model(dev, m, regs).is_ok());
  // Two pieces + check (mismatch), then two pieces + check (settled).
  ASSERT_EQ(dev.requests.size(), 6U);
  EXPECT_EQ(dev.requests[2], dev.requests[5]);
  expect_160_values(regs, 10);
  const DecodedModel d = decode_model(*find_model(160), regs);
  EXPECT_EQ(d.find("DCW_SF")->value, 1.0);  // the new scale, with the values that go with it
  EXPECT_EQ(d.find("DCA_SF")->value, -3.0);
}

TEST(SunSpecReadModel, ScaleFactorChangeJustBeforeTheCheckReadIsAlsoCaught) {
  FakeDevice dev;
  const DiscoveredModel m = model_at(dev, mppt_160(10));
  dev.before_read = [&](std::size_t i) {
    if (i == 2) rescale_160(dev, m.address, 10, 1);
  };
  std::vector<std::uint16_t> regs;
  ASSERT_TRUE(read_model(dev, m, regs).is_ok());
  EXPECT_EQ(dev.requests.size(), 6U);
  expect_160_values(regs, 10);
}

TEST(SunSpecReadModel, ScaleFactorChangingOnEveryRequestEndsInconsistent) {
  FakeDevice dev;
  const DiscoveredModel m = model_at(dev, mppt_160(10));
  // A new scale on every request (0, 1, 2, 0, ...): the check read never matches the first read.
  dev.before_read = [&](std::size_t i) { rescale_160(dev, m.address, 10, static_cast<int>(i % 3)); };
  std::vector<std::uint16_t> regs;
  const ReadStatus s = read_model(dev, m, regs);
  EXPECT_EQ(s, ReadStatus::inconsistent());
  EXPECT_EQ(s.kind, ReadStatus::Kind::kInconsistent);
  EXPECT_TRUE(regs.empty());  // nothing a caller could decode into a wrong value
  EXPECT_EQ(dev.requests.size(), (1U + kModelReadRetries) * 3U);
  EXPECT_EQ(to_string(s), "inconsistent (scale factors changed during the read)");
}

TEST(SunSpecReadModel, FailedCheckReadIsReported) {
  FakeDevice dev;
  const DiscoveredModel m = model_at(dev, mppt_160(10));
  dev.faults[static_cast<std::uint16_t>(m.address + top_offset(160, "DCA_SF"))] =
      ReadStatus::timeout();
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read_model(dev, m, regs), ReadStatus::timeout());
  EXPECT_EQ(dev.requests.size(), 3U);
}

TEST(SunSpecReadModel, RepeatCountChangeBetweenRequestsIsReadAgain) {
  // 705 with 3 curves of 20 points (2 + 13 + 3 * (10 + 40) = 165 registers). The counts set the
  // layout, so they are checked like scale factors.
  const ModelDef& def = *find_model(705);
  const GroupDef& crv = def.top.groups[0];
  const auto length = static_cast<std::uint16_t>(def.fixed_length + 3 * (crv.points_length + 40));
  Block b(705, length);
  b.put(top_offset(705, "NCrv"), 3);
  b.put(top_offset(705, "NPt"), 20);
  b.put(top_offset(705, "V_SF"), static_cast<std::uint16_t>(-1));
  FakeDevice dev;
  const DiscoveredModel m = model_at(dev, b);
  dev.before_read = [&](std::size_t i) {
    if (i == 1) dev.set(m.address + top_offset(705, "NPt"), 19);
  };
  std::vector<std::uint16_t> regs;
  ASSERT_TRUE(read_model(dev, m, regs).is_ok());
  ASSERT_EQ(dev.requests.size(), 6U);
  // The check read covers NPt, NCrv and the three scale factors (offsets 5-14), in one request.
  EXPECT_EQ(dev.requests[2], (std::pair<std::uint16_t, std::uint16_t>{
                                 static_cast<std::uint16_t>(m.address + 5), 10}));
  EXPECT_EQ(regs[top_offset(705, "NPt")], 19);
}

// Multi-register points of a decoded block: (offset, size).
std::vector<std::pair<std::uint32_t, std::uint32_t>> wide_points(const DecodedModel& d) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const DecodedPoint& p : d.points) {
    if (p.def->size > 1) out.emplace_back(p.offset, p.def->size);
  }
  return out;
}

// 705 with `ncrv` curves of `npt` points, V = 1000 + 10 * curve + point (V_SF -1), Var = -point.
Block volt_var_705(std::uint16_t ncrv, std::uint16_t npt) {
  const ModelDef& m = *find_model(705);
  const GroupDef& crv = m.top.groups[0];
  const GroupDef& pt = crv.groups[0];
  const auto length = static_cast<std::uint16_t>(
      m.fixed_length + ncrv * (crv.points_length + npt * pt.points_length));
  Block b(705, length);
  b.put(top_offset(705, "NCrv"), ncrv);
  b.put(top_offset(705, "NPt"), npt);
  b.put(top_offset(705, "V_SF"), static_cast<std::uint16_t>(-1));
  b.put(top_offset(705, "DeptRef_SF"), 0);
  b.put(top_offset(705, "RspTms_SF"), 0);
  for (std::uint16_t c = 0; c < ncrv; ++c) {
    const std::uint32_t crv_base =
        m.top.points_length + c * (crv.points_length + npt * pt.points_length);
    b.put32(crv_base + find_point(crv, "RspTms")->offset, 0x00010000U + c);
    for (std::uint16_t p = 0; p < npt; ++p) {
      const std::uint32_t pt_base = crv_base + crv.points_length + p * pt.points_length;
      b.put(pt_base + find_point(pt, "V")->offset, static_cast<std::uint16_t>(1000 + 10 * c + p));
      b.put(pt_base + find_point(pt, "Var")->offset, static_cast<std::uint16_t>(-p));
    }
  }
  return b;
}

// 711 with `nctl` controls: DbOf/DbUf are uint32, so cuts have to avoid them.
Block freq_droop_711(std::uint16_t nctl) {
  const ModelDef& m = *find_model(711);
  const GroupDef& ctl = m.top.groups[0];
  Block b(711, static_cast<std::uint16_t>(m.fixed_length + nctl * ctl.points_length));
  b.put(top_offset(711, "NCtl"), nctl);
  for (std::uint16_t c = 0; c < nctl; ++c) {
    const std::uint32_t base = m.top.points_length + c * ctl.points_length;
    b.put32(base + find_point(ctl, "DbOf")->offset, 0x00020000U + c);
    b.put32(base + find_point(ctl, "DbUf")->offset, 0x00030000U + c);
    b.put32(base + find_point(ctl, "RspTms")->offset, 0x00040000U + c);
  }
  return b;
}

TEST(SunSpecReadModel, NoMultiRegisterPointIsSplitAcrossRequests) {
  Block m701(701, find_model(701)->fixed_length);
  m701.put_text(top_offset(701, "MnAlrmInfo"), 32, "alarm text that is long enough");
  const std::vector<Block> blocks = {mppt_160(10), mppt_160(60),     volt_var_705(3, 20),
                                     volt_var_705(10, 10), freq_droop_711(20), m701,
                                     Block(211, find_model(211)->fixed_length)};
  for (const Block& b : blocks) {
    for (const std::uint16_t limit : {125, 64, 20, 7, 3}) {
      SCOPED_TRACE(std::to_string(b.regs[0]) + " L=" + std::to_string(b.regs[1]) +
                   " limit=" + std::to_string(limit));
      FakeDevice dev;
      const DiscoveredModel m = model_at(dev, b);
      std::vector<std::uint16_t> regs;
      ASSERT_TRUE(read_model(dev, m, regs, limit).is_ok());
      EXPECT_EQ(regs, b.regs);
      const DecodedModel d = decode_model(*find_model(m.id), regs);
      EXPECT_EQ(d.issue, DecodeIssue::kNone);
      // The block's requests come first, in address order; one may start a little before the
      // end of the previous one (a count model's layout is only known after its first request),
      // and then its registers replace those of the previous one. `writer[r]`: the request whose
      // value of register r ended up in the block. The check reads follow.
      std::uint32_t covered = 0;
      std::size_t block_requests = 0;
      std::vector<std::size_t> writer(regs.size(), 0);
      for (const auto& [address, count] : dev.requests) {
        EXPECT_LE(count, limit);
        if (covered == regs.size()) break;
        const std::uint32_t first = address - m.address;
        const std::uint32_t end = first + count;
        EXPECT_LE(first, covered);
        EXPECT_GT(end, covered);
        for (std::uint32_t r = first; r < end; ++r) writer.at(r) = block_requests;
        covered = end;
        ++block_requests;
      }
      for (const auto& [offset, size] : wide_points(d)) {
        if (size > limit) continue;  // cannot be read whole: the one allowed split
        for (std::uint32_t k = 1; k < size; ++k) {
          EXPECT_EQ(writer.at(offset + k), writer.at(offset)) << "point at " << offset << " split";
        }
      }
      EXPECT_EQ(covered, regs.size());
      EXPECT_GE(block_requests, (regs.size() + limit - 1) / limit);
    }
  }
}

TEST(SunSpecReadModel, CurveModelsAndMeasurementsDecodeAfterAMultiRequestRead) {
  {
    FakeDevice dev;
    const Block b = volt_var_705(3, 20);  // 165 registers
    const DiscoveredModel m = model_at(dev, b);
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    EXPECT_EQ(dev.requests.size(), 3U);
    const DecodedModel d = decode_model(*find_model(705), regs);
    EXPECT_EQ(d.issue, DecodeIssue::kNone);
    EXPECT_NEAR(*d.find("Crv[2].Pt[19].V")->value, 103.9, 1e-9);
    EXPECT_EQ(d.find("Crv[2].Pt[19].Var")->value, -19.0);
    EXPECT_EQ(d.find("Crv[1].RspTms")->raw, 0x00010001U);
    EXPECT_EQ(d.find("Crv[3].Pt[0].V"), nullptr);
  }
  {
    FakeDevice dev;
    const Block b = freq_droop_711(20);
    const DiscoveredModel m = model_at(dev, b);
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    const DecodedModel d = decode_model(*find_model(711), regs);
    EXPECT_EQ(d.issue, DecodeIssue::kNone);
    EXPECT_EQ(d.find("Ctl[19].DbUf")->raw, 0x00030013U);
  }
  {
    // 701 (155 registers): scale factors at 113-122, MnAlrmInfo (32 registers) read whole.
    Block b(701, find_model(701)->fixed_length);
    b.put(top_offset(701, "W"), 1234);
    b.put(top_offset(701, "W_SF"), static_cast<std::uint16_t>(-1));
    FakeDevice dev;
    const DiscoveredModel m = model_at(dev, b);
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    ASSERT_EQ(dev.requests.size(), 3U);
    EXPECT_EQ(dev.requests[0].second, top_offset(701, "MnAlrmInfo"));
    EXPECT_EQ(dev.requests[2], (std::pair<std::uint16_t, std::uint16_t>{
                                   static_cast<std::uint16_t>(m.address + 113), 10}));
    EXPECT_NEAR(*decode_model(*find_model(701), regs).find("W")->value, 123.4, 1e-9);
  }
}

TEST(SunSpecReadModel, ModelThatFitsOneRequestCostsOneRequest) {
  const std::vector<Block> blocks = {common_block("A", "B", "C"), inverter_103(), mppt_160(5),
                                     volt_var_705(1, 20), freq_droop_711(11),
                                     Block(704, find_model(704)->fixed_length)};
  for (const Block& b : blocks) {
    SCOPED_TRACE(b.regs[0]);
    ASSERT_LE(b.regs.size(), kMaxRegistersPerRead);
    FakeDevice dev;
    const DiscoveredModel m = model_at(dev, b);
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    EXPECT_EQ(regs, b.regs);
    ASSERT_EQ(dev.requests.size(), 1U);
    EXPECT_EQ(dev.requests[0], (std::pair<std::uint16_t, std::uint16_t>{
                                   m.address, static_cast<std::uint16_t>(b.regs.size())}));
  }
  // Exactly 125 registers: still one request.
  FakeDevice dev;
  const DiscoveredModel m = model_at(dev, mppt_160(5, 15));
  std::vector<std::uint16_t> regs;
  ASSERT_TRUE(read_model(dev, m, regs).is_ok());
  EXPECT_EQ(dev.requests.size(), 1U);
}

TEST(SunSpecReadModel, ModelsWithoutScaleFactorsOrDefinitionNeedNoCheckRead) {
  {
    // 211 (float meter, 126 registers, no scale factors): two requests, cut before Evt (uint32 at
    // 124-125), no check read.
    FakeDevice dev;
    const DiscoveredModel m = model_at(dev, Block(211, find_model(211)->fixed_length));
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    ASSERT_EQ(dev.requests.size(), 2U);
    EXPECT_EQ(dev.requests[0].second, 124);
    EXPECT_EQ(dev.requests[1].second, 2);
  }
  {
    // Unknown model: plain chunks of the limit, as before.
    Block vendor(64100, 298);
    for (std::uint32_t i = 2; i < vendor.regs.size(); ++i) vendor.put(i, static_cast<std::uint16_t>(i));
    FakeDevice dev;
    const DiscoveredModel m = model_at(dev, vendor);
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    EXPECT_EQ(regs, vendor.regs);
    ASSERT_EQ(dev.requests.size(), 3U);
    EXPECT_EQ(dev.requests[0].second, 125);
    EXPECT_EQ(dev.requests[1].second, 125);
    EXPECT_EQ(dev.requests[2].second, 50);
  }
}

// read_model's consistency check brackets every value between the first read of its scale factor
// and the check read after the last request: sound when the scale factors come in the first
// request. Holds for every model in our tables; a new table that breaks it fails here.
void expect_no_nested_scale_factors(const GroupDef& g, std::uint16_t model) {
  for (const GroupDef& sub : g.groups) {
    for (const PointDef& p : sub.points) {
      EXPECT_NE(p.type, PointType::kSunssf) << model << " " << sub.name << "." << p.name;
    }
    expect_no_nested_scale_factors(sub, model);
  }
}

TEST(SunSpecReadModel, ScaleFactorsOfEveryModelAreInTheFirstRequest) {
  for (const ModelDef& def : supported_models()) {
    SCOPED_TRACE(def.id);
    expect_no_nested_scale_factors(def.top, def.id);
    // The longest the model can be (every count at 0xFFFE): its first request.
    Block b(def.id, static_cast<std::uint16_t>(std::max<int>(def.fixed_length, 400)));
    for (const GroupDef& sub : def.top.groups) {
      if (sub.repeat == GroupRepeat::kByCountPoint) b.put(top_offset(def.id, sub.count_point), 0xFFFE);
    }
    for (const PointDef& p : def.top.points) {
      if (p.type == PointType::kCount) b.put(p.offset, 0xFFFE);
    }
    FakeDevice dev;
    const DiscoveredModel m = model_at(dev, b);
    std::vector<std::uint16_t> regs;
    ASSERT_TRUE(read_model(dev, m, regs).is_ok());
    ASSERT_FALSE(dev.requests.empty());
    const std::uint32_t first_end = dev.requests[0].second;
    for (const PointDef& p : def.top.points) {
      if (p.type == PointType::kSunssf) {
        EXPECT_LT(p.offset, first_end) << p.name;
      }
    }
  }
}

TEST(SunSpecDiscovery, ReadRegistersRefusesRangesPastTheAddressSpace) {
  FakeDevice dev;
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read_registers(dev, 0xFFFF, 2, regs), ReadStatus::exception(2));
  EXPECT_TRUE(dev.requests.empty());
}

TEST(SunSpecDecode, ScaleFactorsComeFromTheSameBlock) {
  Block b = inverter_103();
  const DecodedModel d = decode_model(*find_model(103), b.regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  const DecodedPoint* w = d.find("W");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->present);
  EXPECT_EQ(w->raw, 1234U);
  EXPECT_EQ(w->scale_factor, -1);
  ASSERT_TRUE(w->value.has_value());
  EXPECT_NEAR(*w->value, 123.4, 1e-9);
  EXPECT_EQ(std::string(w->def->units), "W");

  // A scale factor that changes between reads is picked up on the next decode.
  b.put(top_offset(103, "W_SF"), 1);
  EXPECT_EQ(decode_model(*find_model(103), b.regs).find("W")->value, 12340.0);

  // A missing scale factor makes the value missing, never an unscaled number.
  b.put(top_offset(103, "W_SF"), 0x8000);
  const DecodedModel d2 = decode_model(*find_model(103), b.regs);
  EXPECT_TRUE(d2.find("W")->present);
  EXPECT_FALSE(d2.find("W")->value.has_value());
  EXPECT_FALSE(d2.find("W_SF")->present);

  // So does one outside SunSpec's -10..10.
  b.put(top_offset(103, "W_SF"), 11);
  EXPECT_FALSE(decode_model(*find_model(103), b.regs).find("W")->value.has_value());
}

TEST(SunSpecDecode, NotImplementedSentinelsAreMissing) {
  Block b = inverter_103();
  b.put(top_offset(103, "A_SF"), 0);
  b.put(top_offset(103, "A"), 0xFFFF);           // uint16
  b.put(top_offset(103, "W"), 0x8000);           // int16
  b.put(top_offset(103, "St"), 0xFFFF);          // enum16
  b.put32(top_offset(103, "Evt1"), 0xFFFFFFFF);  // bitfield32
  b.put32(top_offset(103, "WH"), 0);             // acc32: zero is a real count
  b.put(top_offset(103, "WH_SF"), 0);
  const DecodedModel d = decode_model(*find_model(103), b.regs);
  EXPECT_FALSE(d.find("A")->present);
  EXPECT_FALSE(d.find("A")->value.has_value());
  EXPECT_FALSE(d.find("W")->present);
  EXPECT_FALSE(d.find("W")->value.has_value());
  EXPECT_FALSE(d.find("St")->present);
  EXPECT_FALSE(d.find("Evt1")->present);
  EXPECT_TRUE(d.find("WH")->present);
  EXPECT_EQ(d.find("WH")->value, 0.0);

  // float32 NaN (113 is the float inverter).
  Block f(113, find_model(113)->fixed_length);
  f.put32(top_offset(113, "W"), 0x7FC00000);
  f.put32(top_offset(113, "Hz"), 0x42480000);  // 50.0f
  const DecodedModel fd = decode_model(*find_model(113), f.regs);
  EXPECT_FALSE(fd.find("W")->present);
  EXPECT_EQ(fd.find("Hz")->value, 50.0);

  // An all-zero string is missing; a negative int16 is a number.
  Block c = common_block("", "M", "S");
  const DecodedModel cd = decode_model(*find_model(1), c.regs);
  EXPECT_FALSE(cd.find("Mn")->present);
  EXPECT_EQ(cd.find("Md")->text, "M");
  EXPECT_EQ(decode_model(*find_model(103), inverter_103().regs).find("W_SF")->value, -1.0);
}

TEST(SunSpecDecode, RepeatingModulesWithScaleFactorsFromTheTopGroup) {
  const Block b = mppt_160(3);
  const DecodedModel d = decode_model(*find_model(160), b.regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  ASSERT_NE(d.find("module[1].DCW"), nullptr);
  EXPECT_EQ(d.find("module[1].DCW")->value, 200.0);
  EXPECT_EQ(d.find("module[1].IDStr")->text, "string 1");
  EXPECT_NEAR(*d.find("module[2].DCA")->value, 2.5, 1e-9);
  EXPECT_EQ(d.find("module[2].DCA")->offset, 10U + 2U * 20U + 9U);
  EXPECT_EQ(d.find("module[3].DCA"), nullptr);
}

TEST(SunSpecDecode, NestedCountedGroups) {
  // 705 volt-var: NCrv curves, each with NPt points; V uses V_SF from the top group.
  const ModelDef& m = *find_model(705);
  const GroupDef& crv = m.top.groups[0];
  const GroupDef& pt = crv.groups[0];
  const std::uint16_t ncrv = 2;
  const std::uint16_t npt = 3;
  const auto length = static_cast<std::uint16_t>(
      m.top.points_length - 2 + ncrv * (crv.points_length + npt * pt.points_length));
  Block b(705, length);
  b.put(top_offset(705, "NCrv"), ncrv);
  b.put(top_offset(705, "NPt"), npt);
  b.put(top_offset(705, "V_SF"), static_cast<std::uint16_t>(-1));
  b.put(top_offset(705, "DeptRef_SF"), 0);
  for (std::uint16_t c = 0; c < ncrv; ++c) {
    const std::uint32_t crv_base = m.top.points_length + c * (crv.points_length + npt * 2U);
    for (std::uint16_t p = 0; p < npt; ++p) {
      const std::uint32_t pt_base = crv_base + crv.points_length + p * pt.points_length;
      b.put(pt_base + find_point(pt, "V")->offset, static_cast<std::uint16_t>(1000 + 10 * c + p));
    }
  }
  const DecodedModel d = decode_model(m, b.regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  ASSERT_NE(d.find("Crv[1].Pt[2].V"), nullptr);
  EXPECT_NEAR(*d.find("Crv[1].Pt[2].V")->value, 101.2, 1e-9);
  EXPECT_NEAR(*d.find("Crv[0].Pt[0].V")->value, 100.0, 1e-9);
  EXPECT_EQ(d.find("Crv[2].Pt[0].V"), nullptr);
  EXPECT_EQ(d.find("Crv[1].Pt[3].V"), nullptr);

  // Counts larger than the block: decode what fits, say so, never read past the block.
  b.put(top_offset(705, "NCrv"), 0xFFF0);
  const DecodedModel big = decode_model(m, b.regs);
  EXPECT_EQ(big.issue, DecodeIssue::kShortBlock);
  for (const auto& p : big.points) EXPECT_LT(p.offset, b.regs.size());

  // A missing count: no instances.
  b.put(top_offset(705, "NCrv"), 0xFFFF);
  const DecodedModel none = decode_model(m, b.regs);
  EXPECT_EQ(none.issue, DecodeIssue::kBadCount);
  EXPECT_EQ(none.find("Crv[0].ActPt"), nullptr);
}

TEST(SunSpecDecode, SyncGroupsAreNamedWithoutIndex) {
  const ModelDef& m = *find_model(704);
  Block b(704, m.fixed_length);
  const DecodedModel d = decode_model(m, b.regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  EXPECT_NE(d.find("PFWInj.PF"), nullptr);
}

TEST(SunSpecDecode, ShortBlockMakesTheRestMissing) {
  Block b = inverter_103();
  b.regs.resize(top_offset(103, "W"));  // the caller read fewer registers than L says
  const DecodedModel d = decode_model(*find_model(103), b.regs);
  EXPECT_EQ(d.issue, DecodeIssue::kShortBlock);
  EXPECT_FALSE(d.find("W")->present);
  EXPECT_FALSE(d.find("W")->value.has_value());

  const DecodedModel empty = decode_model(*find_model(103), {});
  EXPECT_EQ(empty.issue, DecodeIssue::kShortBlock);
  for (const auto& p : empty.points) EXPECT_FALSE(p.present);
}

// --- decode_model_into: the pollers' decode, reusing one DecodedModel from read to read ---

void expect_same_decode(const DecodedModel& got, const DecodedModel& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.length, want.length);
  EXPECT_EQ(got.issue, want.issue);
  ASSERT_EQ(got.points.size(), want.points.size());
  for (std::size_t i = 0; i < want.points.size(); ++i) {
    const DecodedPoint& g = got.points[i];
    const DecodedPoint& w = want.points[i];
    SCOPED_TRACE(w.path);
    EXPECT_EQ(g.path, w.path);
    EXPECT_EQ(g.def, w.def);
    EXPECT_EQ(g.offset, w.offset);
    EXPECT_EQ(g.present, w.present);
    EXPECT_EQ(g.raw, w.raw);
    EXPECT_EQ(g.text, w.text);
    EXPECT_EQ(g.scale_factor, w.scale_factor);
    EXPECT_EQ(g.value, w.value);  // exactly: the same arithmetic
  }
}

TEST(SunSpecDecode, DecodeIntoOneModelGivesWhatDecodeModelGives) {
  Block b705 = volt_var_705(3, 20);
  Block short103 = inverter_103();
  short103.regs.resize(top_offset(103, "W"));
  Block bad_count = volt_var_705(2, 3);
  bad_count.put(top_offset(705, "NCrv"), 0xFFFF);
  // Layouts growing, shrinking and changing model, a short block, an empty one, and repeats.
  const std::vector<Block> blocks = {mppt_160(10),  mppt_160(10), mppt_160(3),  b705,
                                     volt_var_705(2, 5), bad_count, inverter_103(), short103,
                                     common_block("Maker", "Model", "SN1"),
                                     common_block("", "M", "S"), Block(704, find_model(704)->fixed_length),
                                     mppt_160(60), inverter_103()};
  DecodedModel into;
  std::vector<std::string> last_paths;
  for (const Block& b : blocks) {
    SCOPED_TRACE(std::to_string(b.regs[0]) + " L=" + std::to_string(b.regs[1]) + " size " +
                 std::to_string(b.regs.size()));
    const ModelDef& def = *find_model(b.regs[0]);
    const DecodedModel want = decode_model(def, b.regs);
    std::vector<std::string> paths;
    for (const auto& p : want.points) paths.push_back(p.path);
    EXPECT_EQ(decode_model_into(def, b.regs, into), paths != last_paths);
    expect_same_decode(into, want);
    last_paths = paths;
  }
  DecodedModel empty;
  EXPECT_TRUE(decode_model_into(*find_model(103), {}, empty));
  expect_same_decode(empty, decode_model(*find_model(103), {}));
}

TEST(SunSpecDecode, ValuesChangeWithoutThePathsChanging) {
  Block b = inverter_103();
  DecodedModel into;
  EXPECT_TRUE(decode_model_into(*find_model(103), b.regs, into));
  EXPECT_NEAR(*into.find("W")->value, 123.4, 1e-9);
  b.put(top_offset(103, "W"), 0x8000);
  EXPECT_FALSE(decode_model_into(*find_model(103), b.regs, into));
  EXPECT_FALSE(into.find("W")->present);
  EXPECT_FALSE(into.find("W")->value.has_value());
  b.put(top_offset(103, "W"), 1000);
  b.put(top_offset(103, "W_SF"), 2);
  EXPECT_FALSE(decode_model_into(*find_model(103), b.regs, into));
  EXPECT_EQ(into.find("W")->value, 100000.0);
}

TEST(SunSpecDecode, EveryScaleFactorScalesAsPowDoes) {
  Block b = inverter_103();
  b.put(top_offset(103, "W"), static_cast<std::uint16_t>(-1234));
  for (int e = -10; e <= 10; ++e) {
    b.put(top_offset(103, "W_SF"), static_cast<std::uint16_t>(e));
    const DecodedModel d = decode_model(*find_model(103), b.regs);
    ASSERT_TRUE(d.find("W")->value.has_value()) << e;
    EXPECT_EQ(*d.find("W")->value, -1234.0 * std::pow(10.0, e)) << e;
  }
}

// A model definition of the caller's own (not in our tables): scale factors are still found by
// name, in the point's group or an enclosing one.
constexpr PointDef kOwnTop[] = {
    {"ID", 0, 1, PointType::kUint16, "", "", false, true},
    {"L", 1, 1, PointType::kUint16, "", "", false, true},
    {"V_SF", 2, 1, PointType::kSunssf, "", "", false, true},
};
constexpr PointDef kOwnRow[] = {
    {"V", 0, 1, PointType::kUint16, "V_SF", "V", false, true},
    {"A", 1, 1, PointType::kInt16, "A_SF", "A", false, true},
    {"A_SF", 2, 1, PointType::kSunssf, "", "", false, true},
};
constexpr GroupDef kOwnGroups[] = {{"row", kOwnRow, 3, GroupRepeat::kFillModel, "", false, {}}};
constexpr ModelDef kOwnModel{64999, "own", {"own", kOwnTop, 3, GroupRepeat::kOnce, "", false, kOwnGroups},
                             LengthRule::kFillRepeats, 1, 3};

TEST(SunSpecDecode, ScaleFactorsOfAModelOutsideOurTables) {
  Block b(64999, 1 + 2 * 3);
  b.put(2, static_cast<std::uint16_t>(-1));  // V_SF
  b.put(3, 2301);                            // row[0].V
  b.put(4, 25);                              // row[0].A
  b.put(5, 1);                               // row[0].A_SF
  b.put(6, 2302);                            // row[1].V
  b.put(7, 7);                               // row[1].A
  b.put(8, 0x8000);                          // row[1].A_SF: not implemented
  DecodedModel into;
  EXPECT_TRUE(decode_model_into(kOwnModel, b.regs, into));
  expect_same_decode(into, decode_model(kOwnModel, b.regs));
  EXPECT_NEAR(*into.find("row[0].V")->value, 230.1, 1e-9);
  EXPECT_EQ(into.find("row[0].A")->value, 250.0);
  EXPECT_NEAR(*into.find("row[1].V")->value, 230.2, 1e-9);
  EXPECT_FALSE(into.find("row[1].A")->value.has_value());
}

}  // namespace
}  // namespace gridlet::adapters::sunspec
