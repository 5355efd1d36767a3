// The placeholder model: output block = input block. With the engine's fixed block delay and
// feedback this makes a plain delay, exercising the exact architecture the generative model uses.
#pragma once

#include <algorithm>
#include <cmath>

#include "lmdm/BlockProcessor.h"

namespace lmdm {

class PassThroughProcessor final : public BlockProcessor {
 public:
  /** `blockSeconds`: the block length the model will generate (its unit of work). */
  explicit PassThroughProcessor(double blockSeconds = 0.2) : blockSeconds_(blockSeconds) {}

  int prepare(double sampleRate, int /*channels*/) override {
    return std::max(1, static_cast<int>(std::lround(blockSeconds_ * sampleRate)));
  }

  void process(const BlockIO& io) override {
    for (int c = 0; c < io.channels; ++c) std::copy(io.input[c], io.input[c] + io.frames, io.output[c]);
  }

  std::string name() const override { return "pass-through (plain delay)"; }

 private:
  double blockSeconds_;
};

}  // namespace lmdm
