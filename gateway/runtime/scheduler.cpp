#include "gateway/runtime/scheduler.hpp"

#include <vector>

namespace gridlet::runtime {

Scheduler::TaskId Scheduler::every(std::chrono::milliseconds period, Task task, std::string name) {
  if (period <= std::chrono::milliseconds::zero()) period = std::chrono::milliseconds(1);
  const TaskId id = next_id_++;
  const TimePoint due = clock_.now() + period;
  queue_.emplace(Key{due, id}, Entry{period, std::move(task), std::move(name)});
  tasks_.emplace(id, due);
  return id;
}

Scheduler::TaskId Scheduler::at(TimePoint when, Task task, std::string name) {
  const TaskId id = next_id_++;
  queue_.emplace(Key{when, id}, Entry{std::chrono::milliseconds(0), std::move(task), std::move(name)});
  tasks_.emplace(id, when);
  return id;
}

Scheduler::TaskId Scheduler::after(std::chrono::milliseconds delay, Task task, std::string name) {
  return at(clock_.now() + delay, std::move(task), std::move(name));
}

void Scheduler::cancel(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  queue_.erase(Key{it->second, id});
  tasks_.erase(it);
}

std::size_t Scheduler::run_due() {
  const TimePoint now = clock_.now();
  std::size_t ran = 0;
  // Tasks re-armed or added while running are due strictly later than now (period >= 1 ms) or
  // were added with a due time <= now; bound the loop by what was due at entry to stay finite.
  std::vector<Key> due;
  for (auto it = queue_.begin(); it != queue_.end() && it->first.first <= now; ++it) {
    due.push_back(it->first);
  }
  for (const Key& key : due) {
    auto it = queue_.find(key);
    if (it == queue_.end()) continue;  // cancelled by an earlier task
    Entry entry = std::move(it->second);
    queue_.erase(it);
    const TaskId id = key.second;
    if (entry.period.count() > 0) {
      // Next slot on the task's grid strictly after now: no drift, no burst after a stall.
      const auto behind = now - key.first;
      const auto periods = behind / entry.period + 1;
      const TimePoint next = key.first + periods * entry.period;
      Task copy = entry.task;
      queue_.emplace(Key{next, id}, std::move(entry));
      tasks_[id] = next;
      copy();
    } else {
      tasks_.erase(id);
      entry.task();
    }
    ++ran;
  }
  return ran;
}

std::optional<TimePoint> Scheduler::next_due() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.first;
}

}  // namespace gridlet::runtime
