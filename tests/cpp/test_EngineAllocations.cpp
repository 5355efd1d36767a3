// Engine::process must never allocate (AllocationCounter.h counts the calls on the audio thread).
#include <gtest/gtest.h>

#include <memory>

#include "AllocationCounter.h"
#include "EngineHarness.h"
#include "HostileHost.h"
#include "TestProcessors.h"
#include "lmdm/Engine.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/OrtRuntime.h"
#include "ShippedPackage.h"

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
  engine->setParameters(ParameterValues::mixing(0.7f, 0.5f, false));
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

TEST(EngineAllocations, ProcessNeverAllocatesWithTheModel) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  OrtRuntime::load(LMDM_ORT_LIBRARY);
  auto engine = std::make_unique<Engine>(std::make_unique<LmdmProcessor>(LMDM_SHIPPED_PACKAGE, SessionSettings{1, "cpu"}));
  engine->prepare(48000, 8192, 2);
  CountingEngine counting(std::move(engine));
  HostileHost host(48000, 2, 8192, 2.0);
  std::function<void(const float* const*, float* const*, int)> process = [&](const float* const* in,
                                                                              float* const* out, int n) {
    counting.process(in, out, n);
  };
  allocations = 0;
  const auto run = host.run(counting.engine(), process, [&] { return counting.engine().stats().blocksPlayed >= 4; });
  EXPECT_EQ(allocations, 0u) << "over " << run.calls << " calls";
  EXPECT_GE(counting.engine().stats().blocksPlayed, 4);
}
