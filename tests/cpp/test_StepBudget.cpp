// The deadline's forecast: one more step fits when step + tail + margin end by the deadline, and the
// margin learns how late recent blocks ended against their forecast (synthetic times, no model).
#include "lmdm/StepBudget.h"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using Clock = lmdm::StepBudget::Clock;
using std::chrono::milliseconds;

const Clock::time_point kStart{};

// A block whose step costs 10 ms and whose tail costs `tail`, decided at kStart against `deadline`,
// that then ends at kStart + `endsAfter` (the tail measured from `endsAfter - tail`).
bool decideAndEnd(lmdm::StepBudget& budget, milliseconds deadline, milliseconds tail, milliseconds endsAfter) {
  budget.beginBlock();
  budget.stepTook(milliseconds(10));
  const bool fits = budget.oneMoreStepFits(kStart, kStart + deadline);
  budget.endBlock(kStart + endsAfter - tail, kStart + endsAfter);
  return fits;
}

}  // namespace

TEST(StepBudget, OneMoreStepFitsWhenStepAndTailEndByTheDeadline) {
  lmdm::StepBudget budget;
  // The first block knows no tail yet: a step alone must fit.
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(35), milliseconds(20), milliseconds(30)));
  EXPECT_NEAR(budget.tailSeconds(), 0.020, 1e-9);
  EXPECT_NEAR(budget.marginSeconds(), 0.020, 1e-9) << "forecast 10 ms (step, no tail known), ended at 30";
}

TEST(StepBudget, ABlockThatEndsLaterThanForecastMakesTheNextKeepThatMargin) {
  lmdm::StepBudget budget;
  budget.stepTook(milliseconds(10));
  budget.endBlock(kStart, kStart + milliseconds(20));  // learns the tail (no decision: no margin)
  ASSERT_EQ(budget.marginSeconds(), 0.0);
  // 10 + 20 = 30 <= 35: fits; but the block ends at 45, 15 ms after its forecast.
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(35), milliseconds(20), milliseconds(45)));
  EXPECT_NEAR(budget.marginSeconds(), 0.015, 1e-9);
  // The same block again: 30 + 15 > 35, so it stops a step early (and ends on time, at 20).
  EXPECT_FALSE(decideAndEnd(budget, milliseconds(35), milliseconds(20), milliseconds(20)));
  // A deadline with room for the margin still affords the step.
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(50), milliseconds(20), milliseconds(30)));
}

TEST(StepBudget, TheMarginDecaysOverBlocksThatEndOnTime) {
  lmdm::StepBudget budget;
  budget.stepTook(milliseconds(10));
  budget.endBlock(kStart, kStart + milliseconds(20));
  decideAndEnd(budget, milliseconds(35), milliseconds(20), milliseconds(45));  // 15 ms late
  const double learned = budget.marginSeconds();
  for (int block = 0; block < 60; ++block) decideAndEnd(budget, milliseconds(100), milliseconds(20), milliseconds(30));
  EXPECT_LT(budget.marginSeconds(), 0.1 * learned) << "0.95^60 of it is left";
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(35), milliseconds(20), milliseconds(30)));
}

TEST(StepBudget, AStepSlowerThanThePeakRaisesTheEstimateAtOnce) {
  lmdm::StepBudget budget;
  budget.stepTook(milliseconds(10));
  budget.stepTook(milliseconds(25));
  EXPECT_NEAR(budget.stepSeconds(), 0.025, 1e-9);
  budget.stepTook(milliseconds(5));
  EXPECT_NEAR(budget.stepSeconds(), 0.95 * 0.025 + 0.05 * 0.005, 1e-9);
}
