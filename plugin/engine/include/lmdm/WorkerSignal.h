// Wakes the worker thread from the audio thread without locks.
//
// `notify()` is a counting-semaphore post: async-signal-safe, never blocks, no mutex (a condition
// variable would need one). `waitFor()` is used only by the worker. The platform's semaphore lives
// in the .cpp (dispatch, Win32 or POSIX), so no platform header reaches the engine's includers.
#pragma once

#include <chrono>
#include <memory>

namespace lmdm {

class WorkerSignal {
 public:
  /** Allocates. */
  WorkerSignal();
  ~WorkerSignal();
  WorkerSignal(const WorkerSignal&) = delete;
  WorkerSignal& operator=(const WorkerSignal&) = delete;

  /** Real-time safe. Wakes one waiter (or the next call to waitFor). */
  void notify();

  /** Worker only; blocks. Returns true when notified, false on timeout. */
  bool waitFor(std::chrono::milliseconds timeout);

 private:
  struct Semaphore;
  std::unique_ptr<Semaphore> semaphore_;
};

}  // namespace lmdm
