// Block processors with known behaviour, for engine tests.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "lmdm/BlockProcessor.h"

namespace lmdm::test {

/** output = gain · input: a wet signal that differs from the dry one, so tests can tell them apart. */
class GainProcessor : public BlockProcessor {
 public:
  GainProcessor(float gain, double blockSeconds) : gain_(gain), blockSeconds_(blockSeconds) {}
  int prepare(double sampleRate, int) override { return static_cast<int>(std::lround(blockSeconds_ * sampleRate)); }
  void process(const BlockIO& io) override {
    for (int c = 0; c < io.channels; ++c)
      for (int i = 0; i < io.frames; ++i) io.output[c][i] = gain_ * io.input[c][i];
  }
  std::string name() const override { return "gain"; }

 private:
  float gain_;
  double blockSeconds_;
};

/** gain · input delayed by `delay` frames inside the processor, declared as its delayFrames(): a
    model whose audio lags its block (as the VAE decoder's overlap-add does). */
class DelayingProcessor : public GainProcessor {
 public:
  DelayingProcessor(float gain, double blockSeconds, int delay) : GainProcessor(gain, blockSeconds), delay_(delay) {}
  int prepare(double sampleRate, int channels) override {
    tail_.assign(static_cast<std::size_t>(channels * delay_), 0.0f);
    return GainProcessor::prepare(sampleRate, channels);
  }
  void process(const BlockIO& io) override {
    GainProcessor::process(io);
    for (int c = 0; c < io.channels; ++c) {
      float* tail = tail_.data() + static_cast<std::size_t>(c * delay_);
      std::vector<float> next(io.output[c] + io.frames - delay_, io.output[c] + io.frames);
      std::copy_backward(io.output[c], io.output[c] + io.frames - delay_, io.output[c] + io.frames);
      std::copy(tail, tail + delay_, io.output[c]);
      std::copy(next.begin(), next.end(), tail);
    }
  }
  int delayFrames() const override { return delay_; }

 private:
  int delay_;
  std::vector<float> tail_;
};

/** A gain processor that asks for `share` of a block as its headroom and records, per block, how far
    ahead of its start the engine put the deadline (seconds; +inf for none). */
class HeadroomProcessor : public GainProcessor {
 public:
  HeadroomProcessor(float gain, double blockSeconds, double share) : GainProcessor(gain, blockSeconds), share_(share) {}
  double headroomShare() const override { return share_; }
  void process(const BlockIO& io) override {
    const auto now = std::chrono::steady_clock::now();
    const double ahead = io.deadline == std::chrono::steady_clock::time_point::max()
                             ? std::numeric_limits<double>::infinity()
                             : std::chrono::duration<double>(io.deadline - now).count();
    if (recorded_.load() < static_cast<int>(secondsAhead_.size())) secondsAhead_[recorded_.load()] = ahead;
    recorded_.fetch_add(1);
    GainProcessor::process(io);
  }
  /** The first min(recorded, 64) blocks' margins; read after the engine stopped. */
  std::vector<double> secondsAhead() const {
    return {secondsAhead_.begin(), secondsAhead_.begin() + std::min<int>(recorded_.load(), secondsAhead_.size())};
  }

 private:
  double share_;
  std::array<double, 64> secondsAhead_{};
  std::atomic<int> recorded_{0};
};

/** A gain processor that sleeps `sleepMillis` on blocks [slowFrom, slowTo): a worker that falls behind. */
class SlowProcessor : public GainProcessor {
 public:
  SlowProcessor(float gain, double blockSeconds, std::int64_t slowFrom, std::int64_t slowTo, int sleepMillis)
      : GainProcessor(gain, blockSeconds), slowFrom_(slowFrom), slowTo_(slowTo), sleepMillis_(sleepMillis) {}
  void process(const BlockIO& io) override {
    if (io.blockIndex >= slowFrom_ && io.blockIndex < slowTo_)
      std::this_thread::sleep_for(std::chrono::milliseconds(sleepMillis_));
    GainProcessor::process(io);
  }

 private:
  std::int64_t slowFrom_, slowTo_;
  int sleepMillis_;
};

/** A gain processor whose odd blocks are all NaN: a model that diverged. */
class NanProcessor : public GainProcessor {
 public:
  using GainProcessor::GainProcessor;
  void process(const BlockIO& io) override {
    GainProcessor::process(io);
    if (io.blockIndex % 2 == 1)
      for (int c = 0; c < io.channels; ++c)
        std::fill(io.output[c], io.output[c] + io.frames, std::numeric_limits<float>::quiet_NaN());
  }
};

}  // namespace lmdm::test
