// MQTT device profiles: parsing, every validation error with its place and key, and the shipped
// presets (each loads, and what the build embedded is its file, byte for byte).
#include "adapters/mqtt/presets.hpp"
#include "adapters/mqtt/profile.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace gridlet::adapters::mqtt {
namespace {

using namespace std::chrono_literals;

const std::string kHeader = R"([profile]
name = "test"
kind = "meter"
source = "Test device MQTT API v1, https://example.com/mqtt"
)";

const std::string kPoint = R"(
[[points]]
name = "power_w"
topic = "{id}/power"
)";

ProfileLoadResult load(const std::string& text) { return load_profile_string(text, "p.toml"); }

std::string all_errors(const ProfileLoadResult& r) {
  std::string all;
  for (const auto& e : r.errors) all += "\n  " + e.format();
  return all;
}

// The error about `key`, checked to be on `line` and to mention `words`.
void expect_error(const ProfileLoadResult& r, const std::string& key, int line, const std::string& words = "") {
  EXPECT_FALSE(r.profile) << "loaded although " << key << " is wrong";
  for (const auto& e : r.errors) {
    if (e.key_path != key) continue;
    EXPECT_EQ(e.file, "p.toml");
    EXPECT_EQ(e.line, line) << e.format();
    EXPECT_GE(e.column, 1);
    EXPECT_NE(e.message.find(words), std::string::npos) << e.format() << " does not mention " << words;
    return;
  }
  ADD_FAILURE() << "no error for " << key << "; errors:" << all_errors(r);
}

TEST(MqttProfile, MinimalProfileLoadsWithDefaults) {
  auto r = load(kHeader + kPoint);
  ASSERT_TRUE(r.profile) << all_errors(r);
  const Profile& p = *r.profile;
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.kind, DeviceKind::kMeter);
  EXPECT_FALSE(p.availability);
  EXPECT_TRUE(p.variables.empty());
  ASSERT_EQ(p.points.size(), 1U);
  const Point& pt = p.points[0];
  EXPECT_EQ(pt.source.topic, "{id}/power");
  EXPECT_FALSE(pt.source.json);
  EXPECT_FALSE(pt.source.when);
  EXPECT_EQ(pt.scale, 1.0);
  EXPECT_EQ(pt.kind, ReadingKind::kMeasured);
  EXPECT_EQ(pt.max_age, 10min);
  EXPECT_FALSE(pt.timestamp);
  EXPECT_EQ(pt.line, 6);
  EXPECT_TRUE(p.controls.empty());
}

TEST(MqttProfile, EveryKeyIsParsed) {
  auto r = load(R"([profile]
name = "full"
manufacturer = "ACME"
model = "Plug 2"
kind = "ev_charger"
source = "ACME Plug 2 MQTT API, https://example.com"
description = "for tests"
max_age = "90s"

[variables]
base = "acme"
src = "gw"

[availability]
topic = "{base}/{id}/status"
json = "/state"
payload_online = "up"
payload_offline = "down"

[[points]]
name = "power_w"
topic = "{base}/{id}/+/data"
json = "/params/switch:0/apower"
when = { json = "/method", equals = ["NotifyStatus", 7, true] }
values = { n_a = -1 }
scale = 0.001
unit = "W"
kind = "counter"
timestamp = { json = "/ts", unit = "ms" }
max_age = "5m"
min = -10
max = 10.5
description = "power"

[[points]]
name = "relay"
topic = "{base}/#"
json = ""
when = { json = "/kind", equals = "relay" }
kind = "status"

[[controls]]
name = "relay"
description = "relay"
unit = ""
command_topic = "{base}/{id}/set"
payload = '{"src":"{src}","on":{value}}'
payload_format = "json"
command_values = { "0" = false, "1" = true, "0.5" = "half", "2" = 2 }
state_topic = "{base}/{id}/+/data"
state_json = "/on"
state_when = { json = "/method", equals = "NotifyStatus" }
state_values = { on = 1, off = 0 }
confirm_timeout = "30s"
tolerance = 0.25
min = 0
max = 2
failsafe = 1
nonpersistent = true
)");
  ASSERT_TRUE(r.profile) << all_errors(r);
  const Profile& p = *r.profile;
  EXPECT_EQ(p.manufacturer, "ACME");
  EXPECT_EQ(p.model, "Plug 2");
  EXPECT_EQ(p.kind, DeviceKind::kEvCharger);
  EXPECT_EQ(p.description, "for tests");
  EXPECT_EQ(p.variables.at("base"), "acme");
  ASSERT_TRUE(p.availability);
  EXPECT_EQ(p.availability->topic, "{base}/{id}/status");
  EXPECT_EQ(p.availability->json->tokens, std::vector<std::string>{"state"});
  EXPECT_EQ(p.availability->payload_online, "up");

  const Point* w = p.find_point("power_w");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->source.json->tokens, (std::vector<std::string>{"params", "switch:0", "apower"}));
  ASSERT_TRUE(w->source.when);
  ASSERT_EQ(w->source.when->equals.size(), 3U);
  EXPECT_EQ(w->source.when->equals[0].string, "NotifyStatus");
  EXPECT_EQ(w->source.when->equals[1].type, Literal::Type::kNumber);
  EXPECT_EQ(w->source.when->equals[1].number, 7.0);
  EXPECT_EQ(w->source.when->equals[2].type, Literal::Type::kBool);
  EXPECT_EQ(w->source.values.at("n_a"), -1.0);
  EXPECT_EQ(w->scale, 0.001);
  EXPECT_EQ(w->kind, ReadingKind::kCounter);
  EXPECT_EQ(w->timestamp->text, "/ts");
  EXPECT_EQ(w->timestamp_unit, TimestampUnit::kMilliseconds);
  EXPECT_EQ(w->max_age, 5min);
  EXPECT_EQ(w->min, -10.0);
  EXPECT_EQ(w->max, 10.5);
  EXPECT_EQ(p.find_point("relay")->max_age, 90s);  // the profile's default
  EXPECT_TRUE(p.find_point("relay")->source.json->tokens.empty());

  const Control* c = p.find_control("relay");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->format, PayloadFormat::kJson);
  ASSERT_EQ(c->command_values.size(), 4U);
  ASSERT_TRUE(c->state);
  EXPECT_EQ(c->state->json->text, "/on");
  EXPECT_EQ(c->state->values.at("on"), 1.0);
  EXPECT_EQ(c->confirm_timeout, 30s);
  EXPECT_EQ(c->tolerance, 0.25);
  EXPECT_EQ(c->failsafe, 1.0);
  EXPECT_TRUE(c->nonpersistent);
  EXPECT_EQ(c->line, 42);

  const ControlInfo info = c->info();
  EXPECT_EQ(info.point, "relay");
  EXPECT_EQ(info.max, 2.0);
  EXPECT_NE(info.release.find("re-sent"), std::string::npos);
}

TEST(MqttProfile, JsonPointers) {
  EXPECT_TRUE(parse_json_pointer("")->tokens.empty());
  EXPECT_EQ(parse_json_pointer("/a~1b/m~0n/0")->tokens, (std::vector<std::string>{"a/b", "m~n", "0"}));
  EXPECT_EQ(parse_json_pointer("/")->tokens, std::vector<std::string>{""});
  EXPECT_EQ(parse_json_pointer("/a//b")->tokens, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_FALSE(parse_json_pointer("a/b"));
  EXPECT_FALSE(parse_json_pointer("/a~2"));
  EXPECT_FALSE(parse_json_pointer("/a~"));
}

TEST(MqttProfile, Templates) {
  auto parts = split_template("{base}/{id}/x", true);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 4U);
  EXPECT_TRUE((*parts)[0].placeholder);
  EXPECT_EQ((*parts)[0].text, "base");
  EXPECT_EQ((*parts)[1].text, "/");
  EXPECT_EQ((*parts)[3].text, "/x");
  EXPECT_FALSE(split_template("a/{Id}", true));  // upper case is no placeholder
  EXPECT_FALSE(split_template("a/{}", true));
  EXPECT_FALSE(split_template("a}", true));
  // In payloads other braces are JSON.
  parts = split_template(R"({"on":{value},"x":{"y":1}})", false);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 3U);
  EXPECT_EQ((*parts)[0].text, R"({"on":)");
  EXPECT_EQ((*parts)[1].text, "value");
  EXPECT_EQ((*parts)[2].text, R"(,"x":{"y":1}})");
}

// --- Every error class, with its place -----------------------------------------------------------

TEST(MqttProfile, TomlSyntaxErrorHasAPlace) {
  auto r = load("[profile]\nname = \"x\n");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_FALSE(r.profile);
}

TEST(MqttProfile, HeaderErrors) {
  auto r = load(kPoint);
  expect_error(r, "profile", 1, "missing");
  r = load("[profile]\nname = \"\"\nkind = \"toaster\"\nsource = \"doc\"\nmax_age = \"soon\"\ncolour = 1\n" + kPoint);
  expect_error(r, "profile.name", 2, "empty");
  expect_error(r, "profile.kind", 3, "toaster");
  expect_error(r, "profile.source", 4, "cite");
  expect_error(r, "profile.max_age", 5, "duration");
  expect_error(r, "profile.colour", 6, "unknown key");
}

TEST(MqttProfile, UnknownKeysEverywhere) {
  auto r = load("extra = 1\n" + kHeader + "[availability]\ntopic = \"{id}/online\"\npayload_online = \"1\"\n"
                          "payload_offline = \"0\"\nqos = 1\n" +
                kPoint + "retain = true\nwhen = { json = \"/m\", equals = \"x\", not = 1 }\n" +
                "[[controls]]\nname = \"c\"\ncommand_topic = \"{id}/set\"\nretain = false\n");
  expect_error(r, "extra", 1, "unknown key");
  expect_error(r, "availability.qos", 10, "unknown key");
  expect_error(r, "points[0].retain", 15, "unknown key");
  expect_error(r, "points[0].when.not", 16, "unknown key");
  expect_error(r, "controls[0].retain", 20, "unknown key");
}

TEST(MqttProfile, NoPoints) {
  auto r = load(kHeader);
  expect_error(r, "points", 1, "at least one");
  r = load("points = 3\n" + kHeader);
  expect_error(r, "points", 1, "array of tables");
}

TEST(MqttProfile, NamesMustBeValidAndUnique) {
  auto r = load(kHeader + kPoint + "[[points]]\nname = \"power_w\"\ntopic = \"x\"\n" +
                "[[points]]\nname = \"bad name\"\ntopic = \"x\"\n" +
                "[[controls]]\nname = \"c\"\ncommand_topic = \"x\"\n[[controls]]\nname = \"c\"\ncommand_topic = \"y\"\n");
  expect_error(r, "points[1].name", 10, "duplicate point name \"power_w\" (first defined on line 6)");
  expect_error(r, "points[2].name", 13, "not a valid point name");
  expect_error(r, "controls[1].name", 19, "duplicate control name");
}

TEST(MqttProfile, TopicTemplates) {
  auto r = load(kHeader + "[[points]]\nname = \"a\"\ntopic = \"{base}/x\"\n" +          // line 5
                "[[points]]\nname = \"b\"\ntopic = \"x/{id\"\n" +                      // line 8
                "[[points]]\nname = \"c\"\ntopic = \"x/a+/b\"\n" +                     // line 11
                "[[points]]\nname = \"d\"\ntopic = \"x/#/b\"\n" +                      // line 14
                "[[points]]\nname = \"e\"\n" +                                         // line 17
                "[[controls]]\nname = \"f\"\ncommand_topic = \"{id}/+/set\"\n" +       // line 19
                "[availability]\ntopic = \"{id}/#\"\npayload_online = \"1\"\npayload_offline = \"0\"\n");
  expect_error(r, "points[0].topic", 7, "{base} is not a variable");
  expect_error(r, "points[1].topic", 10, "braces");
  expect_error(r, "points[2].topic", 13, "not a topic filter");
  expect_error(r, "points[3].topic", 16, "not a topic filter");
  expect_error(r, "points[4].topic", 17, "missing");
  expect_error(r, "controls[0].command_topic", 21, "not a topic name");
  expect_error(r, "availability.topic", 23, "not a topic name");
}

TEST(MqttProfile, Variables) {
  auto r = load(kHeader + "[variables]\nid = \"x\"\nvalue = \"y\"\nBase = \"z\"\nbase = \"a/+\"\nsrc = 3\n" + kPoint);
  expect_error(r, "variables.id", 6, "reserved");
  expect_error(r, "variables.value", 7, "reserved");
  expect_error(r, "variables.Base", 8, "variable name");
  expect_error(r, "variables.base", 9, "not a valid value");
  expect_error(r, "variables.src", 10, "must be a string");
}

TEST(MqttProfile, PointErrors) {
  auto r = load(kHeader + R"(
[[points]]
name = "p"
topic = "{id}/x"
json = "params/x"
scale = 0
kind = "gauge"
max_age = "0s"
min = 5
max = 1
values = { ON = "yes" }
timestamp = { json = "/ts", unit = "us" }
when = { json = "/m" }
)");
  expect_error(r, "points[0].json", 9, "not a JSON pointer");
  expect_error(r, "points[0].scale", 10, "must not be 0");
  expect_error(r, "points[0].kind", 11, "gauge");
  expect_error(r, "points[0].max_age", 12, "out of range");
  expect_error(r, "points[0].max", 14, "below min");
  expect_error(r, "points[0].values.ON", 15, "finite number");
  expect_error(r, "points[0].timestamp.unit", 16, "us");
  expect_error(r, "points[0].when.equals", 17, "missing");
}

TEST(MqttProfile, WhenAndTimestampNeedAJsonPayload) {
  auto r = load(kHeader + kPoint + "when = { json = \"/m\", equals = [] }\n" +
                "timestamp = { json = \"/ts\", unit = \"s\" }\n" +
                "[[points]]\nname = \"q\"\ntopic = \"x\"\njson = \"/a\"\nwhen = { json = \"/m\", equals = [{}] }\n");
  expect_error(r, "points[0].when", 9, "needs a JSON payload");
  expect_error(r, "points[0].when.equals", 9, "must not be empty");
  expect_error(r, "points[0].timestamp", 10, "needs a JSON payload");
  expect_error(r, "points[1].when.equals[0]", 15, "string, number or boolean");
}

TEST(MqttProfile, AvailabilityErrors) {
  auto r = load(kHeader + "[availability]\ntopic = \"{id}/online\"\njson = \"state\"\npayload_online = \"on\"\n"
                          "payload_offline = \"on\"\n" +
                kPoint);
  expect_error(r, "availability.json", 7, "JSON pointer");
  expect_error(r, "availability.payload_offline", 9, "must differ");
  r = load(kHeader + "[availability]\ntopic = \"{id}/online\"\n" + kPoint);
  expect_error(r, "availability.payload_online", 5, "missing");
}

TEST(MqttProfile, ControlErrors) {
  auto r = load(kHeader + kPoint + R"(
[[controls]]
name = "c"
command_topic = "{id}/set"
payload = "{level}"
payload_format = "xml"
state_json = "/on"
confirm_timeout = "1h"
tolerance = -1
min = 0
max = 10
failsafe = 11
nonpersistent = "yes"

[[controls]]
name = "d"
command_topic = "{id}/set"
payload = "ON"
command_values = { "one" = "ON", "1" = "ON", "1.0" = "ON", "2" = [1] }
)");
  expect_error(r, "controls[0].payload", 13, "{level} is not a variable");
  expect_error(r, "controls[0].payload_format", 14, "xml");
  expect_error(r, "controls[0].state_json", 15, "only valid with state_topic");
  expect_error(r, "controls[0].confirm_timeout", 16, "out of range");
  expect_error(r, "controls[0].tolerance", 17, "negative");
  expect_error(r, "controls[0].failsafe", 20, "outside");
  expect_error(r, "controls[0].nonpersistent", 21, "true or false");
  expect_error(r, "controls[1].payload", 26, "must contain {value}");
  expect_error(r, "controls[1].command_values.one", 27, "not a number");
  expect_error(r, "controls[1].command_values.1.0", 27, "mapped twice");
  expect_error(r, "controls[1].command_values.2", 27, "string, number or boolean");
}

TEST(MqttProfile, JsonPayloadMustRenderAsJson) {
  // {value} inside quotes renders "ON" as ""ON"": caught when loading, not at the first command.
  auto r = load(kHeader + kPoint + R"(
[[controls]]
name = "c"
command_topic = "{id}/set"
payload_format = "json"
payload = '{"state":"{value}"}'
command_values = { "0" = "OFF", "1" = "ON" }
)");
  expect_error(r, "controls[0].payload", 14, "not valid JSON");
  // A number template without a map is checked at the ends of the range.
  r = load(kHeader + kPoint + R"(
[[controls]]
name = "c"
command_topic = "{id}/set"
payload_format = "json"
payload = '{"limit":{value}'
min = 0
max = 100
)");
  expect_error(r, "controls[0].payload", 14, "not valid JSON");
}

TEST(MqttProfile, OversizedAndUnreadable) {
  auto r = load(std::string(kMaxProfileBytes + 1, '#'));
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_NE(r.errors[0].message.find("larger"), std::string::npos);
  r = load_profile_file("/nonexistent/profile.toml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].message, "cannot read the file");
}

TEST(MqttProfile, ErrorsComeInFileOrder) {
  auto r = load(kHeader + "[[points]]\nname = \"a b\"\ntopic = \"+x\"\nkind = 3\n");
  ASSERT_GE(r.errors.size(), 3U);
  for (std::size_t i = 1; i < r.errors.size(); ++i) EXPECT_LE(r.errors[i - 1].line, r.errors[i].line);
}

// --- The shipped presets --------------------------------------------------------------------------

const std::filesystem::path kPresetDir = std::filesystem::path(GRIDLET_SOURCE_DIR) / "configs" / "profiles" / "mqtt";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(MqttPresets, EveryFileLoadsAndCitesItsSource) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kPresetDir)) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    auto r = load_profile_file(entry.path());
    for (const auto& e : r.errors) ADD_FAILURE() << e.format();
    if (!r.profile) continue;
    ++loaded;
    EXPECT_EQ(r.profile->name, entry.path().stem().string()) << "a preset is named after its file";
    EXPECT_NE(r.profile->source.find("http"), std::string::npos) << "source should carry a URL";
    EXPECT_TRUE(r.profile->availability) << "every preset knows when its device is offline";
    const std::string text = read_file(entry.path());
    EXPECT_EQ(text.rfind("# ", 0), 0U) << "a preset starts with a comment citing its document";
    EXPECT_NE(text.find("Source:"), std::string::npos);
  }
  EXPECT_EQ(loaded, 5);
}

// The build embeds every preset file (adapters/mqtt/embed_presets.cmake): this checks the
// generator, not a hand-kept copy. Every file is a preset, none is missing or extra, each is the
// file's bytes exactly (also its non-ASCII ones, and no terminating NUL), and the names come sorted.
TEST(MqttPresets, BuiltInPresetsAreTheFilesByteForByte) {
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(kPresetDir)) {
    if (entry.path().extension() == ".toml") files.insert(entry.path().stem().string());
  }
  std::set<std::string> embedded;
  const auto names = builtin_preset_names();
  for (std::string_view name : names) embedded.insert(std::string(name));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(embedded, files) << "configs/profiles/mqtt and the built-in presets differ: rebuild";
  for (const std::string& name : files) {
    SCOPED_TRACE(name);
    const auto text = builtin_preset(name);
    ASSERT_TRUE(text);
    const std::string file = read_file(kPresetDir / (name + ".toml"));
    EXPECT_EQ(text->size(), file.size());
    if (*text == file) continue;
    // Point at the first line that differs.
    std::istringstream a{std::string(*text)};
    std::istringstream b{file};
    std::string la;
    std::string lb;
    int line = 1;
    while (std::getline(a, la) && std::getline(b, lb) && la == lb) ++line;
    ADD_FAILURE() << "the built-in preset differs from " << name << ".toml at line " << line;
  }
}

TEST(MqttPresets, LoadByName) {
  for (std::string_view name : builtin_preset_names()) {
    auto r = load_builtin_preset(name);
    EXPECT_TRUE(r.profile) << name << all_errors(r);
  }
  auto r = load_builtin_preset("shelly-gen9");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].file, "<builtin>/shelly-gen9.toml");
  EXPECT_NE(r.errors[0].message.find("shelly-gen2-switch"), std::string::npos);
  EXPECT_FALSE(builtin_preset("../sdm630"));
}

}  // namespace
}  // namespace gridlet::adapters::mqtt
