// The deadline's forecast: one more step fits when step + tail + a step in reserve + the margin end by
// the deadline, and the margin learns how late recent blocks ended against their forecast (synthetic
// times, no model).
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

// A budget that knows a 10-ms step and a 20-ms tail, with no margin yet.
lmdm::StepBudget learnt() {
  lmdm::StepBudget budget;
  budget.stepTook(milliseconds(10));
  budget.endBlock(kStart, kStart + milliseconds(20));  // no decision in this block: no margin
  return budget;
}

}  // namespace

TEST(StepBudget, TheFirstBlockKnowsNoTailAndLearnsAMarginFromItsEnd) {
  lmdm::StepBudget budget;
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(35), milliseconds(20), milliseconds(30)));  // 10 + 10 reserve
  EXPECT_NEAR(budget.tailSeconds(), 0.020, 1e-9);
  EXPECT_NEAR(budget.marginSeconds(), 0.020, 1e-9) << "forecast 10 ms (step, no tail known), ended at 30";
}

TEST(StepBudget, AStepIsKeptInReserve) {
  lmdm::StepBudget budget = learnt();
  ASSERT_EQ(budget.marginSeconds(), 0.0);
  EXPECT_FALSE(budget.oneMoreStepFits(kStart, kStart + milliseconds(35))) << "step + tail = 30 ms, + reserve 40";
  EXPECT_TRUE(budget.oneMoreStepFits(kStart, kStart + milliseconds(40)));
}

TEST(StepBudget, ABlockThatEndsLaterThanForecastMakesTheNextKeepThatMargin) {
  lmdm::StepBudget budget = learnt();
  // 10 + 20 (+ 10 in reserve) <= 45: fits; but the block ends at 45, 15 ms after its forecast of 30.
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(45), milliseconds(20), milliseconds(45)));
  EXPECT_NEAR(budget.marginSeconds(), 0.015, 1e-9);
  // The same block again: 40 + 15 > 45, so it stops a step early (and ends on time, at 20).
  EXPECT_FALSE(decideAndEnd(budget, milliseconds(45), milliseconds(20), milliseconds(20)));
  // A deadline with room for the margin still affords the step.
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(60), milliseconds(20), milliseconds(30)));
}

TEST(StepBudget, TheMarginDecaysOverBlocksThatEndOnTime) {
  lmdm::StepBudget budget = learnt();
  decideAndEnd(budget, milliseconds(45), milliseconds(20), milliseconds(45));  // 15 ms late
  const double learned = budget.marginSeconds();
  for (int block = 0; block < 60; ++block) decideAndEnd(budget, milliseconds(100), milliseconds(20), milliseconds(30));
  EXPECT_GT(budget.marginSeconds(), 0.5 * learned) << "a minute's overrun is remembered for a while";
  for (int block = 0; block < 300; ++block) decideAndEnd(budget, milliseconds(100), milliseconds(20), milliseconds(30));
  EXPECT_LT(budget.marginSeconds(), 0.1 * learned);
  EXPECT_TRUE(decideAndEnd(budget, milliseconds(45), milliseconds(20), milliseconds(30)));
}

TEST(StepBudget, AStepSlowerThanThePeakRaisesTheEstimateAtOnce) {
  lmdm::StepBudget budget;
  budget.stepTook(milliseconds(10));
  budget.stepTook(milliseconds(25));
  EXPECT_NEAR(budget.stepSeconds(), 0.025, 1e-9);
  budget.stepTook(milliseconds(5));
  EXPECT_NEAR(budget.stepSeconds(), 0.95 * 0.025 + 0.05 * 0.005, 1e-9);
}
