// A scheduler of one-shot and periodic tasks, driven by an injected Clock.
//
// The scheduler itself never sleeps or touches Asio: run_due() runs what is due and says when the
// next task is due. In the gateway, a LoopTimer (runtime/gateway.cpp) arms an Asio timer for that instant;
// in tests, a ManualClock is advanced and run_due() is called directly.
// Thread: single-threaded (the event loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "adapters/clock.hpp"

namespace gridlet::runtime {

using adapters::Clock;
using adapters::TimePoint;

class Scheduler {
 public:
  using Task = std::function<void()>;
  using TaskId = std::uint64_t;

  explicit Scheduler(const Clock& clock) : clock_(clock) {}

  // Runs task every period, first at now + period. A periodic task that fell behind (the loop
  // was busy, the clock jumped) runs once and is re-armed on its grid, never in a burst.
  TaskId every(std::chrono::milliseconds period, Task task, std::string name);
  // Runs task once at (or after) when.
  TaskId at(TimePoint when, Task task, std::string name);
  // Runs task once after delay.
  TaskId after(std::chrono::milliseconds delay, Task task, std::string name);
  // Cancelling an unknown or finished task is a no-op. Safe to call from inside a task.
  void cancel(TaskId id);

  // Runs every task due at or before clock.now(), earliest first (ties: in order of creation).
  // Returns the number of tasks run.
  std::size_t run_due();
  // When the next task is due, if any.
  std::optional<TimePoint> next_due() const;
  std::size_t size() const { return tasks_.size(); }

 private:
  struct Entry {
    std::chrono::milliseconds period{0};  // 0 = one-shot
    Task task;
    std::string name;
  };
  // Ordered by (due time, id): deterministic order for equal due times.
  using Key = std::pair<TimePoint, TaskId>;

  const Clock& clock_;
  TaskId next_id_ = 1;
  std::map<Key, Entry> queue_;
  std::map<TaskId, TimePoint> tasks_;  // id -> due time of its queue entry
};

}  // namespace gridlet::runtime
