// Engine::process must never allocate. This binary replaces malloc and friends (operator new ends
// in malloc too) with counting versions; counting is on only on the thread calling process().
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "EngineHarness.h"
#include "TestProcessors.h"
#include "lmdm/Engine.h"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
thread_local bool countingThisThread = false;
std::size_t allocations = 0;

void noteAllocation() {
  if (countingThisThread) ++allocations;
}

/** An engine that counts allocations made inside process() (and nowhere else). */
class CountingEngine {
 public:
  explicit CountingEngine(std::unique_ptr<lmdm::Engine> engine) : engine_(std::move(engine)) {}
  void process(const float* const* in, float* const* out, int frames) {
    countingThisThread = true;
    engine_->process(in, out, frames);
    countingThisThread = false;
  }
  lmdm::Engine& engine() { return *engine_; }

 private:
  std::unique_ptr<lmdm::Engine> engine_;
};
}  // namespace

extern "C" {
void* malloc(std::size_t size) {
  noteAllocation();
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
  noteAllocation();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, std::size_t size) {
  noteAllocation();
  return __libc_realloc(pointer, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  noteAllocation();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** pointer, std::size_t alignment, std::size_t size) {
  noteAllocation();
  *pointer = __libc_memalign(alignment, size);
  return *pointer ? 0 : 12;  // ENOMEM
}
}

using namespace lmdm;
using namespace lmdm::test;

TEST(EngineAllocations, TheCounterSeesAllocations) {
  // Guards the test itself: if interposition silently failed, the real test would pass vacuously.
  allocations = 0;
  countingThisThread = true;
  auto* p = new std::vector<int>(1000);
  countingThisThread = false;
  delete p;
  EXPECT_GE(allocations, 1u);
}

TEST(EngineAllocations, ProcessNeverAllocates) {
  auto engine = std::make_unique<Engine>(std::make_unique<SlowProcessor>(-1.0f, 0.02, 3, 5, 60));
  engine->setParameters(ParameterValues{0.7f, 0.5f, false});
  engine->prepare(48000, 512, 2);
  CountingEngine counting(std::move(engine));
  const int frames = 48000;
  const Signal input = noise(2, frames, 3);
  Signal output(2, std::vector<float>(frames));
  std::mt19937 random(1);
  std::uniform_int_distribution<int> sizes(1, 2000);  // also above maxBlockSize: the chunked path
  allocations = 0;
  // Until both paths have run (a played block and a missed one), within a cap: on a loaded machine the
  // worker may get no CPU for a while, so a fixed second of audio could see no block played at all.
  const auto bothPathsRan = [&] {
    const auto stats = counting.engine().stats();
    return stats.blocksPlayed > 0 && stats.blocksMissed > 0;
  };
  int calls = 0;
  for (int position = 0; calls < 20000 && (position < frames || !bothPathsRan()); ++calls) {
    const int offset = position % frames;
    const int n = std::min(sizes(random), frames - offset);
    const float* in[2] = {input[0].data() + offset, input[1].data() + offset};
    float* out[2] = {output[0].data() + offset, output[1].data() + offset};
    if (calls % 10 == 0) counting.engine().setParameter(ParameterId::Mix, static_cast<float>(calls % 3) / 2.0f);
    if (calls == 40) counting.engine().setParameter(ParameterId::Bypass, 1.0f);
    if (calls == 80) counting.engine().setParameter(ParameterId::Bypass, 0.0f);
    counting.process(in, out, n);
    position += n;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // time for the worker: most blocks arrive
  }
  EXPECT_EQ(allocations, 0u);
  EXPECT_GT(counting.engine().stats().blocksPlayed, 0);
  EXPECT_GT(counting.engine().stats().blocksMissed, 0);  // the slow blocks took the miss path too
}
