// The real gatewayd binary in tests: CLI runs, tokens, and a running daemon on a free loopback port.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/test_support.hpp"

namespace gridlet::testing {

inline const std::string kGatewayd = GATEWAYD_PATH;

// Runs a gatewayd subcommand to completion; returns (exit code, output).
inline std::pair<int, std::string> run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), kGatewayd);
  ChildProcess p(args);
  const int rc = p.wait();
  return {rc, p.log()};
}

// Creates a token with `role` (named "<role>-it") in the tokens file; returns it.
inline std::string create_token(const std::filesystem::path& tokens, const std::string& role) {
  auto [rc, out] = run_cli({"token", "create", "--tokens-file", tokens.string(), "--role", role,
                            "--name", role + "-it"});
  EXPECT_EQ(rc, 0) << out;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(out, m, std::regex("(glt_[A-Za-z0-9_-]+)"))) << out;
  return m[1];
}

// A running daemon, its API on a free loopback port.
class Daemon {
 public:
  Daemon(const std::filesystem::path& config, const std::filesystem::path& data_dir,
         std::vector<std::string> env = {})
      : proc_({kGatewayd, "run", "--config", config.string(), "--data-dir", data_dir.string(),
               "--api-listen", "127.0.0.1:0"},
              std::move(env)) {
    auto m = proc_.wait_for_log(std::regex(R"(API listening on 127\.0\.0\.1:(\d+))"));
    if (m) port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
    ready_ = proc_.wait_for_log(std::regex("\\bready\\b")).has_value();
  }
  std::uint16_t port() const { return port_; }
  bool ready() const { return ready_ && port_ != 0; }
  ChildProcess& proc() { return proc_; }

 private:
  ChildProcess proc_;
  std::uint16_t port_ = 0;
  bool ready_ = false;
};

}  // namespace gridlet::testing
