// A demanding host for robustness tests: every call gets a buffer of a new random size (1..max), the
// input switches every half second between silence, DC, full-scale noise, non-finite samples, absurd
// levels and a tone, and one parameter is automated to a random value on every call.
#pragma once

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "lmdm/Engine.h"
#include "lmdm/Parameters.h"

namespace lmdm::test {

struct HostileRun {
  int calls = 0;
  std::int64_t nonFiniteOutputs = 0;
};

class HostileHost {
 public:
  /** `speed`: how many times faster than real time the calls come (the worker must keep up). */
  HostileHost(double sampleRate, int channels, int maxBuffer, double speed, unsigned seed = 11)
      : sampleRate_(sampleRate), maxBuffer_(maxBuffer), speed_(speed), random_(seed),
        input_(channels, std::vector<float>(maxBuffer)), output_(channels, std::vector<float>(maxBuffer)) {}

  /** Calls `process` (which must call the engine's process with these arguments) until `done` or the
      cap; `engine` receives the automation. Allocation-free between calls. */
  HostileRun run(Engine& engine, const std::function<void(const float* const*, float* const*, int)>& process,
                 const std::function<bool()>& done, int maxCalls = 200000) {
    HostileRun result;
    const float* in[Engine::kMaxChannels];
    float* out[Engine::kMaxChannels];
    const auto start = std::chrono::steady_clock::now();
    for (; result.calls < maxCalls && !done(); ++result.calls) {
      const int frames = std::uniform_int_distribution<int>(1, maxBuffer_)(random_);
      for (std::size_t c = 0; c < input_.size(); ++c) {
        fillInput(input_[c].data(), frames);
        in[c] = input_[c].data();
        out[c] = output_[c].data();
      }
      automate(engine);
      process(in, out, frames);
      for (std::size_t c = 0; c < output_.size(); ++c)
        for (int i = 0; i < frames; ++i) result.nonFiniteOutputs += std::isfinite(out[c][i]) ? 0 : 1;
      position_ += frames;
      std::this_thread::sleep_until(start + std::chrono::duration<double>(position_ / (speed_ * sampleRate_)));
    }
    return result;
  }

 private:
  void fillInput(float* samples, int frames) {
    std::uniform_real_distribution<float> noise(-1.0f, 1.0f);
    for (int i = 0; i < frames; ++i) {
      const double t = (position_ + i) / sampleRate_;
      switch (static_cast<int>(2.0 * t) % 6) {
        case 0: samples[i] = 0.0f; break;
        case 1: samples[i] = 0.5f; break;
        case 2: samples[i] = noise(random_); break;
        case 3: samples[i] = (i % 3 == 0) ? std::numeric_limits<float>::quiet_NaN()
                                          : (i % 3 == 1 ? std::numeric_limits<float>::infinity() : 0.1f); break;
        case 4: samples[i] = (i % 2 ? 1e30f : -1e30f); break;
        default: samples[i] = 0.3f * static_cast<float>(std::sin(2.0 * M_PI * 196.0 * t)); break;
      }
    }
  }

  void automate(Engine& engine) {
    const auto& s = kParameterSpecs[std::uniform_int_distribution<std::size_t>(0, kParameterSpecs.size() - 1)(random_)];
    if (s.id == ParameterId::Bypass) return;  // bypass would hide the model from the test
    float value = std::uniform_real_distribution<float>(s.minValue, s.maxValue)(random_);
    if (s.isInteger || s.isToggle) value = std::round(value);
    engine.setParameter(s.id, value);
  }

  double sampleRate_;
  int maxBuffer_;
  double speed_;
  std::mt19937 random_;
  std::vector<std::vector<float>> input_, output_;
  std::int64_t position_ = 0;
};

}  // namespace lmdm::test
