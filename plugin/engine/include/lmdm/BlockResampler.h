// Resamples a stream in fixed blocks: exactly `inputFrames` in, exactly `outputFrames` out per call.
//
// The worker trades blocks of N host frames for blocks of M model samples. libsamplerate (sinc,
// medium quality) runs at the ratio M/N exactly, so no drift accumulates over a session however
// long (where N/M is not the true rate ratio, the model's audio is off by less than 1e-4 relative,
// an inaudible detune). The resampler's filter holds back some input, so a small FIFO absorbs the
// +-1 sample jitter per call; it is primed once, which makes the delay constant.
#pragma once

#include <memory>
#include <vector>

struct SRC_STATE_tag;

namespace lmdm {

class BlockResampler {
 public:
  /** Allocates. Equal sizes copy straight through. */
  BlockResampler(int inputFrames, int outputFrames);
  ~BlockResampler();
  BlockResampler(const BlockResampler&) = delete;
  BlockResampler& operator=(const BlockResampler&) = delete;

  /** inputFrames() samples in, outputFrames() samples out (mono). No allocation. */
  void process(const float* input, float* output);
  /** Back to the state right after construction. */
  void reset();

  int inputFrames() const { return inputFrames_; }
  int outputFrames() const { return outputFrames_; }
  /** How many output samples the output lags the input (the filter's group delay plus the FIFO's
      margin), measured once at construction with an impulse; constant after every reset(). */
  int delayFrames() const { return delayFrames_; }
  /** Calls where the FIFO ran dry and zeros were inserted (should stay 0 after priming). */
  long long underflows() const { return underflows_; }

 private:
  int inputFrames_, outputFrames_;
  SRC_STATE_tag* state_ = nullptr;
  std::vector<float> produced_, fifo_;
  std::size_t fifoFill_ = 0;
  long long underflows_ = 0;
  int delayFrames_ = 0;

  int measureDelay();
};

}  // namespace lmdm
