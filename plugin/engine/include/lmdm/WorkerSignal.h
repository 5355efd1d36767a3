// Wakes the worker thread from the audio thread without locks.
//
// `notify()` is a counting-semaphore post: async-signal-safe, never blocks, no mutex (a condition
// variable would need one). `waitFor()` is used only by the worker.
#pragma once

#include <chrono>

#if defined(__APPLE__)
#include <dispatch/dispatch.h>
#elif defined(_WIN32)
#define NOMINMAX
#include <windows.h>
#else
#include <semaphore.h>
#endif

namespace lmdm {

class WorkerSignal {
 public:
  WorkerSignal();
  ~WorkerSignal();
  WorkerSignal(const WorkerSignal&) = delete;
  WorkerSignal& operator=(const WorkerSignal&) = delete;

  /** Real-time safe. Wakes one waiter (or the next call to waitFor). */
  void notify();

  /** Worker only; blocks. Returns true when notified, false on timeout. */
  bool waitFor(std::chrono::milliseconds timeout);

 private:
#if defined(__APPLE__)
  dispatch_semaphore_t semaphore_;
#elif defined(_WIN32)
  HANDLE semaphore_;
#else
  sem_t semaphore_;
#endif
};

}  // namespace lmdm
