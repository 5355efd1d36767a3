// The model package shipped in models/ (the plugin's default), as the engine sees it: it loads, its
// golden fixtures hold under this build's ONNX Runtime, and the model streams finite audio.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "lmdm/LmdmModel.h"
#include "lmdm/OrtRuntime.h"
#include "lmdm/PackageFixtures.h"
#include "ShippedPackage.h"

namespace {

std::shared_ptr<const lmdm::ModelPackage> shipped() {
  lmdm::OrtRuntime::load(LMDM_ORT_LIBRARY);
  return std::make_shared<const lmdm::ModelPackage>(lmdm::ModelPackage::load(LMDM_SHIPPED_PACKAGE));
}

}  // namespace

TEST(ShippedPackage, GoldenFixturesHold) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  const auto errors = lmdm::checkFixtures(*shipped());
  EXPECT_EQ(errors.size(), 5u);
  for (const auto& [graph, error] : errors) EXPECT_TRUE(std::isfinite(error)) << graph;
}

TEST(ShippedPackage, StreamsFiniteAudio) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  lmdm::LmdmModel model(shipped(), lmdm::SessionSettings{});
  std::vector<float> input(static_cast<std::size_t>(model.blockSamples())), output(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  model.setPrompt(model.package().prompts.front().embedding.data());
  for (int block = 0; block < 3; ++block) {
    model.process(input.data(), output.data());
    for (float x : output) ASSERT_TRUE(std::isfinite(x));
  }
}
