#include "lmdm/StepBudget.h"

#include <algorithm>

namespace lmdm {
namespace {

void trackPeak(double& estimate, double measured) {
  estimate = measured > estimate ? measured : 0.95 * estimate + 0.05 * measured;
}

double toSeconds(StepBudget::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

StepBudget::Clock::duration fromSeconds(double seconds) {
  return std::chrono::duration_cast<StepBudget::Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

void StepBudget::stepTook(Clock::duration cost) { trackPeak(stepSeconds_, toSeconds(cost)); }

bool StepBudget::oneMoreStepFits(Clock::time_point now, Clock::time_point deadline) {
  const auto withStep = now + fromSeconds(stepSeconds_ + tailSeconds_);
  const bool fits = withStep + fromSeconds(marginSeconds_) <= deadline;
  forecastEnd_ = fits ? withStep : now + fromSeconds(tailSeconds_);
  return fits;
}

void StepBudget::endBlock(Clock::time_point tailStart, Clock::time_point end) {
  trackPeak(tailSeconds_, toSeconds(end - tailStart));
  // Blocks that end early pull the margin down slowly; a block without a decision says nothing.
  if (forecastEnd_ != Clock::time_point::max()) trackPeak(marginSeconds_, std::max(0.0, toSeconds(end - forecastEnd_)));
}

}  // namespace lmdm
