// Whether a block with a deadline can afford one more denoiser step.
//
// A real-time block must be ready when the audio thread plays it, so LmdmModel stops its sampler early
// (ending on the last step's clean prediction) when one more step and the block's tail (cache update,
// decoder) would end past the deadline. The costs are recent peaks; kept on top are a second step's
// cost and a margin, how much later than forecast recent blocks ended: on a machine whose steps jitter
// (two cores shared with the host's threads, a virtual machine's neighbours) a forecast from peaks
// alone overran by 2-14 ms now and then (docs/reliability.md, session 27), and a block that overruns
// is missed (dry signal) where one that stops a step early is only shortened.
#pragma once

#include <chrono>

namespace lmdm {

class StepBudget {
 public:
  using Clock = std::chrono::steady_clock;

  /** Forgets the previous block's forecast. */
  void beginBlock() { forecastEnd_ = Clock::time_point::max(); }
  void stepTook(Clock::duration cost);
  /** After a step ending at `now`: whether one more step, the tail, a step in reserve and the margin
      end by `deadline`.
      Records the forecast of the block's end that follows from the answer. */
  bool oneMoreStepFits(Clock::time_point now, Clock::time_point deadline);
  /** The tail ran from `tailStart` to `end`: updates its cost, and the margin from the forecast. */
  void endBlock(Clock::time_point tailStart, Clock::time_point end);

  double stepSeconds() const { return stepSeconds_; }
  double tailSeconds() const { return tailSeconds_; }
  double marginSeconds() const { return marginSeconds_; }

 private:
  // Each estimate jumps up to a slower measurement at once and decays slowly (StepBudget.cpp).
  double stepSeconds_ = 0.0, tailSeconds_ = 0.0, marginSeconds_ = 0.0;
  Clock::time_point forecastEnd_ = Clock::time_point::max();
};

}  // namespace lmdm
