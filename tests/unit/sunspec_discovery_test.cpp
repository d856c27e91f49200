// SunSpec discovery, chain walking and block decoding against an in-memory register image (no
// network: the Modbus server tests live in tests/integration).
#include "adapters/modbus/sunspec_discovery.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
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
  ASSERT_EQ(dev.requests.size(), 2U);
  EXPECT_EQ(dev.requests[0], (std::pair<std::uint16_t, std::uint16_t>{40002, 125}));
  EXPECT_EQ(dev.requests[1], (std::pair<std::uint16_t, std::uint16_t>{40127, 85}));

  const DecodedModel d = decode_model(*find_model(160), regs);
  EXPECT_EQ(d.issue, DecodeIssue::kNone);
  const DecodedPoint* last = d.find("module[9].DCW");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->value, 1000.0);
  EXPECT_EQ(d.find("module[10].DCW"), nullptr);
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

}  // namespace
}  // namespace gridlet::adapters::sunspec
