// The systemd integration as an installer gets it: `cmake --install` lays out the files, the unit
// passes `systemd-analyze verify`, and its hardening scores as systemd's "OK" exposure.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "test_support.hpp"

namespace gridlet {
namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::TempDir;

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SystemdUnit, InstallLaysOutEveryFile) {
  TempDir dest;
  ChildProcess install({"/usr/bin/env", "DESTDIR=" + dest.path().string(), "cmake", "--install",
                        GRIDLET_BINARY_DIR});
  ASSERT_EQ(install.wait(), 0) << install.log();
  // Paths below DESTDIR follow the configured prefix; find them by name.
  std::map<std::string, std::filesystem::path> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dest.path())) {
    found[e.path().filename().string()] = e.path();
  }
  for (const char* name : {"gatewayd", "gatewayd.service", "example.toml", "sdm630.toml"}) {
    EXPECT_TRUE(found.contains(name)) << name << " not installed";
  }
  ASSERT_TRUE(found.contains("gatewayd"));
  EXPECT_NE(found["gatewayd"].string().find("/bin/gatewayd"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(found["gatewayd"].parent_path().parent_path() /
                                      "lib/sysusers.d/gridlet.conf"));
  EXPECT_TRUE(std::filesystem::exists(found["gatewayd"].parent_path().parent_path() /
                                      "lib/tmpfiles.d/gridlet.conf"));
}

TEST(SystemdUnit, VerifiesAndIsHardened) {
  TempDir dir;
  // Point the unit at the built binary so verify can check that the command exists.
  std::string unit = read(std::filesystem::path(GRIDLET_SOURCE_DIR) / "systemd/gatewayd.service");
  unit = std::regex_replace(unit, std::regex("/usr/bin/gatewayd"), GATEWAYD_PATH);
  for (const char* key : {"Type=notify", "WatchdogSec=", "Restart=on-failure", "StateDirectory=gridlet",
                          "ConfigurationDirectory=gridlet", "ProtectSystem=strict", "ProtectHome=true",
                          "PrivateTmp=true", "NoNewPrivileges=true", "RestrictAddressFamilies=",
                          "SystemCallFilter=@system-service", "DeviceAllow=", "User=gridlet"}) {
    EXPECT_NE(unit.find(key), std::string::npos) << key;
  }
  const auto path = dir.path() / "gatewayd.service";
  std::ofstream(path) << unit;
  ChildProcess verify({"/usr/bin/systemd-analyze", "verify", "--man=no", path.string()});
  EXPECT_EQ(verify.wait(), 0) << verify.log();
  EXPECT_EQ(verify.log(), "");
  ChildProcess security({"/usr/bin/systemd-analyze", "security", "--offline=true", "--no-pager",
                         path.string()});
  security.wait();
  std::smatch m;
  const std::string out = security.log();
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(Overall exposure level for \S+: (\d+\.\d+))")))
      << out;
  EXPECT_LE(std::stod(m[1]), 2.0) << "systemd rates 0-2 as well hardened";
}

TEST(SystemdUnit, SysusersDeclaresTheServiceUser) {
  const std::string sysusers = read(std::filesystem::path(GRIDLET_SOURCE_DIR) / "systemd/gridlet.sysusers");
  EXPECT_TRUE(std::regex_search(sysusers, std::regex(R"(^u gridlet )", std::regex::multiline)));
  EXPECT_TRUE(std::regex_search(sysusers, std::regex(R"(^m gridlet dialout)", std::regex::multiline)));
}

}  // namespace
}  // namespace gridlet
