// Test support for everything that talks to the device simulator: a running devsim, a socat
// pseudo-terminal pair for RTU.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace gridlet::testing {

// A running devsim; stopped with SIGTERM (and must exit cleanly) when the object dies.
class Devsim {
 public:
  explicit Devsim(std::vector<std::string> args) {
    args.insert(args.begin(), DEVSIM_PATH);
    proc_ = std::make_unique<ChildProcess>(args);
  }
  ~Devsim() {
    if (proc_ && !stopped_) stop();
  }
  int stop() {
    stopped_ = true;
    proc_->signal(SIGTERM);
    return proc_->wait();
  }
  std::optional<int> tcp_port() {
    const auto m = proc_->wait_for_log(std::regex(R"(devsim: listening tcp 127\.0\.0\.1:(\d+)\n)"));
    if (!m) return std::nullopt;
    return std::stoi((*m)[1]);
  }
  bool rtu_ready() { return proc_->wait_for_log(std::regex(R"(devsim: listening rtu .+\n)")).has_value(); }
  std::string log() const { return proc_->log(); }

 private:
  std::unique_ptr<ChildProcess> proc_;
  bool stopped_ = false;
};

// A socat pty pair: devsim on one end, the client on the other.
class PtyPair {
 public:
  explicit PtyPair(const std::filesystem::path& dir) : a_(dir / "a"), b_(dir / "b") {
    proc_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/socat", "-d", "-d", "pty,raw,echo=0,link=" + a_.string(), "pty,raw,echo=0,link=" + b_.string()});
  }
  bool ready() {
    return eventually(std::chrono::seconds(10), [&] { return std::filesystem::exists(a_) && std::filesystem::exists(b_); });
  }
  std::string device_end() const { return a_.string(); }
  std::string client_end() const { return b_.string(); }

 private:
  std::filesystem::path a_, b_;
  std::unique_ptr<ChildProcess> proc_;  // killed when the pair dies
};

}  // namespace gridlet::testing
