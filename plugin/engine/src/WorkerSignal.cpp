#include "lmdm/WorkerSignal.h"

#include <cerrno>
#include <ctime>
#include <stdexcept>

namespace lmdm {

#if defined(__APPLE__)

WorkerSignal::WorkerSignal() : semaphore_(dispatch_semaphore_create(0)) {}
WorkerSignal::~WorkerSignal() { dispatch_release(semaphore_); }
void WorkerSignal::notify() { dispatch_semaphore_signal(semaphore_); }
bool WorkerSignal::waitFor(std::chrono::milliseconds timeout) {
  const auto deadline = dispatch_time(DISPATCH_TIME_NOW, static_cast<int64_t>(timeout.count()) * 1000000);
  return dispatch_semaphore_wait(semaphore_, deadline) == 0;
}

#elif defined(_WIN32)

WorkerSignal::WorkerSignal() : semaphore_(CreateSemaphoreW(nullptr, 0, 1 << 30, nullptr)) {
  if (semaphore_ == nullptr) throw std::runtime_error("WorkerSignal: CreateSemaphore failed");
}
WorkerSignal::~WorkerSignal() { CloseHandle(semaphore_); }
void WorkerSignal::notify() { ReleaseSemaphore(semaphore_, 1, nullptr); }
bool WorkerSignal::waitFor(std::chrono::milliseconds timeout) {
  return WaitForSingleObject(semaphore_, static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0;
}

#else

WorkerSignal::WorkerSignal() {
  if (sem_init(&semaphore_, 0, 0) != 0) throw std::runtime_error("WorkerSignal: sem_init failed");
}
WorkerSignal::~WorkerSignal() { sem_destroy(&semaphore_); }
void WorkerSignal::notify() { sem_post(&semaphore_); }
bool WorkerSignal::waitFor(std::chrono::milliseconds timeout) {
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  const long long ns = deadline.tv_nsec + static_cast<long long>(timeout.count()) * 1000000LL;
  deadline.tv_sec += static_cast<time_t>(ns / 1000000000LL);
  deadline.tv_nsec = static_cast<long>(ns % 1000000000LL);
  while (sem_timedwait(&semaphore_, &deadline) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

#endif

}  // namespace lmdm
