// Checks our SunSpec model tables (adapters/modbus/sunspec_models.cpp) against the official SunSpec
// JSON definitions shipped in the SunSpec Alliance's pysunspec2 (installed in .venv by
// scripts/bootstrap; the build passes its folder as GRIDLET_SUNSPEC_JSON_DIR): every point's name,
// offset, size, type, scale factor, units, access and mandatory flag, every group's structure and
// repeat rule, and each model's length. A hand edit of the generated table that disagrees with the
// spec fails here, and so does a missing definition: the tests never skip.
#include "adapters/modbus/sunspec_models.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gridlet::adapters::sunspec {
namespace {

// Empty when the build found no pysunspec2 in .venv.
const std::filesystem::path kSpecDir = std::filesystem::path(GRIDLET_SUNSPEC_JSON_DIR);
constexpr const char* kHowToFix =
    "the SunSpec model definitions come from pysunspec2 in .venv: run scripts/bootstrap, then "
    "scripts/build (it passes their folder to this test)";

// The models Gridlet promises to support (README, "Devices").
std::vector<std::uint16_t> promised_models() {
  std::vector<std::uint16_t> ids = {1,   101, 102, 103, 111, 112, 113, 120, 121, 122, 123,
                                    124, 160, 201, 202, 203, 204, 211, 212, 213, 214};
  for (std::uint16_t id = 701; id <= 713; ++id) ids.push_back(id);
  ids.push_back(715);
  ids.push_back(802);
  return ids;
}

nlohmann::json load_model_json(std::uint16_t id) {
  std::ifstream in(kSpecDir / ("model_" + std::to_string(id) + ".json"));
  if (!in) return nullptr;
  return nlohmann::json::parse(in);
}

// Registers of one instance of `g` with every repeating group below it at zero instances.
std::uint32_t fixed_registers(const nlohmann::json& g, bool top) {
  if (!top && g.contains("count")) return 0;
  std::uint32_t n = 0;
  for (const auto& p : g.value("points", nlohmann::json::array()))
    n += p.at("size").get<std::uint32_t>();
  for (const auto& sub : g.value("groups", nlohmann::json::array()))
    n += fixed_registers(sub, false);
  return n;
}

int count_repeating(const nlohmann::json& g, bool top) {
  int n = (!top && g.contains("count")) ? 1 : 0;
  for (const auto& sub : g.value("groups", nlohmann::json::array()))
    n += count_repeating(sub, false);
  return n;
}

// Compares one group (and recursively its nested groups) with the JSON. `ancestors` holds the
// enclosing groups' definitions, innermost last, to check that sf and count names resolve.
void expect_group_matches(const nlohmann::json& jg, const GroupDef& g, const std::string& where,
                          bool top, std::vector<const GroupDef*> ancestors) {
  SCOPED_TRACE(where);
  EXPECT_EQ(g.name, jg.at("name").get<std::string>());
  EXPECT_EQ(g.sync, jg.value("type", std::string("group")) == "sync");

  if (top || !jg.contains("count")) {
    EXPECT_EQ(g.repeat, GroupRepeat::kOnce);
    EXPECT_EQ(g.count_point, "");
  } else if (jg.at("count").is_number()) {
    EXPECT_EQ(jg.at("count").get<int>(), 0);
    EXPECT_EQ(g.repeat, GroupRepeat::kFillModel);
    EXPECT_EQ(g.count_point, "");
  } else {
    EXPECT_EQ(g.repeat, GroupRepeat::kByCountPoint);
    EXPECT_EQ(g.count_point, jg.at("count").get<std::string>());
    bool found = false;
    for (const GroupDef* a : ancestors) found = found || find_point(*a, g.count_point) != nullptr;
    EXPECT_TRUE(found) << "count point " << g.count_point << " not in an enclosing group";
  }

  const auto jpoints = jg.value("points", nlohmann::json::array());
  ASSERT_EQ(g.points.size(), jpoints.size());
  std::uint32_t offset = 0;
  ancestors.push_back(&g);
  for (std::size_t i = 0; i < jpoints.size(); ++i) {
    const auto& jp = jpoints[i];
    const PointDef& p = g.points[i];
    SCOPED_TRACE(where + "." + jp.at("name").get<std::string>());
    EXPECT_EQ(p.name, jp.at("name").get<std::string>());
    EXPECT_EQ(p.offset, offset);
    EXPECT_EQ(p.size, jp.at("size").get<std::uint32_t>());
    EXPECT_EQ(to_string(p.type), jp.at("type").get<std::string>());
    ASSERT_TRUE(!jp.contains("sf") || jp.at("sf").is_string());
    EXPECT_EQ(p.sf, jp.value("sf", std::string()));
    EXPECT_EQ(p.units, jp.value("units", std::string()));
    EXPECT_EQ(p.writable, jp.value("access", std::string("R")) == "RW");
    EXPECT_EQ(p.mandatory, jp.value("mandatory", std::string("O")) == "M");
    if (!p.sf.empty()) {
      const PointDef* sf = nullptr;
      for (auto a = ancestors.rbegin(); a != ancestors.rend() && sf == nullptr; ++a) {
        sf = find_point(**a, p.sf);
      }
      ASSERT_NE(sf, nullptr) << "sf " << p.sf << " does not resolve";
      EXPECT_EQ(sf->type, PointType::kSunssf);
    }
    offset += jp.at("size").get<std::uint32_t>();
  }
  EXPECT_EQ(g.points_length, offset);

  const auto jgroups = jg.value("groups", nlohmann::json::array());
  ASSERT_EQ(g.groups.size(), jgroups.size());
  for (std::size_t i = 0; i < jgroups.size(); ++i) {
    expect_group_matches(jgroups[i], g.groups[i],
                         where + "/" + jgroups[i].at("name").get<std::string>(), false, ancestors);
  }
}

TEST(SunSpecModels, EveryPromisedDefinitionIsPresent) {
  ASSERT_FALSE(kSpecDir.empty()) << "no SunSpec model definitions found: " << kHowToFix;
  ASSERT_TRUE(std::filesystem::is_directory(kSpecDir)) << kSpecDir << " is missing: " << kHowToFix;
  for (const std::uint16_t id : promised_models()) {
    const auto file = kSpecDir / ("model_" + std::to_string(id) + ".json");
    EXPECT_TRUE(std::filesystem::is_regular_file(file)) << file << " is missing: " << kHowToFix;
  }
}

TEST(SunSpecModels, EverySupportedModelMatchesTheOfficialDefinition) {
  ASSERT_FALSE(kSpecDir.empty()) << "no SunSpec model definitions found: " << kHowToFix;
  int checked = 0;
  for (const std::uint16_t id : promised_models()) {
    const nlohmann::json doc = load_model_json(id);
    SCOPED_TRACE("model " + std::to_string(id));
    if (doc.is_null()) {
      ADD_FAILURE() << "no definition of promised model " << id << " in " << kSpecDir << ": "
                    << kHowToFix;
      continue;
    }
    const ModelDef* m = find_model(id);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->id, id);
    EXPECT_EQ(doc.at("id").get<int>(), id);
    const auto& top = doc.at("group");
    EXPECT_EQ(m->name, top.at("name").get<std::string>());
    ASSERT_GE(m->top.points.size(), 2U);
    EXPECT_EQ(m->top.points[0].name, "ID");
    EXPECT_EQ(m->top.points[1].name, "L");
    expect_group_matches(top, m->top, top.at("name").get<std::string>(), true, {});

    EXPECT_EQ(m->fixed_length + 2U, fixed_registers(top, true));
    const auto groups = top.value("groups", nlohmann::json::array());
    const int repeating = count_repeating(top, true);
    if (repeating == 0) {
      EXPECT_EQ(m->length_rule, LengthRule::kFixed);
      EXPECT_EQ(m->repeat_length, 0);
    } else if (repeating == 1 && m->length_rule == LengthRule::kFillRepeats) {
      // Exactly one "count": 0 group directly under the top, with no nested groups (model 160).
      const nlohmann::json* rep = nullptr;
      for (const auto& g : groups) {
        if (g.contains("count")) rep = &g;
      }
      ASSERT_NE(rep, nullptr);
      EXPECT_TRUE(rep->at("count").is_number());
      EXPECT_FALSE(rep->contains("groups"));
      EXPECT_EQ(m->repeat_length, fixed_registers(*rep, true));
    } else {
      EXPECT_EQ(m->length_rule, LengthRule::kCountPoints);
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(supported_models().size()));
  EXPECT_EQ(supported_models().size(), promised_models().size());
}

TEST(SunSpecModels, KnownLengthsFromTheSpecText) {
  // A few lengths every SunSpec implementer knows by heart, as a second opinion on the walk above.
  ASSERT_NE(find_model(1), nullptr);
  EXPECT_EQ(find_model(1)->fixed_length, 66);
  EXPECT_EQ(find_model(103)->fixed_length, 50);
  EXPECT_EQ(find_model(123)->fixed_length, 24);
  EXPECT_EQ(find_model(160)->length_rule, LengthRule::kFillRepeats);
  EXPECT_EQ(find_model(160)->fixed_length, 8);
  EXPECT_EQ(find_model(160)->repeat_length, 20);
  EXPECT_EQ(find_model(203)->fixed_length, 105);
  EXPECT_EQ(find_model(705)->length_rule, LengthRule::kCountPoints);
}

TEST(SunSpecModels, FindModelReturnsEachSupportedIdAndNothingElse) {
  const auto models = supported_models();
  ASSERT_FALSE(models.empty());
  for (std::size_t i = 0; i < models.size(); ++i) {
    EXPECT_EQ(find_model(models[i].id), &models[i]);
    if (i > 0) {
      EXPECT_LT(models[i - 1].id, models[i].id) << "supported_models() must be sorted";
    }
  }
  for (const std::uint16_t id :
       {0, 2, 100, 104, 125, 161, 200, 302, 700, 714, 716, 801, 803, 64001, 0xFFFE, 0xFFFF}) {
    EXPECT_EQ(find_model(static_cast<std::uint16_t>(id)), nullptr) << id;
  }
}

TEST(SunSpecModels, PointTypeNames) {
  EXPECT_EQ(to_string(PointType::kUint16), "uint16");
  EXPECT_EQ(to_string(PointType::kSunssf), "sunssf");
  EXPECT_EQ(to_string(PointType::kEui48), "eui48");
  EXPECT_EQ(to_string(static_cast<PointType>(200)), "");
}

}  // namespace
}  // namespace gridlet::adapters::sunspec
