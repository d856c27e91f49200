// An in-memory Modbus line for unit tests of the bus: units that answer, stay silent or raise
// exceptions, a gate that holds one exchange "on the line" until the test lets it go, and a log
// of every exchange with the timeout the bus gave it. Nothing sleeps: a silent unit answers
// kTimeout at once, and the test checks the timeout it was given.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/modbus/transport.hpp"

namespace gridlet::testing {

class FakeTransport final : public adapters::modbus::Transport {
 public:
  using Outcome = adapters::modbus::Outcome;
  using Request = adapters::modbus::Request;
  using Response = adapters::modbus::Response;

  struct Exchange {
    std::uint8_t unit;
    Request::Op op;
    std::uint16_t address;
    std::chrono::milliseconds timeout;
  };

  // Units answer with register value = address unless told otherwise.
  void silent(std::uint8_t unit) { set(unit, Outcome::kTimeout, 0); }
  void raises(std::uint8_t unit, int code) { set(unit, Outcome::kException, code); }
  void answers(std::uint8_t unit) { set(unit, Outcome::kOk, 0); }
  // The next `n` exchanges after a timeout read a stale frame (kMalformed) even after resync().
  void stale_frames_survive_resync(int n) {
    std::lock_guard lock(mu_);
    stale_survives_ = n;
  }
  // Holds exchange number `index` (0-based, counted from now) until release().
  void hold_exchange(std::size_t index) {
    std::lock_guard lock(mu_);
    hold_at_ = log_.size() + index;
    holding_ = false;
  }
  // Waits (bounded) until the held exchange is on the line.
  bool wait_held(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return holding_; });
  }
  void release() {
    std::lock_guard lock(mu_);
    hold_at_ = static_cast<std::size_t>(-1);
    cv_.notify_all();
  }
  std::vector<Exchange> log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  int resyncs() const {
    std::lock_guard lock(mu_);
    return resyncs_;
  }
  int interrupts() const {
    std::lock_guard lock(mu_);
    return interrupts_;
  }

  bool connect() override {
    std::lock_guard lock(mu_);
    connected_ = true;
    return true;
  }
  void close() override {
    std::lock_guard lock(mu_);
    connected_ = false;
  }
  bool connected() const override {
    std::lock_guard lock(mu_);
    return connected_;
  }
  Response exchange(const Request& r, std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    Response resp;
    if (interrupted_) {  // not sent
      resp.outcome = Outcome::kRefused;
      return resp;
    }
    const std::size_t index = log_.size();
    log_.push_back({r.unit, r.op, r.address, timeout});
    if (index == hold_at_) {
      holding_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return hold_at_ != index || interrupted_; });
      holding_ = false;
      if (interrupted_) {
        resp.outcome = Outcome::kRefused;
        return resp;
      }
    }
    if (stale_pending_ && (resynced_since_timeout_ == false || stale_survives_ > 0)) {
      if (resynced_since_timeout_) --stale_survives_;
      stale_pending_ = false;
      resp.outcome = Outcome::kMalformed;
      return resp;
    }
    const auto it = behaviour_.find(r.unit);
    const Outcome o = it == behaviour_.end() ? Outcome::kOk : it->second.first;
    resp.outcome = o;
    if (o == Outcome::kTimeout) {
      stale_pending_ = true;  // a late reply may still come
      resynced_since_timeout_ = false;
    } else if (o == Outcome::kException) {
      resp.exception_code = it->second.second;
    } else if (r.op == Request::Op::kRead) {
      for (std::uint16_t i = 0; i < r.count; ++i) {
        resp.registers.push_back(static_cast<std::uint16_t>(r.address + i));
      }
    }
    return resp;
  }
  void resync(std::chrono::milliseconds, std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    ++resyncs_;
    resynced_since_timeout_ = true;
    if (stale_survives_ == 0) stale_pending_ = false;
  }
  void interrupt() override {
    std::lock_guard lock(mu_);
    ++interrupts_;
    interrupted_ = true;
    cv_.notify_all();
  }
  void resume() override {
    std::lock_guard lock(mu_);
    interrupted_ = false;
  }
  std::string last_error() const override { return ""; }

 private:
  void set(std::uint8_t unit, Outcome o, int code) {
    std::lock_guard lock(mu_);
    behaviour_[unit] = {o, code};
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false;
  std::map<std::uint8_t, std::pair<Outcome, int>> behaviour_;
  std::vector<Exchange> log_;
  std::size_t hold_at_ = static_cast<std::size_t>(-1);
  bool holding_ = false;
  bool interrupted_ = false;
  bool stale_pending_ = false;
  bool resynced_since_timeout_ = false;
  int stale_survives_ = 0;
  int resyncs_ = 0;
  int interrupts_ = 0;
};

}  // namespace gridlet::testing
