// Device profiles: parsing, every validation error with its place, and the shipped profiles.
#include "adapters/modbus/profile.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace gridlet::adapters::modbus {
namespace {

const std::string kHeader = R"([profile]
name = "test"
kind = "meter"
source = "Test register map v1, https://example.com/map.pdf"
)";

ProfileLoadResult load(const std::string& text) { return load_profile_string(text, "p.toml"); }

// The error about `key`, or a failure.
const ProfileError& error_for(const ProfileLoadResult& r, const std::string& key) {
  for (const auto& e : r.errors) {
    if (e.key_path == key) return e;
  }
  static ProfileError none;
  std::string all;
  for (const auto& e : r.errors) all += "\n  " + e.format();
  ADD_FAILURE() << "no error for " << key << "; errors:" << all;
  return none;
}

TEST(ModbusProfile, MinimalProfileLoadsWithDefaults) {
  auto r = load(kHeader + R"(
[[points]]
name = "W"
table = "holding"
address = 10
type = "i16"
)");
  ASSERT_TRUE(r.profile) << r.errors.front().format();
  const Profile& p = *r.profile;
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.kind, DeviceKind::kMeter);
  EXPECT_EQ(p.word_order, WordOrder::kHighFirst);
  EXPECT_FALSE(p.sentinels);
  EXPECT_EQ(p.max_read_registers, 125);
  ASSERT_EQ(p.points.size(), 1U);
  const Point& w = p.points[0];
  EXPECT_EQ(w.table, Table::kHolding);
  EXPECT_EQ(w.address, 10);
  EXPECT_EQ(w.encoding.type, DataType::kI16);
  EXPECT_EQ(w.access, Access::kRead);
  EXPECT_EQ(w.poll, PollClass::kNormal);
  EXPECT_EQ(w.kind, PointKind::kMeasured);
  EXPECT_EQ(w.scale, 1.0);
  EXPECT_EQ(w.line, 6);
}

TEST(ModbusProfile, EveryKeyIsParsed) {
  auto r = load(R"([profile]
name = "full"
manufacturer = "ACME"
model = "X1"
kind = "battery"
source = "ACME X1 Modbus map v2, https://example.com"
description = "for tests"
word_order = "low_first"
byte_order = "swapped"
sentinels = true
max_read_registers = 60

[[forbidden]]
table = "holding"
start = 100
end = 199
reason = "reserved"

[[points]]
name = "SF"
register = 40001
type = "sunssf"

[[points]]
name = "W"
register = 40002
type = "i32"
word_order = "high_first"
byte_order = "big_endian"
sentinels = false
scale_point = "SF"
unit = "W"
min = -5000
max = 5000.5
poll = "fast"
kind = "measured"
description = "power"

[[points]]
name = "Mode"
table = "holding"
address = 3
type = "enum16"
access = "rw"
kind = "setpoint"
values = { 0 = "off", 1 = "on", 0x10 = "auto" }
readback = false
revert_timeout_point = "Timeout"
heartbeat_point = "Timeout"

[[points]]
name = "Timeout"
table = "holding"
address = 4
type = "u16"
scale = 0.1
unit = "s"
poll = "slow"

[[points]]
name = "Serial"
register = 30001
type = "string"
length = 8

[[points]]
name = "Relay"
register = 1
access = "w"
readback_point = "RelayState"

[[points]]
name = "RelayState"
table = "discrete"
address = 0
kind = "status"
)");
  ASSERT_TRUE(r.profile) << r.errors.front().format();
  const Profile& p = *r.profile;
  EXPECT_EQ(p.manufacturer, "ACME");
  EXPECT_EQ(p.word_order, WordOrder::kLowFirst);
  EXPECT_EQ(p.byte_order, ByteOrder::kSwapped);
  EXPECT_TRUE(p.sentinels);
  EXPECT_EQ(p.max_read_registers, 60);
  ASSERT_EQ(p.forbidden.size(), 1U);
  EXPECT_EQ(p.forbidden[0], (RegisterRange{Table::kHolding, 100, 199}));

  const Point* sf = p.find("SF");
  ASSERT_TRUE(sf);
  EXPECT_EQ(sf->address, 0);
  EXPECT_EQ(sf->encoding.word_order, WordOrder::kLowFirst);  // profile default
  EXPECT_TRUE(sf->encoding.sentinels);

  const Point* w = p.find("W");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, 1);
  EXPECT_EQ(w->encoding.type, DataType::kI32);
  EXPECT_EQ(w->encoding.word_order, WordOrder::kHighFirst);
  EXPECT_EQ(w->encoding.byte_order, ByteOrder::kBigEndian);
  EXPECT_FALSE(w->encoding.sentinels);
  EXPECT_EQ(w->scale_point, "SF");
  EXPECT_EQ(w->min, -5000.0);
  EXPECT_EQ(w->max, 5000.5);
  EXPECT_EQ(w->poll, PollClass::kFast);

  const Point* mode = p.find("Mode");
  ASSERT_TRUE(mode);
  EXPECT_EQ(mode->access, Access::kReadWrite);
  EXPECT_EQ(mode->kind, PointKind::kSetpoint);
  EXPECT_EQ(mode->enum_values.size(), 3U);
  EXPECT_EQ(mode->enum_values.at(16), "auto");
  EXPECT_FALSE(mode->readback);
  EXPECT_EQ(mode->revert_timeout_point, "Timeout");

  EXPECT_EQ(p.find("Timeout")->scale, 0.1);
  EXPECT_EQ(p.find("Serial")->table, Table::kInput);
  EXPECT_EQ(p.find("Serial")->register_count(), 8);
  const Point* relay = p.find("Relay");
  EXPECT_EQ(relay->table, Table::kCoil);
  EXPECT_EQ(relay->encoding.type, DataType::kBool);
  EXPECT_EQ(relay->readback_point, "RelayState");
  EXPECT_EQ(p.find("RelayState")->encoding.type, DataType::kBool);
}

TEST(ModbusProfile, ModiconNumbers) {
  struct Case {
    int number;
    Table table;
    int address;
  };
  for (const Case& c : {Case{1, Table::kCoil, 0}, Case{10001, Table::kDiscrete, 0},
                        Case{30001, Table::kInput, 0}, Case{39999, Table::kInput, 9998},
                        Case{40001, Table::kHolding, 0}, Case{300001, Table::kInput, 0},
                        Case{465536, Table::kHolding, 65535}, Case{140001, Table::kDiscrete, 40000}}) {
    const std::string type = (c.table == Table::kCoil || c.table == Table::kDiscrete) ? "bool" : "u16";
    auto r = load(kHeader + "[[points]]\nname = \"x\"\nregister = " + std::to_string(c.number) +
                  "\ntype = \"" + type + "\"\n");
    ASSERT_TRUE(r.profile) << c.number << ": " << r.errors.front().format();
    EXPECT_EQ(r.profile->points[0].table, c.table) << c.number;
    EXPECT_EQ(r.profile->points[0].address, c.address) << c.number;
  }
  for (int bad : {0, 20000, 29999, 50000, 465537, -1}) {
    auto r = load(kHeader + "[[points]]\nname = \"x\"\nregister = " + std::to_string(bad) + "\ntype = \"u16\"\n");
    ASSERT_FALSE(r.profile) << bad;
    EXPECT_EQ(error_for(r, "points[0].register").line, 7) << bad;
  }
}

TEST(ModbusProfile, SyntaxErrorHasAPlace) {
  auto r = load("[profile]\nname = \"x\nkind = 1\n");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].file, "p.toml");
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_GT(r.errors[0].column, 0);
  EXPECT_FALSE(r.errors[0].message.empty());
}

TEST(ModbusProfile, HeaderErrors) {
  auto r = load(R"([profile]
name = "x"
kind = "toaster"
source = "doc"
word_order = "middle"
max_read_registers = 200
color = "blue"
[[points]]
name = "a"
table = "holding"
address = 0
type = "u16"
)");
  EXPECT_EQ(error_for(r, "profile.kind").line, 3);
  EXPECT_EQ(error_for(r, "profile.source").line, 4);
  EXPECT_EQ(error_for(r, "profile.word_order").line, 5);
  EXPECT_EQ(error_for(r, "profile.max_read_registers").line, 6);
  const auto& unknown = error_for(r, "profile.color");
  EXPECT_EQ(unknown.line, 7);
  EXPECT_EQ(unknown.column, 1);
  EXPECT_EQ(unknown.message, "unknown key");

  auto missing = load("[[points]]\nname = \"a\"\ntable = \"holding\"\naddress = 0\ntype = \"u16\"\n");
  EXPECT_EQ(error_for(missing, "profile").line, 1);
  auto nothing = load(kHeader);
  EXPECT_FALSE(nothing.profile);
  error_for(nothing, "points");
}

TEST(ModbusProfile, MissingSourceIsAnError) {
  auto r = load("[profile]\nname = \"x\"\nkind = \"meter\"\n[[points]]\nname = \"a\"\nregister = 40001\ntype = \"u16\"\n");
  EXPECT_EQ(error_for(r, "profile.source").message, "required key is missing");
}

TEST(ModbusProfile, PointErrorsEachWithLineAndKey) {
  auto r = load(kHeader + R"(
[[points]]
name = "bad name!"
table = "holding"
address = 0
type = "u17"
speed = 3

[[points]]
name = "s"
table = "holding"
address = 10
type = "string"

[[points]]
name = "len"
table = "holding"
address = 20
type = "u16"
length = 4

[[points]]
name = "range"
table = "holding"
address = 30
type = "u16"
min = 10
max = 5
access = "x"
poll = "sometimes"
kind = "guess"

[[points]]
name = "ro"
table = "input"
address = 0
type = "u16"
access = "rw"

[[points]]
name = "both"
table = "holding"
address = 40
register = 40041
type = "u16"

[[points]]
name = "noaddr"
type = "u16"

[[points]]
name = "notable"
address = 50
type = "u16"

[[points]]
name = "bitreg"
table = "coil"
address = 0
type = "u16"

[[points]]
name = "boolreg"
table = "holding"
address = 60
type = "bool"

[[points]]
name = "scaled"
table = "holding"
address = 70
type = "u16"
scale = 0

[[points]]
name = "vals"
table = "holding"
address = 80
type = "f32"
values = { 1 = "x" }

[[points]]
name = "badkey"
table = "holding"
address = 90
type = "u16"
values = { one = "x" }

[[points]]
name = "rbro"
table = "holding"
address = 100
type = "u16"
readback = false
)");
  ASSERT_FALSE(r.profile);
  EXPECT_EQ(error_for(r, "points[0].name").line, 7);
  EXPECT_EQ(error_for(r, "points[0].type").line, 10);
  EXPECT_EQ(error_for(r, "points[0].speed").line, 11);
  EXPECT_EQ(error_for(r, "points[1].length").line, 17);  // reported at the type
  EXPECT_EQ(error_for(r, "points[2].length").line, 24);
  EXPECT_EQ(error_for(r, "points[3].max").line, 32);
  EXPECT_EQ(error_for(r, "points[3].access").line, 33);
  EXPECT_EQ(error_for(r, "points[3].poll").line, 34);
  EXPECT_EQ(error_for(r, "points[3].kind").line, 35);
  EXPECT_EQ(error_for(r, "points[4].access").line, 42);
  EXPECT_EQ(error_for(r, "points[5].register").line, 48);
  EXPECT_EQ(error_for(r, "points[6].address").line, 51);
  EXPECT_EQ(error_for(r, "points[7].table").line, 55);
  EXPECT_EQ(error_for(r, "points[8].type").line, 64);
  EXPECT_EQ(error_for(r, "points[9].type").line, 70);
  EXPECT_EQ(error_for(r, "points[10].scale").line, 77);
  EXPECT_EQ(error_for(r, "points[11].values").line, 84);
  EXPECT_EQ(error_for(r, "points[12].values.one").line, 91);
  EXPECT_EQ(error_for(r, "points[13].readback").line, 98);
  for (const auto& e : r.errors) {
    EXPECT_GT(e.line, 0) << e.format();
    EXPECT_GT(e.column, 0) << e.format();
    EXPECT_EQ(e.format().rfind("p.toml:", 0), 0U);
  }
}

TEST(ModbusProfile, DuplicateNamesAndOverlaps) {
  auto r = load(kHeader + R"(
[[points]]
name = "a"
table = "holding"
address = 0
type = "u32"

[[points]]
name = "a"
table = "holding"
address = 10
type = "u16"

[[points]]
name = "b"
table = "holding"
address = 1
type = "u16"

[[points]]
name = "c"
table = "input"
address = 1
type = "u16"
)");
  ASSERT_FALSE(r.profile);
  const auto& dup = error_for(r, "points[1].name");
  EXPECT_EQ(dup.line, 13);
  EXPECT_NE(dup.message.find("first defined on line 6"), std::string::npos) << dup.message;
  const auto& overlap = error_for(r, "points[2]");
  EXPECT_EQ(overlap.line, 21);  // at b's address
  EXPECT_NE(overlap.message.find("overlap"), std::string::npos);
  EXPECT_EQ(r.errors.size(), 2U);  // c is in another table: fine
}

TEST(ModbusProfile, OverlapWithALongEarlierPoint) {
  // A string covering 0..9 overlaps a point at 8 even with a point at 5 sorted between them.
  auto r = load(kHeader + R"(
[[points]]
name = "s"
table = "holding"
address = 0
type = "string"
length = 10
[[points]]
name = "x"
table = "holding"
address = 5
type = "u16"
[[points]]
name = "y"
table = "holding"
address = 8
type = "u16"
)");
  ASSERT_FALSE(r.profile);
  error_for(r, "points[1]");
  error_for(r, "points[2]");
}

TEST(ModbusProfile, ForbiddenRanges) {
  auto r = load(kHeader + R"(
[[forbidden]]
table = "holding"
start = 10
end = 19

[[forbidden]]
table = "holding"
start = 30
end = 20

[[forbidden]]
table = "register"
start = 0
end = 70000

[[points]]
name = "inside"
table = "holding"
address = 18
type = "u32"

[[points]]
name = "outside"
table = "holding"
address = 20
type = "u32"
)");
  ASSERT_FALSE(r.profile);
  EXPECT_EQ(error_for(r, "forbidden[1].end").line, 14);
  EXPECT_EQ(error_for(r, "forbidden[2].table").line, 17);
  EXPECT_EQ(error_for(r, "forbidden[2].end").line, 19);
  const auto& inside = error_for(r, "points[0]");
  EXPECT_EQ(inside.line, 24);
  EXPECT_NE(inside.message.find("forbidden"), std::string::npos);
  EXPECT_EQ(r.errors.size(), 4U);
}

TEST(ModbusProfile, ScalePointChecks) {
  auto r = load(kHeader + R"(
[[points]]
name = "W_SF"
table = "holding"
address = 0
type = "sunssf"
[[points]]
name = "U32"
table = "holding"
address = 1
type = "u32"
[[points]]
name = "a"
table = "holding"
address = 3
type = "i16"
scale_point = "nope"
[[points]]
name = "b"
table = "holding"
address = 4
type = "i16"
scale_point = "U32"
[[points]]
name = "c"
table = "holding"
address = 5
type = "i16"
scale_point = "W_SF"
scale = 10
[[points]]
name = "d"
table = "input"
address = 5
type = "i16"
scale_point = "W_SF"
[[points]]
name = "e"
table = "holding"
address = 6
type = "i16"
scale_point = "e"
[[points]]
name = "ok"
table = "holding"
address = 7
type = "u16"
scale_point = "W_SF"
)");
  ASSERT_FALSE(r.profile);
  EXPECT_NE(error_for(r, "points[2].scale_point").message.find("no point named"), std::string::npos);
  EXPECT_NE(error_for(r, "points[3].scale_point").message.find("sunssf or i16"), std::string::npos);
  EXPECT_NE(error_for(r, "points[4].scale_point").message.find("not both"), std::string::npos);
  EXPECT_NE(error_for(r, "points[5].scale_point").message.find("table"), std::string::npos);
  EXPECT_NE(error_for(r, "points[6].scale_point").message.find("itself"), std::string::npos);
  EXPECT_EQ(r.errors.size(), 5U);
}

TEST(ModbusProfile, AddressSpaceAndReadLimit) {
  auto r = load(R"([profile]
name = "x"
kind = "other"
source = "Test register map v1, https://example.com"
max_read_registers = 2
[[points]]
name = "end"
table = "holding"
address = 65535
type = "u32"
[[points]]
name = "wide"
table = "holding"
address = 0
type = "u64"
[[points]]
name = "ok"
table = "holding"
address = 65534
type = "u16"
[[points]]
name = "wide_write_only"
table = "holding"
address = 10
type = "u64"
access = "w"
)");
  ASSERT_FALSE(r.profile);
  EXPECT_EQ(error_for(r, "points[0].address").line, 9);
  EXPECT_NE(error_for(r, "points[1]").message.find("at most 2"), std::string::npos);
  EXPECT_EQ(r.errors.size(), 2U);
}

TEST(ModbusProfile, ReadSpansGroupValuesWithTheirScaleFactor) {
  auto r = load(kHeader + R"(
[[points]]
name = "W"
table = "holding"
address = 0
type = "i16"
scale_point = "W_SF"
poll = "fast"
[[points]]
name = "VA"
table = "holding"
address = 1
type = "i16"
scale_point = "W_SF"
[[points]]
name = "Hz"
table = "holding"
address = 2
type = "u16"
[[points]]
name = "W_SF"
table = "holding"
address = 100
type = "sunssf"
[[points]]
name = "Set"
table = "holding"
address = 200
type = "u16"
access = "w"
)");
  ASSERT_TRUE(r.profile) << r.errors.front().format();
  const Profile& p = *r.profile;
  std::vector<std::size_t> idx;
  auto spans = p.read_spans({0, 4}, idx);  // W (fast) and a write-only point
  ASSERT_EQ(spans.size(), 2U);            // W and its SF; Set is never read
  EXPECT_EQ(idx, (std::vector<std::size_t>{0, 3}));
  EXPECT_NE(spans[0].group, 0U);
  EXPECT_EQ(spans[0].group, spans[1].group);
  auto plan = plan_reads(spans, p.plan_options());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.requests.size(), 1U);  // 0..100 in one request despite the gap
  EXPECT_EQ(plan.requests[0].count, 101);

  spans = p.read_spans({0, 1, 2, 3}, idx);
  ASSERT_EQ(spans.size(), 4U);
  EXPECT_EQ(idx, (std::vector<std::size_t>{0, 3, 1, 2}));  // each SF right after its first user
  EXPECT_EQ(spans[2].group, spans[0].group);
  EXPECT_EQ(spans[3].group, 0U);  // Hz has no scale factor
}

TEST(ModbusProfile, UnreadableFile) {
  auto r = load_profile_file("/nonexistent/profile.toml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].message, "cannot read the file");
}

// Every shipped profile (except the SunSpec ones, owned elsewhere) loads without error, cites
// its source, and plans its reads without error.
TEST(ModbusProfile, ShippedProfilesLoad) {
  const std::filesystem::path dir = std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs" / "profiles";
  ASSERT_TRUE(std::filesystem::exists(dir));
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto& path = entry.path();
    if (path.extension() != ".toml" || path.filename().string().rfind("sunspec", 0) == 0) continue;
    SCOPED_TRACE(path.string());
    auto r = load_profile_file(path);
    for (const auto& e : r.errors) ADD_FAILURE() << e.format();
    if (!r.profile) continue;
    ++loaded;
    const Profile& p = *r.profile;
    EXPECT_FALSE(p.source.empty());
    EXPECT_NE(p.source.find("http"), std::string::npos) << "source should carry a URL";
    std::vector<std::size_t> all(p.points.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    std::vector<std::size_t> idx;
    auto plan = plan_reads(p.read_spans(all, idx), p.plan_options());
    EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.errors.front().message);
  }
  EXPECT_GE(loaded, 3);
}

// The number of read requests for a whole profile equals the optimum worked out by hand from the
// register map (gaps of more than 8, forbidden ranges and the device's read limit split requests).
std::size_t requests_for(const std::string& file) {
  auto r = load_profile_file(std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs" / "profiles" / file);
  if (!r.profile) {
    for (const auto& e : r.errors) ADD_FAILURE() << e.format();
    return 0;
  }
  std::vector<std::size_t> all(r.profile->points.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::vector<std::size_t> idx;
  return plan_reads(r.profile->read_spans(all, idx), r.profile->plan_options()).requests.size();
}

TEST(ModbusProfile, ShippedProfilesNeedTheMinimumNumberOfRequests) {
  // 0-17 | 30-35 | 52-75 (gaps 8 and 6 bridged) | 200-205 | 224-225 | 342-343
  EXPECT_EQ(requests_for("sdm630.toml"), 6U);
  // 817-822 | 840-845 | 850 | 2700-2708 | 2716-2717 | 2902 (forbidden gaps are never bridged)
  EXPECT_EQ(requests_for("victron_gx_ess.toml"), 6U);
  // one request per readable 32-bit register: 20
  EXPECT_EQ(requests_for("keba_p30.toml"), 20U);
}

}  // namespace
}  // namespace gridlet::adapters::modbus
