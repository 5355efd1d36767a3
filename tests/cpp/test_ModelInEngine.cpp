// The shipped model inside the engine, driven like a demanding host: random buffer sizes up to 8192,
// hostile input, automation on every call, sample-rate changes. Built with ThreadSanitizer too.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "HostileHost.h"
#include "lmdm/Engine.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/OrtRuntime.h"
#include "ShippedPackage.h"

using namespace lmdm;
using namespace lmdm::test;

namespace {

std::unique_ptr<Engine> engineWithTheModel() {
  OrtRuntime::load(LMDM_ORT_LIBRARY);
  auto processor = std::make_unique<LmdmProcessor>(LMDM_SHIPPED_PACKAGE, SessionSettings{1, "cpu"});
  EXPECT_TRUE(processor->ready()) << processor->status();
  return std::make_unique<Engine>(std::move(processor));
}

const LmdmProcessor& lmdmOf(const Engine& engine) { return dynamic_cast<const LmdmProcessor&>(engine.processor()); }

}  // namespace

TEST(ModelInEngine, SurvivesAHostileHost) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  auto engine = engineWithTheModel();
  engine->prepare(48000, 8192, 2);
  HostileHost host(48000, 2, 8192, 2.0);
  const auto run = host.run(
      *engine, [&](const float* const* in, float* const* out, int n) { engine->process(in, out, n); },
      [&] { return engine->stats().blocksPlayed >= 6; });
  const auto stats = engine->stats();
  EXPECT_GE(stats.blocksPlayed, 6) << "after " << run.calls << " calls";
  EXPECT_EQ(run.nonFiniteOutputs, 0);
  EXPECT_EQ(stats.blocksInvalid, 0) << "the model produced NaN/Inf from hostile input";
  EXPECT_TRUE(lmdmOf(*engine).ready()) << lmdmOf(*engine).status();
}

TEST(ModelInEngine, FollowsSampleRateChanges) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  auto engine = engineWithTheModel();
  engine->setParameter(ParameterId::Mix, 1.0f);  // wet only: what comes out is the model's
  for (const double rate : {44100.0, 96000.0, 22050.0, 192000.0, 48000.0}) {
    engine->prepare(rate, 1024, 1);
    const int modelBlock = lmdmOf(*engine).model()->blockSamples();
    EXPECT_EQ(engine->blockFrames(), std::lround(modelBlock * rate / lmdmOf(*engine).model()->package().sampleRate));
    const int frames = 3 * engine->blockFrames() + engine->latencyFrames();
    std::vector<float> input(static_cast<std::size_t>(frames)), output(input.size());
    for (int i = 0; i < frames; ++i) input[i] = 0.3f * static_cast<float>(std::sin(2.0 * M_PI * 196.0 * i / rate));
    engine->setNonRealtime(true);  // a bounce: every block is waited for, none is missed
    for (int position = 0; position < frames; position += 1024) {
      const float* in[1] = {input.data() + position};
      float* out[1] = {output.data() + position};
      engine->process(in, out, std::min(1024, frames - position));
    }
    double energy = 0.0;
    for (int i = engine->latencyFrames(); i < frames; ++i) {
      ASSERT_TRUE(std::isfinite(output[i])) << rate;
      energy += output[i] * output[i];
    }
    EXPECT_GT(std::sqrt(energy / (frames - engine->latencyFrames())), 1e-3) << "silent wet signal at " << rate;
    EXPECT_EQ(engine->stats().blocksMissed, 0) << rate;
    EXPECT_TRUE(lmdmOf(*engine).ready()) << lmdmOf(*engine).status();
  }
}

TEST(ModelInEngine, ScheduleHalfABlockOfComputeAndShortenBlocksThatWouldBeLate) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  auto engine = engineWithTheModel();
  engine->setParameter(ParameterId::Mix, 1.0f);
  engine->setParameter(ParameterId::Steps, 32.0f);  // more than the headroom affords when the host runs ahead
  engine->prepare(48000, 256, 1);
  const auto stats = engine->stats();
  const int n = engine->blockFrames();
  EXPECT_EQ(stats.headroomFrames, (n + 1) / 2);
  EXPECT_EQ(engine->latencyFrames(), n + (n + 1) / 2 + 240 + 256 + stats.processorDelayFrames);
  // A real-time host that calls faster than real time: the blocks the worker starts after their deadline
  // end after one step instead of 32, and the output stays finite.
  std::vector<float> input(static_cast<std::size_t>(engine->latencyFrames() + 6 * n)), output(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = 0.3f * static_cast<float>(std::sin(0.03 * i));
  for (std::size_t position = 0; position < input.size(); position += 256) {
    const float* in[1] = {input.data() + position};
    float* out[1] = {output.data() + position};
    engine->process(in, out, static_cast<int>(std::min<std::size_t>(256, input.size() - position)));
    if (position % (4 * 256) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // On a fast machine the first block's 32 steps fit its deadline and the loop above ends before the worker
  // starts another: wait for the worker to reach the newest complete block, whose deadline has passed.
  const auto patience = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (engine->stats().blocksShortened < 1 && std::chrono::steady_clock::now() < patience)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  engine->release();
  for (float x : output) ASSERT_TRUE(std::isfinite(x));
  EXPECT_GE(engine->stats().blocksShortened, 1);
}
