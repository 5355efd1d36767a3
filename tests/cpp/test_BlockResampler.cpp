// Fixed-block resampling: exact block sizes forever, the signal preserved, a constant delay.
#include "lmdm/BlockResampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace {

constexpr double kPi = 3.14159265358979323846;

// Best-fit amplitude of a sine at `hz` over `x` (least squares on sin and cos).
double amplitudeAt(const std::vector<float>& x, double hz, double rate) {
  double s = 0, c = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    s += x[i] * std::sin(2 * kPi * hz * i / rate);
    c += x[i] * std::cos(2 * kPi * hz * i / rate);
  }
  return 2.0 * std::hypot(s, c) / x.size();
}

}  // namespace

TEST(BlockResampler, EqualSizesCopy) {
  lmdm::BlockResampler same(64, 64);
  std::vector<float> in(64), out(64);
  for (int i = 0; i < 64; ++i) in[i] = static_cast<float>(i);
  same.process(in.data(), out.data());
  EXPECT_EQ(in, out);
}

TEST(BlockResampler, DownAndUpKeepASineWithoutRunningDry) {
  // 48 kHz host, 22.05 kHz model: 8192 model samples are 17832 host frames (rounded).
  const int host = 17832, model = 8192, blocks = 60;
  const double hostRate = 48000.0, modelRate = hostRate * model / host;
  lmdm::BlockResampler down(host, model), up(model, host);
  std::vector<float> in(host), mid(model), out(host), all;
  for (int b = 0; b < blocks; ++b) {
    for (int i = 0; i < host; ++i) in[i] = 0.5f * static_cast<float>(std::sin(2 * kPi * 440.0 * (b * host + i) / hostRate));
    down.process(in.data(), mid.data());
    if (b == blocks - 1) EXPECT_NEAR(amplitudeAt(mid, 440.0, modelRate), 0.5, 0.01);  // same tone at the model rate
    up.process(mid.data(), out.data());
    if (b >= 2) all.insert(all.end(), out.begin(), out.end());
  }
  EXPECT_EQ(down.underflows(), 0);
  EXPECT_EQ(up.underflows(), 0);
  EXPECT_NEAR(amplitudeAt(all, 440.0, hostRate), 0.5, 0.01);
}

TEST(BlockResampler, ReportsTheDelayAClickComesOutAt) {
  // A click at input frame 1000 of the second block leaves the resampler delayFrames() (output
  // samples) after where the rate change alone puts it; equal sizes have no delay.
  EXPECT_EQ(lmdm::BlockResampler(64, 64).delayFrames(), 0);
  for (const auto& [in, out] : {std::pair{17832, 8192}, std::pair{8192, 17832}, std::pair{2400, 2205}}) {
    lmdm::BlockResampler resampler(in, out);
    EXPECT_GT(resampler.delayFrames(), 0);
    EXPECT_LT(resampler.delayFrames(), out / 2);
    std::vector<float> input(in, 0.0f), output(out);
    std::vector<float> all;
    for (int b = 0; b < 4; ++b) {
      std::fill(input.begin(), input.end(), 0.0f);
      if (b == 1) input[1000] = 1.0f;
      resampler.process(input.data(), output.data());
      all.insert(all.end(), output.begin(), output.end());
    }
    const auto peak = std::max_element(all.begin(), all.end(), [](float a, float b) { return std::abs(a) < std::abs(b); });
    const double expected = (in + 1000.0) * out / in + resampler.delayFrames();
    EXPECT_NEAR(static_cast<double>(peak - all.begin()), expected, 1.5) << in << " -> " << out;
  }
}
