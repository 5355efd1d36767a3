// The engine's diffusion noise is the Python reference's (lmdm.streaming.noise): same seed, same numbers.
#include "lmdm/GaussianNoise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

TEST(GaussianNoise, FirstValuesMatchThePythonReference) {
  // tests/python/streaming/test_live.py pins the same four numbers for lmdm.streaming.noise.GaussianNoise(0).
  lmdm::GaussianNoise noise(0);
  float values[4];
  noise.fill(values, 4);
  const float expected[4] = {-0.45275775f, 2.650606f, -0.9886041f, 0.25246271f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(values[i], expected[i], 1e-6f) << i;
}

TEST(GaussianNoise, IsOneStreamWhateverTheCallSizes) {
  lmdm::GaussianNoise whole(42), parts(42);
  std::vector<float> a(1000), b(1000);
  whole.fill(a.data(), a.size());
  parts.fill(b.data(), 3);
  parts.fill(b.data() + 3, 997);
  EXPECT_EQ(a, b);
  parts.reset(42);
  parts.fill(b.data(), b.size());
  EXPECT_EQ(a, b);
}

TEST(GaussianNoise, IsStandardNormal) {
  lmdm::GaussianNoise noise(7);
  std::vector<float> x(200000);
  noise.fill(x.data(), x.size());
  double sum = 0, squares = 0;
  for (float v : x) sum += v, squares += static_cast<double>(v) * v;
  const double mean = sum / x.size(), variance = squares / x.size() - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(variance, 1.0, 0.01);
}
