// The worker's model: turns one fixed-size block of input audio into one block of output audio.
//
// The engine owns the timing (rings, delay, misses); a BlockProcessor only computes. Two implement
// it: LmdmProcessor (the model package's ONNX graphs) and PassThroughProcessor (a plain delay, the
// wet signal before a model is loaded).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "lmdm/Parameters.h"

namespace lmdm {

struct BlockIO {
  const float* const* input;  // planar, `channels` pointers of `frames` samples (host rate)
  float* const* output;       // planar, same shape
  int channels;
  int frames;
  std::int64_t blockIndex;    // absolute: block k holds input frames [k·frames, (k+1)·frames)
  const ParameterValues* parameters = nullptr;  // the user's settings at this block (null: defaults)
  // When the audio thread decides whether this block arrived (max(): offline, it waits). A processor that
  // can trade quality for time (fewer denoising steps) finishes before it rather than miss the block.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

class BlockProcessor {
 public:
  virtual ~BlockProcessor() = default;

  /** Allocates; called with the worker stopped. Returns the block length in host frames (> 0). */
  virtual int prepare(double sampleRate, int channels) = 0;

  /** Worker thread only. May take up to one block period; need not be real-time safe. */
  virtual void process(const BlockIO& io) = 0;

  /** Valid after prepare(). How many host frames the audio written into block k lags input block k
      (0 for a plain per-block transform); the engine adds it to the latency it reports. */
  virtual int delayFrames() const { return 0; }

  /** Valid after prepare(). The share of a block period the worker may spend on a block once its
      input is complete (0, 1]: the engine schedules that much compute headroom, so a smaller share
      is a shorter delay. 1 (a whole block) unless the processor knows its cost is bounded below it. */
  virtual double headroomShare() const { return 1.0; }

  /** Any thread. Blocks finished early, with fewer steps than asked, to meet their deadline. */
  virtual std::int64_t blocksShortened() const { return 0; }

  /** Short human-readable description for status displays. */
  virtual std::string name() const = 0;
};

}  // namespace lmdm
