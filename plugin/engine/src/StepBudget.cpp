#include "lmdm/StepBudget.h"

#include <algorithm>

namespace lmdm {
namespace {

// A cost follows a slower measurement at once and a faster one slowly (5 % a measurement); the
// margin more slowly still (1 % a block, a half-life of about 70 blocks, 13 s at 186-ms blocks):
// the overruns it guards against come minutes apart.
void trackPeak(double& estimate, double measured, double decay = 0.05) {
  estimate = measured > estimate ? measured : (1.0 - decay) * estimate + decay * measured;
}
constexpr double kMarginDecay = 0.01;

double toSeconds(StepBudget::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

StepBudget::Clock::duration fromSeconds(double seconds) {
  return std::chrono::duration_cast<StepBudget::Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

void StepBudget::stepTook(Clock::duration cost) { trackPeak(stepSeconds_, toSeconds(cost)); }

bool StepBudget::oneMoreStepFits(Clock::time_point now, Clock::time_point deadline) {
  const auto withStep = now + fromSeconds(stepSeconds_ + tailSeconds_);
  // A second step's cost in reserve: a step can take twice its recent peak when the machine is
  // briefly taken away (the host's threads, a virtual machine's neighbours), before any margin is learnt.
  const bool fits = withStep + fromSeconds(stepSeconds_ + marginSeconds_) <= deadline;
  forecastEnd_ = fits ? withStep : now + fromSeconds(tailSeconds_);
  return fits;
}

void StepBudget::endBlock(Clock::time_point tailStart, Clock::time_point end) {
  trackPeak(tailSeconds_, toSeconds(end - tailStart));
  // Blocks that end early pull the margin down slowly; a block without a decision says nothing.
  if (forecastEnd_ != Clock::time_point::max())
    trackPeak(marginSeconds_, std::max(0.0, toSeconds(end - forecastEnd_)), kMarginDecay);
}

}  // namespace lmdm
