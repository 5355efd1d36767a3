#include "lmdm/WorkerSignal.h"

#include <cerrno>
#include <ctime>
#include <stdexcept>

#if defined(__APPLE__)
#include <dispatch/dispatch.h>
#elif defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <semaphore.h>
#endif

namespace lmdm {

#if defined(__APPLE__)

struct WorkerSignal::Semaphore {
  dispatch_semaphore_t handle = dispatch_semaphore_create(0);
  ~Semaphore() { dispatch_release(handle); }
};
void WorkerSignal::notify() { dispatch_semaphore_signal(semaphore_->handle); }
bool WorkerSignal::waitFor(std::chrono::milliseconds timeout) {
  const auto deadline = dispatch_time(DISPATCH_TIME_NOW, static_cast<int64_t>(timeout.count()) * 1000000);
  return dispatch_semaphore_wait(semaphore_->handle, deadline) == 0;
}

#elif defined(_WIN32)

struct WorkerSignal::Semaphore {
  HANDLE handle = CreateSemaphoreW(nullptr, 0, 1 << 30, nullptr);
  Semaphore() {
    if (handle == nullptr) throw std::runtime_error("WorkerSignal: CreateSemaphore failed");
  }
  ~Semaphore() { CloseHandle(handle); }
};
void WorkerSignal::notify() { ReleaseSemaphore(semaphore_->handle, 1, nullptr); }
bool WorkerSignal::waitFor(std::chrono::milliseconds timeout) {
  return WaitForSingleObject(semaphore_->handle, static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0;
}

#else

struct WorkerSignal::Semaphore {
  sem_t handle{};
  Semaphore() {
    if (sem_init(&handle, 0, 0) != 0) throw std::runtime_error("WorkerSignal: sem_init failed");
  }
  ~Semaphore() { sem_destroy(&handle); }
};
void WorkerSignal::notify() { sem_post(&semaphore_->handle); }
bool WorkerSignal::waitFor(std::chrono::milliseconds timeout) {
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  const long long ns = deadline.tv_nsec + static_cast<long long>(timeout.count()) * 1000000LL;
  deadline.tv_sec += static_cast<time_t>(ns / 1000000000LL);
  deadline.tv_nsec = static_cast<long>(ns % 1000000000LL);
  while (sem_timedwait(&semaphore_->handle, &deadline) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

#endif

WorkerSignal::WorkerSignal() : semaphore_(std::make_unique<Semaphore>()) {}
WorkerSignal::~WorkerSignal() = default;

}  // namespace lmdm
