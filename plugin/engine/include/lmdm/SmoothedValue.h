// A parameter value that ramps linearly to its target, so automation never clicks.
#pragma once

#include <algorithm>
#include <cmath>

namespace lmdm {

class SmoothedValue {
 public:
  /** Real-time safe. Jumps to `value` with no ramp; `rampFrames` is the length of later ramps. */
  void reset(float value, int rampFrames) {
    current_ = target_ = value;
    rampFrames_ = std::max(1, rampFrames);
    step_ = 0.0f;
    remaining_ = 0;
  }

  /** Real-time safe. Starts a ramp towards `value` if it is a new target. */
  void setTarget(float value) {
    if (value == target_) return;
    target_ = value;
    remaining_ = rampFrames_;
    step_ = (target_ - current_) / static_cast<float>(rampFrames_);
  }

  /** Real-time safe. The value for the next frame. */
  float next() {
    if (remaining_ == 0) return current_;
    --remaining_;
    current_ = remaining_ == 0 ? target_ : current_ + step_;
    return current_;
  }

 private:
  float current_ = 0.0f;
  float target_ = 0.0f;
  float step_ = 0.0f;
  int rampFrames_ = 1;
  int remaining_ = 0;
};

}  // namespace lmdm
