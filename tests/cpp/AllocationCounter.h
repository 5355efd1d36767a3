// Counts heap allocations made inside Engine::process. Include in exactly one file per test binary:
// it replaces malloc and friends (operator new ends in malloc too) with counting versions; counting
// is on only on the thread calling CountingEngine::process.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "lmdm/Engine.h"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace lmdm::test {

inline thread_local bool countingThisThread = false;
inline std::size_t allocations = 0;

inline void noteAllocation() {
  if (countingThisThread) ++allocations;
}

/** An engine that counts allocations made inside process() (and nowhere else). */
class CountingEngine {
 public:
  explicit CountingEngine(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}
  void process(const float* const* in, float* const* out, int frames) {
    countingThisThread = true;
    engine_->process(in, out, frames);
    countingThisThread = false;
  }
  Engine& engine() { return *engine_; }

 private:
  std::unique_ptr<Engine> engine_;
};

}  // namespace lmdm::test

extern "C" {
void* malloc(std::size_t size) {
  lmdm::test::noteAllocation();
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
  lmdm::test::noteAllocation();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, std::size_t size) {
  lmdm::test::noteAllocation();
  return __libc_realloc(pointer, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  lmdm::test::noteAllocation();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** pointer, std::size_t alignment, std::size_t size) {
  lmdm::test::noteAllocation();
  *pointer = __libc_memalign(alignment, size);
  return *pointer ? 0 : 12;  // ENOMEM
}
}
