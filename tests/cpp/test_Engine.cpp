// The engine's timing contract, miss handling, parameters and bad input.
#include "lmdm/Engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <thread>

#include "EngineHarness.h"
#include "TestProcessors.h"
#include "lmdm/PassThroughProcessor.h"

using namespace lmdm;
using namespace lmdm::test;

namespace {

std::unique_ptr<Engine> makeEngine(std::unique_ptr<BlockProcessor> processor, ParameterValues values) {
  auto engine = std::make_unique<Engine>(std::move(processor));
  engine->setParameters(values);
  return engine;
}

ParameterValues wetOnly(float feedback = 0.0f) { return ParameterValues::mixing(1.0f, feedback, false); }

bool allFinite(const Signal& s) {
  for (const auto& channel : s)
    for (float v : channel)
      if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

// ------------------------------------------------------------------ timing

struct TimingCase {
  double sampleRate;
  int bufferSize;
  bool varying;
  int channels;
};

class EngineTiming : public ::testing::TestWithParam<TimingCase> {};

TEST_P(EngineTiming, OutputIsTheModelOutputDelayedByExactlyTheReportedLatency) {
  const auto p = GetParam();
  // Gain -0.5 makes the generated signal differ from the dry one: a miss would show.
  auto engine = makeEngine(std::make_unique<GainProcessor>(-0.5f, 0.05), wetOnly());
  engine->setNonRealtime(true);
  engine->prepare(p.sampleRate, p.bufferSize, p.channels);
  const int latency = engine->latencyFrames();
  EXPECT_EQ(latency, 2 * engine->blockFrames() + static_cast<int>(std::lround(0.005 * p.sampleRate)) + p.bufferSize);

  const int frames = latency + 4 * engine->blockFrames() + 17;
  const Signal input = noise(p.channels, frames, 11);
  const Signal output = run(*engine, input, {p.bufferSize, p.varying});

  long mismatches = 0;
  for (int c = 0; c < p.channels; ++c)
    for (int n = 0; n < frames; ++n) {
      const float expected = n < latency ? 0.0f : -0.5f * input[c][n - latency];
      mismatches += output[c][n] != expected;
    }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(engine->stats().blocksMissed, 0);
  EXPECT_GT(engine->stats().blocksPlayed, 3);
}

INSTANTIATE_TEST_SUITE_P(
    RatesAndBuffers, EngineTiming,
    ::testing::Values(TimingCase{44100, 1, false, 1}, TimingCase{44100, 64, false, 2}, TimingCase{44100, 441, true, 2},
                      TimingCase{48000, 1, false, 2}, TimingCase{48000, 7, false, 1}, TimingCase{48000, 256, false, 2},
                      TimingCase{48000, 1024, true, 2}, TimingCase{48000, 8192, false, 1},
                      TimingCase{48000, 8192, true, 2}, TimingCase{88200, 128, false, 2},
                      TimingCase{88200, 3000, true, 1}, TimingCase{96000, 32, false, 1},
                      TimingCase{96000, 512, true, 2}, TimingCase{96000, 8192, false, 2}),
    [](const auto& info) {
      const auto& p = info.param;
      return std::to_string(static_cast<int>(p.sampleRate)) + "Hz_" + std::to_string(p.bufferSize) +
             (p.varying ? "_varying_" : "_fixed_") + std::to_string(p.channels) + "ch";
    });

TEST(Engine, HostBuffersHoldingManyBlocksLoseNone) {
  // 8192-frame buffers over 480-frame blocks: the worker finishes ~17 blocks before the first of
  // them plays, and each needs somewhere to wait.
  auto engine = makeEngine(std::make_unique<GainProcessor>(-1.0f, 0.01), wetOnly());
  engine->setNonRealtime(true);
  engine->prepare(48000, 8192, 2);
  const int latency = engine->latencyFrames();
  const Signal input = noise(2, latency + 40 * engine->blockFrames(), 12);
  const Signal output = run(*engine, input, {8192});
  for (int c = 0; c < 2; ++c)
    for (int n = latency; n < static_cast<int>(input[0].size()); n += 5) ASSERT_EQ(output[c][n], -input[c][n - latency]);
  EXPECT_EQ(engine->stats().blocksMissed, 0);
  EXPECT_EQ(engine->stats().blocksSkipped, 0);
}

TEST(Engine, CallsLongerThanMaxBlockSizeAreSplitNotRejected) {
  auto engine = makeEngine(std::make_unique<GainProcessor>(2.0f, 0.05), wetOnly());
  engine->setNonRealtime(true);
  engine->prepare(48000, 64, 1);
  const int latency = engine->latencyFrames();
  const Signal input = noise(1, latency + 10000, 3);
  const Signal output = run(*engine, input, {5000});
  for (int n = latency; n < latency + 10000; n += 97) ASSERT_EQ(output[0][n], 2.0f * input[0][n - latency]);
}

TEST(Engine, CountsTheLargestBufferAndTheRealTimeFramesSincePrepare) {
  // What BufferSizeWatch decides from: the buffers a host really sends, and for how long in real time.
  auto engine = makeEngine(std::make_unique<GainProcessor>(1.0f, 0.05), wetOnly());
  engine->prepare(48000, 8192, 1);
  EXPECT_EQ(engine->stats().maxBufferFrames, 8192);
  EXPECT_EQ(engine->stats().largestBufferFrames, 0);
  const Signal input = noise(1, 10000, 4);
  run(*engine, input, {300, true});
  const auto realTime = engine->stats();
  EXPECT_GT(realTime.largestBufferFrames, 200);
  EXPECT_LE(realTime.largestBufferFrames, 300);
  EXPECT_EQ(realTime.realtimeFrames, 10000);
  engine->setNonRealtime(true);
  run(*engine, input, {1000});
  EXPECT_EQ(engine->stats().largestBufferFrames, 1000);
  EXPECT_EQ(engine->stats().realtimeFrames, 10000) << "an offline render is not the host's real-time buffers";
  engine->prepare(48000, 512, 1);
  EXPECT_EQ(engine->stats().maxBufferFrames, 512);
  EXPECT_EQ(engine->stats().largestBufferFrames, 0);
  EXPECT_EQ(engine->stats().realtimeFrames, 0);
}

TEST(Engine, PrepareRejectsImpossibleShapes) {
  Engine engine(std::make_unique<PassThroughProcessor>());
  EXPECT_THROW(engine.prepare(0, 256, 2), std::invalid_argument);
  EXPECT_THROW(engine.prepare(48000, 0, 2), std::invalid_argument);
  EXPECT_THROW(engine.prepare(48000, 256, Engine::kMaxChannels + 1), std::invalid_argument);
}

TEST(Engine, ProcessBeforePrepareLeavesAudioUntouched) {
  Engine engine(std::make_unique<PassThroughProcessor>());
  Signal audio = noise(1, 32, 1);
  const Signal original = audio;
  float* io[1] = {audio[0].data()};
  engine.process(io, io, 32);
  EXPECT_EQ(audio, original);
}

// ------------------------------------------------------------------ parameters

TEST(Engine, FeedbackRepeatsEveryLatencyPeriod) {
  const float feedback = 0.5f;
  auto engine = makeEngine(std::make_unique<PassThroughProcessor>(0.05), wetOnly(feedback));
  engine->setNonRealtime(true);
  engine->prepare(48000, 128, 1);
  const int latency = engine->latencyFrames();
  const int frames = 5 * latency;
  const Signal input = noise(1, frames, 5);
  const Signal output = run(*engine, input, {128});
  // send[n] = x[n] + g·out[n], out[n] = send[n − L]
  std::vector<double> send(frames), expected(frames, 0.0);
  double worst = 0.0;
  for (int n = 0; n < frames; ++n) {
    expected[n] = n >= latency ? send[n - latency] : 0.0;
    send[n] = input[0][n] + feedback * expected[n];
    worst = std::max(worst, std::abs(expected[n] - output[0][n]));
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(Engine, ANewProcessorTakesOverAfterPrepare) {
  auto engine = makeEngine(std::make_unique<GainProcessor>(-1.0f, 0.05), wetOnly());
  engine->setNonRealtime(true);
  engine->prepare(48000, 256, 1);
  const int oldLatency = engine->latencyFrames();
  engine->setProcessor(std::make_unique<GainProcessor>(0.5f, 0.1));
  engine->prepare(48000, 256, 1);
  const int latency = engine->latencyFrames();
  EXPECT_EQ(latency - oldLatency, 2 * (4800 - 2400));  // two blocks of 0.1 s instead of 0.05 s
  const Signal input = noise(1, 3 * latency, 4);
  const Signal output = run(*engine, input, {256});
  for (int n = latency; n < 3 * latency; n += 11) ASSERT_NEAR(output[0][n], 0.5f * input[0][n - latency], 1e-6f);
}

TEST(Engine, MixBlendsDelayedDryAndWet) {
  auto engine = makeEngine(std::make_unique<GainProcessor>(-1.0f, 0.05), ParameterValues::mixing(0.25f, 0.0f, false));
  engine->setNonRealtime(true);
  engine->prepare(48000, 256, 1);
  const int latency = engine->latencyFrames();
  const Signal input = noise(1, 3 * latency, 9);
  const Signal output = run(*engine, input, {256});
  // 0.75·x − 0.25·x = 0.5·x (delayed)
  for (int n = latency; n < 3 * latency; n += 13) ASSERT_NEAR(output[0][n], 0.5f * input[0][n - latency], 1e-6f);
}

TEST(Engine, BypassOutputsTheDelayedDrySignalOnly) {
  auto engine = makeEngine(std::make_unique<GainProcessor>(-1.0f, 0.05), ParameterValues::mixing(1.0f, 0.9f, true));
  engine->setNonRealtime(true);
  engine->prepare(48000, 256, 2);
  const int latency = engine->latencyFrames();
  const Signal input = noise(2, 4 * latency, 4);
  const Signal output = run(*engine, input, {256});
  for (int c = 0; c < 2; ++c)
    for (int n = latency; n < 4 * latency; n += 11) ASSERT_EQ(output[c][n], input[c][n - latency]);
}

TEST(Engine, ParameterChangesRampInsteadOfJumping) {
  auto engine = makeEngine(std::make_unique<GainProcessor>(0.0f, 0.05), ParameterValues::mixing(0.0f, 0.0f, false));
  engine->setNonRealtime(true);
  engine->prepare(48000, 64, 1);
  const int latency = engine->latencyFrames();
  const Signal ones(1, std::vector<float>(latency + 4000, 1.0f));
  Signal out(1, std::vector<float>(ones[0].size()));
  const float* in[1] = {ones[0].data()};
  float* o[1] = {out[0].data()};
  engine->process(in, o, latency + 1000);  // mix 0: output is the delayed dry signal (1)
  engine->setParameter(ParameterId::Mix, 1.0f);  // now towards the wet signal (0) over 20 ms
  in[0] += latency + 1000;
  o[0] += latency + 1000;
  engine->process(in, o, 3000);
  const auto& y = out[0];
  EXPECT_EQ(y[latency + 999], 1.0f);
  EXPECT_GT(y[latency + 1000 + 400], 0.1f);  // 400 samples into a 960-sample ramp: still partly dry
  EXPECT_LT(y[latency + 1000 + 400], 0.9f);
  EXPECT_EQ(y[latency + 1000 + 2000], 0.0f);
  for (int n = latency + 1000; n < latency + 4000; ++n) ASSERT_LE(std::abs(y[n] - y[n - 1]), 1.0f / 900.0f);
}

TEST(Engine, ParametersAreClampedAndNanIgnored) {
  Engine engine(std::make_unique<PassThroughProcessor>());
  engine.setParameter(ParameterId::Feedback, 5.0f);
  EXPECT_EQ(engine.parameter(ParameterId::Feedback), spec(ParameterId::Feedback).maxValue);
  engine.setParameter(ParameterId::Mix, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(engine.parameter(ParameterId::Mix), spec(ParameterId::Mix).defaultValue);
}

TEST(Engine, AProcessorsOwnDelayIsReportedAndTheDryFollowsIt) {
  // The processor's audio lags its block by 1,600 frames: the reported latency must include them,
  // and the dry signal (mix 0, and a missed block's stand-in) must be delayed by the same total.
  for (const float mix : {1.0f, 0.0f}) {
    auto engine = makeEngine(std::make_unique<DelayingProcessor>(-0.5f, 0.05, 1600), ParameterValues::mixing(mix, 0.0f, false));
    engine->setNonRealtime(true);
    engine->prepare(48000, 256, 2);
    const int latency = engine->latencyFrames();
    EXPECT_EQ(latency, 2 * 2400 + 240 + 256 + 1600);
    EXPECT_EQ(engine->stats().processorDelayFrames, 1600);
    const Signal input = noise(2, latency + 6 * engine->blockFrames(), 21);
    const Signal output = run(*engine, input, {256, false});
    const float gain = mix == 1.0f ? -0.5f : 1.0f;
    long mismatches = 0;
    for (int c = 0; c < 2; ++c)
      for (std::size_t n = static_cast<std::size_t>(latency); n < input[c].size(); ++n)
        mismatches += output[c][n] != gain * input[c][n - static_cast<std::size_t>(latency)];
    EXPECT_EQ(mismatches, 0) << "mix " << mix;
  }
}

TEST(Engine, AProcessorNeedingHalfABlockGetsAShorterExactDelay) {
  // L = N + H + F + M with H = ceil(share x N): the schedule, and the output, follow the headroom.
  for (const bool varying : {false, true}) {
    auto engine = makeEngine(std::make_unique<HeadroomProcessor>(-0.5f, 0.05, 0.5), wetOnly());
    engine->setNonRealtime(true);
    engine->prepare(48000, 256, 2);
    const int latency = engine->latencyFrames();
    EXPECT_EQ(engine->stats().headroomFrames, 1200);
    EXPECT_EQ(latency, 2400 + 1200 + 240 + 256);
    const Signal input = noise(2, latency + 6 * engine->blockFrames(), 22);
    const Signal output = run(*engine, input, {256, varying});
    long mismatches = 0;
    for (int c = 0; c < 2; ++c)
      for (std::size_t n = 0; n < input[c].size(); ++n)
        mismatches += output[c][n] != (n < static_cast<std::size_t>(latency) ? 0.0f : -0.5f * input[c][n - latency]);
    EXPECT_EQ(mismatches, 0) << (varying ? "varying buffers" : "fixed buffers");
    EXPECT_EQ(engine->stats().blocksMissed, 0);
  }
}

TEST(Engine, RealTimeBlocksCarryTheirDeadlineAndOfflineOnesNone) {
  for (const bool offline : {true, false}) {
    auto processor = std::make_unique<HeadroomProcessor>(-0.5f, 0.1, 0.5);
    const HeadroomProcessor& seen = *processor;
    auto engine = makeEngine(std::move(processor), wetOnly());
    engine->setNonRealtime(offline);
    engine->prepare(48000, 256, 1);
    const int headroom = engine->stats().headroomFrames, buffer = 256;
    const Signal input = noise(1, engine->latencyFrames() + 6 * engine->blockFrames(), 23);
    run(*engine, input, {buffer, false, offline ? 0.0 : 48000.0});
    engine->release();
    const auto margins = seen.secondsAhead();
    ASSERT_GE(margins.size(), 6u);
    for (const double ahead : margins) {
      if (offline) {
        EXPECT_EQ(ahead, std::numeric_limits<double>::infinity());
      } else {
        // Woken once the block's input is in: at most the headroom and one host buffer remain.
        EXPECT_LE(ahead, (headroom + buffer) / 48000.0 + 1e-3);
        EXPECT_GT(ahead, -0.05) << "the worker woke long after the block's input was complete";
      }
    }
    if (!offline) EXPECT_EQ(engine->stats().blocksMissed, 0);
  }
}

// ------------------------------------------------------------------ misses and bad data

TEST(Engine, LateBlocksFallBackToDryWithCrossfadesAndRecover) {
  // Blocks 4..6 take 3 block periods each: the audio thread must not wait, must play the dry
  // signal instead, count the misses, and return to the generated signal afterwards.
  const double rate = 48000, blockSeconds = 0.05;
  auto engine = makeEngine(std::make_unique<SlowProcessor>(-1.0f, blockSeconds, 4, 7, 150), wetOnly());
  engine->prepare(rate, 240, 1);
  const int latency = engine->latencyFrames(), n = engine->blockFrames();
  const int frames = latency + 30 * n;
  const Signal input = noise(1, frames, 2);
  const Signal output = run(*engine, input, {240, false, rate});
  const auto stats = engine->stats();

  EXPECT_GE(stats.blocksMissed, 3);
  EXPECT_TRUE(allFinite(output));
  // Generated blocks play −x, missed ones x, crossfades lie in between: never louder than x.
  long louder = 0, dryFrames = 0, fadeFrames = 0;
  for (int i = latency; i < frames; ++i) {
    const float x = input[0][i - latency], y = output[0][i];
    louder += std::abs(y) > std::abs(x) + 1e-6f;
    dryFrames += y == x && x != 0.0f;
    fadeFrames += std::abs(y) < std::abs(x) - 1e-3f;
  }
  EXPECT_EQ(louder, 0);
  EXPECT_GE(dryFrames, 2 * n);
  EXPECT_GT(fadeFrames, 0);
  // Recovered: the last five blocks are generated again.
  for (int i = frames - 5 * n; i < frames; ++i) ASSERT_EQ(output[0][i], -input[0][i - latency]) << "frame " << i;
  EXPECT_EQ(stats.blocksPlayed + stats.blocksMissed, (frames - latency - 1) / n + 1);
}

TEST(Engine, NonFiniteModelOutputIsDiscardedAndCounted) {
  auto engine = makeEngine(std::make_unique<NanProcessor>(-1.0f, 0.05), wetOnly());
  engine->setNonRealtime(true);
  engine->prepare(48000, 256, 2);
  const int latency = engine->latencyFrames();
  const Signal input = noise(2, latency + 6 * engine->blockFrames(), 8);
  const Signal output = run(*engine, input, {256});
  EXPECT_TRUE(allFinite(output));
  EXPECT_GE(engine->stats().blocksInvalid, 2);
  EXPECT_GE(engine->stats().blocksMissed, 2);
}

TEST(Engine, NonFiniteInputNeverReachesTheOutput) {
  auto engine = makeEngine(std::make_unique<PassThroughProcessor>(0.05), wetOnly(0.9f));
  engine->setNonRealtime(true);
  engine->prepare(44100, 512, 2);
  Signal input = noise(2, 5 * engine->latencyFrames(), 6);
  for (int i = 0; i < static_cast<int>(input[0].size()); i += 50) {
    input[0][i] = std::numeric_limits<float>::quiet_NaN();
    input[1][i] = std::numeric_limits<float>::infinity();
  }
  EXPECT_TRUE(allFinite(run(*engine, input, {512, true})));
}

TEST(Engine, SilenceInSilenceOut) {
  auto engine = makeEngine(std::make_unique<PassThroughProcessor>(0.05), wetOnly(0.9f));
  engine->prepare(96000, 1024, 2);
  const Signal silence(2, std::vector<float>(3 * engine->latencyFrames(), 0.0f));
  const Signal output = run(*engine, silence, {1024});
  for (const auto& channel : output)
    for (float v : channel) ASSERT_EQ(v, 0.0f);
}

TEST(Engine, LatencyCanBeReadFromAnotherThreadWhilePrepareRuns) {
  // A host asks for the latency or tail length from its own thread (getTailLengthSeconds) while
  // the message thread prepares again; ThreadSanitizer (make test-tsan) checks the access.
  auto engine = makeEngine(std::make_unique<GainProcessor>(1.0f, 0.05), wetOnly());
  engine->prepare(48000, 256, 1);
  const int low = engine->latencyFrames();
  std::atomic<bool> done{false};
  std::atomic<int> outside{0};
  std::thread reader([&] {
    while (!done.load()) {
      const int latency = engine->latencyFrames();
      if (latency != low && latency != low + 512 - 256) outside.fetch_add(1);  // only the two prepared values
    }
  });
  for (int i = 0; i < 20; ++i) engine->prepare(48000, i % 2 ? 512 : 256, 1);
  done = true;
  reader.join();
  EXPECT_EQ(outside.load(), 0);
  EXPECT_EQ(engine->latencyFrames(), low + 512 - 256);
}

TEST(Engine, PrepareAgainRestartsCleanlyAtANewRate) {
  auto engine = makeEngine(std::make_unique<GainProcessor>(3.0f, 0.05), wetOnly());
  engine->setNonRealtime(true);
  for (double rate : {44100.0, 96000.0, 48000.0}) {
    engine->prepare(rate, 300, 1);
    const int latency = engine->latencyFrames();
    const Signal input = noise(1, latency + 3 * engine->blockFrames(), 1);
    const Signal output = run(*engine, input, {300, true});
    for (int n = 0; n < latency; ++n) ASSERT_EQ(output[0][n], 0.0f);
    for (int n = latency; n < static_cast<int>(input[0].size()); n += 7) ASSERT_EQ(output[0][n], 3.0f * input[0][n - latency]);
    EXPECT_EQ(engine->stats().blocksMissed, 0);
  }
}

// ------------------------------------------------------------------ memory

TEST(Engine, TheWorkerReturnsFreedMemoryBetweenBlocksEveryFewSeconds) {
  // In real time, paced like a sound card, for a little more than one trim interval: the worker trims
  // once it is due and idle, and the audio keeps every generated block meanwhile.
  const double rate = 16000, seconds = std::chrono::duration<double>(Engine::kMemoryTrimInterval).count() + 1.5;
  auto engine = makeEngine(std::make_unique<GainProcessor>(-1.0f, 0.05), wetOnly());
  engine->prepare(rate, 160, 1);
  EXPECT_EQ(engine->stats().memoryTrims, 0);
  const Signal input = noise(1, static_cast<int>(seconds * rate), 5);
  const Signal output = run(*engine, input, {160, false, rate});
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.memoryTrims, 1) << "one interval passed: one trim, not one per block";
  EXPECT_GT(stats.slowestTrimMillis, 0.0f);
  const int latency = engine->latencyFrames();
  for (int n = latency; n < static_cast<int>(input[0].size()); n += 11) ASSERT_EQ(output[0][n], -input[0][n - latency]) << n;
  engine->prepare(rate, 160, 1);
  EXPECT_EQ(engine->stats().memoryTrims, 0) << "counted since prepare, like the blocks";
}
