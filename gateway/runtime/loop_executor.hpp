// The event loop as an adapters' Executor: MQTT clients post their handlers and timers here, so
// that everything they touch runs on the loop. Thread-safe.
#pragma once

#include "adapters/mqtt/client.hpp"

namespace boost::asio {
class io_context;
}

namespace gridlet::runtime {

class LoopExecutor final : public adapters::mqtt::Executor {
 public:
  explicit LoopExecutor(boost::asio::io_context& ioc) : ioc_(ioc) {}
  void post(std::function<void()> work) override;
  // Work still waiting when the loop stops is dropped, never run.
  void post_after(std::chrono::milliseconds delay, std::function<void()> work) override;

 private:
  boost::asio::io_context& ioc_;
};

}  // namespace gridlet::runtime
