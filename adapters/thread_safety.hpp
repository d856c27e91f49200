// Lock-guarded state that the compiler checks: clang's thread-safety analysis (-Wthread-safety,
// on in every clang build) proves that every GUARDED_BY member is only touched with its mutex held
// and that REQUIRES functions are only called so. GCC ignores the attributes.
//
// Use Mutex and MutexLock instead of std::mutex and std::lock_guard for state shared between
// threads (libstdc++'s std::mutex carries no annotations), and CondVar to wait on a Mutex.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define GRIDLET_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define GRIDLET_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) GRIDLET_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY GRIDLET_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) GRIDLET_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) GRIDLET_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) GRIDLET_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) GRIDLET_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) GRIDLET_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) GRIDLET_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS GRIDLET_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace gridlet::adapters {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope. unlock()/lock() let a scope give the mutex up for a while (to run
// a callback without it).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  void unlock() RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// Waits on a Mutex held through a MutexLock: `while (!cond) cv.wait(lock);` (or a wait_until
// loop). Not cv.wait(lock, pred): the analysis checks a lambda on its own, without the lock.
using CondVar = std::condition_variable_any;

}  // namespace gridlet::adapters
