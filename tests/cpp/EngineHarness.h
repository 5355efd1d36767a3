// Drives an Engine over whole signals the way a host would: buffer by buffer, optionally paced.
#pragma once

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "lmdm/Engine.h"

namespace lmdm::test {

using Signal = std::vector<std::vector<float>>;  // planar

inline Signal noise(int channels, int frames, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Signal s(channels, std::vector<float>(frames));
  for (auto& channel : s)
    for (auto& sample : channel) sample = uniform(random);
  return s;
}

struct RunOptions {
  int bufferSize = 256;
  bool varying = false;      // random sizes in 1..bufferSize
  double pacedSampleRate = 0;  // > 0: sleep like a sound card at this rate between callbacks
  unsigned seed = 7;
};

/** Processes `input` through `engine` (already prepared); returns the output. */
inline Signal run(Engine& engine, const Signal& input, const RunOptions& options) {
  const int channels = static_cast<int>(input.size());
  const int frames = static_cast<int>(input[0].size());
  Signal output(channels, std::vector<float>(frames));
  std::mt19937 random(options.seed);
  std::uniform_int_distribution<int> sizes(1, options.bufferSize);
  const float* in[Engine::kMaxChannels];
  float* out[Engine::kMaxChannels];
  const auto start = std::chrono::steady_clock::now();
  for (int position = 0; position < frames;) {
    const int n = std::min(options.varying ? sizes(random) : options.bufferSize, frames - position);
    for (int c = 0; c < channels; ++c) {
      in[c] = input[c].data() + position;
      out[c] = output[c].data() + position;
    }
    engine.process(in, out, n);
    position += n;
    if (options.pacedSampleRate > 0)
      std::this_thread::sleep_until(start + std::chrono::duration<double>(position / options.pacedSampleRate));
  }
  return output;
}

}  // namespace lmdm::test
