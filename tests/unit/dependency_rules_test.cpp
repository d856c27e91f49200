// Enforces the module graph of ARCHITECTURE.md and the determinism boundary on the source tree itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Include {
  std::string file;  // relative to the repository root
  int line;
  std::string target;
};

bool is_source(const fs::path& p) {
  const auto ext = p.extension();
  return ext == ".hpp" || ext == ".cpp" || ext == ".h" || ext == ".cc";
}

std::vector<fs::path> sources_under(const std::string& folder) {
  std::vector<fs::path> out;
  const fs::path root = fs::path(GRIDLET_SOURCE_DIR) / folder;
  if (!fs::exists(root)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && is_source(entry.path())) out.push_back(entry.path());
  }
  return out;
}

std::vector<Include> includes_under(const std::string& folder) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<Include> out;
  for (const auto& path : sources_under(folder)) {
    std::ifstream in(path);
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      std::smatch m;
      if (std::regex_search(text, m, kInclude)) {
        out.push_back({fs::relative(path, GRIDLET_SOURCE_DIR).string(), n, m[1]});
      }
    }
  }
  return out;
}

void expect_no_include(const std::string& folder, const std::regex& forbidden, const std::string& why) {
  for (const auto& inc : includes_under(folder)) {
    EXPECT_FALSE(std::regex_search(inc.target, forbidden))
        << inc.file << ":" << inc.line << " includes <" << inc.target << ">: " << why;
  }
}

TEST(DependencyRules, TreeIsScanned) {
  EXPECT_FALSE(includes_under("gateway").empty());
  EXPECT_FALSE(sources_under("contracts").empty());
}

TEST(DependencyRules, OnlyGatewayIncludesGateway) {
  for (const char* folder : {"adapters", "contracts", "ledger"}) {
    expect_no_include(folder, std::regex("^gateway/"), "nothing outside gateway/ may depend on it");
  }
}

TEST(DependencyRules, ArrowsPointOneWay) {
  expect_no_include("ledger", std::regex("^(contracts|adapters)/"), "ledger depends on nothing of ours");
  expect_no_include("adapters", std::regex("^(contracts|ledger)/"),
                    "adapters depend on nothing of ours");
  expect_no_include("contracts", std::regex("^adapters/"), "contracts depend only on ledger");
}

TEST(DependencyRules, DeterministicCodeReachesNoOutsideWorld) {
  const std::regex forbidden(
      "^(boost/asio|boost/beast|sqlite3|mqtt/|modbus|chrono|ctime|time\\.h|thread|random|"
      "filesystem|fstream|iostream|unordered_map|unordered_set|cmath|spdlog/)");
  expect_no_include("contracts", forbidden, "contracts/ must be pure (DETERMINISM.md)");
  expect_no_include("ledger/consensus", forbidden, "the consensus core must be pure");
}

TEST(DependencyRules, DeterministicCodeUsesNoFloatingPoint) {
  static const std::regex kFloat(R"(\b(float|double|long double)\b)");
  std::vector<fs::path> files = sources_under("contracts");
  for (const auto& p : sources_under("ledger/consensus")) files.push_back(p);
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      const auto comment = text.find("//");
      const std::string code = comment == std::string::npos ? text : text.substr(0, comment);
      EXPECT_FALSE(std::regex_search(code, kFloat))
          << path.string() << ":" << n << ": floating point in deterministic code";
    }
  }
}

TEST(DependencyRules, HeavyLibrariesStayOutOfHeaders) {
  // Beast, Asio, SQLite, Paho and libmodbus in a header would spread into every includer.
  const std::regex heavy("^(boost/asio|boost/beast|sqlite3|mqtt/|modbus)");
  for (const char* folder : {"gateway", "adapters", "ledger", "contracts"}) {
    for (const auto& inc : includes_under(folder)) {
      if (!inc.file.ends_with(".hpp") && !inc.file.ends_with(".h")) continue;
      EXPECT_FALSE(std::regex_search(inc.target, heavy))
          << inc.file << ":" << inc.line << " includes <" << inc.target
          << "> in a header; keep it in the .cpp (pimpl or forward declarations)";
    }
  }
}

}  // namespace
