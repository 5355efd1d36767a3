// The model package shipped in models/ (the plugin's default), as the engine sees it: it loads, its
// golden fixtures hold under this build's ONNX Runtime, and the model streams finite audio.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "lmdm/LmdmModel.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/OrtRuntime.h"
#include "lmdm/PackageFixtures.h"
#include "ShippedPackage.h"

namespace {

std::shared_ptr<const lmdm::ModelPackage> shipped() {
  lmdm::OrtRuntime::load(LMDM_ORT_LIBRARY);
  return std::make_shared<const lmdm::ModelPackage>(lmdm::ModelPackage::load(LMDM_SHIPPED_PACKAGE));
}

/** One block of a quiet sine at the model's rate: an input every control follows. */
std::vector<float> sineBlock(const lmdm::LmdmModel& model) {
  std::vector<float> input(static_cast<std::size_t>(model.blockSamples()));
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  return input;
}

}  // namespace

TEST(ShippedPackage, GoldenFixturesHold) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  const auto errors = lmdm::checkFixtures(*shipped());
  EXPECT_EQ(errors.size(), 5u);
  for (const auto& [graph, error] : errors) EXPECT_TRUE(std::isfinite(error)) << graph;
}

// The GPU twin (models/lmdm-live-fp16: float16 DiT graphs and VAE decoder, for the CUDA build): its
// fixtures, ONNX Runtime CPU outputs of its float16 graphs, hold here too.
TEST(ShippedPackage, GpuTwinGoldenFixturesHoldOnTheCpu) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  const std::string twin = lmdm::gpuTwinFolder(LMDM_SHIPPED_PACKAGE);
  if (twin.empty()) GTEST_SKIP() << "no GPU twin beside " LMDM_SHIPPED_PACKAGE;
  lmdm::OrtRuntime::load(LMDM_ORT_LIBRARY);
  const auto errors = lmdm::checkFixtures(lmdm::ModelPackage::load(twin));
  EXPECT_EQ(errors.size(), 5u);
  for (const auto& [graph, error] : errors) EXPECT_TRUE(std::isfinite(error)) << graph;
}

// Asked for CUDA, the processor tries the twin; this build's runtime has no CUDA, so the CPU runs the
// int8 package itself (float16 on a CPU would be twice as slow) and the status says why.
TEST(ShippedPackage, CudaThatDoesNotStartRunsTheInt8PackageNotTheGpuTwin) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  lmdm::OrtRuntime::load(LMDM_ORT_LIBRARY);
  const lmdm::LmdmProcessor processor(LMDM_SHIPPED_PACKAGE, lmdm::SessionSettings{1, "cuda"});
  ASSERT_TRUE(processor.ready()) << processor.status();
  const auto manifest = lmdm::ModelPackage::load(LMDM_SHIPPED_PACKAGE);
  EXPECT_EQ(processor.name(), "LMDM " + manifest.name);
  EXPECT_EQ(processor.model()->provider(), "cpu");
  EXPECT_NE(processor.status().find("cuda"), std::string::npos) << processor.status();
}

TEST(ShippedPackage, StreamsFiniteAudio) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  lmdm::LmdmModel model(shipped(), lmdm::SessionSettings{});
  model.setPrompt(model.package().prompts.front().embedding.data());
  const std::vector<float> input = sineBlock(model);
  std::vector<float> output(input.size());
  for (int block = 0; block < 3; ++block) {
    model.process(input.data(), output.data());
    for (float x : output) ASSERT_TRUE(std::isfinite(x));
  }
  EXPECT_EQ(model.lastStepsRun(), model.stepsAsked()) << "no deadline: every step runs";
}

TEST(ShippedPackage, ABlockOutOfTimeEndsAfterOneStepOnItsCleanPrediction) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  lmdm::LmdmModel model(shipped(), lmdm::SessionSettings{});
  model.setPrompt(model.package().prompts.front().embedding.data());
  const std::vector<float> input = sineBlock(model);
  std::vector<float> output(input.size());
  lmdm::GenerationSettings settings;
  settings.steps = 8;
  model.setSettings(settings);
  model.process(input.data(), output.data());  // on time: measures what a step costs
  ASSERT_EQ(model.lastStepsRun(), 8);
  const auto past = lmdm::LmdmModel::Clock::now() - std::chrono::seconds(1);
  for (int block = 0; block < 2; ++block) {
    model.process(input.data(), output.data(), past);
    EXPECT_EQ(model.lastStepsRun(), 1);
    double energy = 0.0;
    for (float x : output) {
      ASSERT_TRUE(std::isfinite(x));
      energy += static_cast<double>(x) * x;
    }
    EXPECT_GT(energy, 0.0) << "a shortened block still carries audio";
  }
  // A deadline far enough away changes nothing.
  model.process(input.data(), output.data(), lmdm::LmdmModel::Clock::now() + std::chrono::seconds(60));
  EXPECT_EQ(model.lastStepsRun(), 8);
}
