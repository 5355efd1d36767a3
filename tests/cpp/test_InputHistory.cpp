#include "lmdm/InputHistory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

using lmdm::InputHistory;

namespace {

void writeRamp(InputHistory& history, int frames, float& next) {
  std::vector<float> left(frames), right(frames);
  for (int i = 0; i < frames; ++i, next += 1.0f) {
    left[i] = next;
    right[i] = -next;
  }
  const float* channels[2] = {left.data(), right.data()};
  history.write(channels, frames);
}

}  // namespace

TEST(InputHistory, ReadsWindowsByAbsoluteFrameIndexAcrossTheWrap) {
  InputHistory history(2, 10);
  float next = 0.0f;
  for (int i = 0; i < 7; ++i) writeRamp(history, 3, next);  // 21 frames through a 10-frame store
  EXPECT_EQ(history.framesWritten(), 21);
  std::vector<float> left(4), right(4);
  float* out[2] = {left.data(), right.data()};
  ASSERT_TRUE(history.read(15, 4, out));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(left[i], 15.0f + i);
    EXPECT_EQ(right[i], -(15.0f + i));
  }
}

TEST(InputHistory, RefusesFramesNotYetWrittenOrAlreadyOverwritten) {
  InputHistory history(2, 10);
  float next = 0.0f;
  writeRamp(history, 12, next);
  std::vector<float> a(4), b(4);
  float* out[2] = {a.data(), b.data()};
  EXPECT_FALSE(history.read(10, 4, out));  // frames 12, 13 do not exist yet
  EXPECT_FALSE(history.read(0, 4, out));   // frames 0, 1 were overwritten
  EXPECT_TRUE(history.read(2, 4, out));
  EXPECT_FALSE(history.read(-1, 1, out));
}

TEST(InputHistory, ResetRestartsNumbering) {
  InputHistory history(1, 8);
  std::vector<float> data(5, 1.0f);
  const float* in[1] = {data.data()};
  history.write(in, 5);
  history.reset();
  EXPECT_EQ(history.framesWritten(), 0);
  std::vector<float> out(1);
  float* outs[1] = {out.data()};
  EXPECT_FALSE(history.read(0, 1, outs));
}

TEST(InputHistory, ConcurrentReaderNeverAcceptsATornWindow) {
  // The writer writes frame f as value f; every window the reader accepts must be consecutive. The
  // writer keeps going until the reader has checked enough windows (on a loaded machine the reader may
  // be starved for a while), up to 400k chunks so every frame number stays exact in a float.
  InputHistory history(1, 256);
  std::atomic<bool> done{false};
  std::atomic<long> accepted{0};
  std::thread writer([&] {
    std::vector<float> chunk(37);
    float next = 0.0f;
    for (int round = 0; round < 400'000 && (round < 100'000 || accepted.load() < 1000); ++round) {
      for (auto& sample : chunk) sample = next++;
      const float* in[1] = {chunk.data()};
      history.write(in, 37);
    }
    done = true;
  });
  std::vector<float> window(200);
  float* out[1] = {window.data()};
  long bad = 0;
  while (!done) {
    const auto written = history.framesWritten();
    const auto start = std::max<std::int64_t>(0, written - 220);  // close to the overwrite edge
    if (!history.read(start, 200, out)) continue;
    ++accepted;
    for (int i = 0; i < 200; ++i) bad += window[i] != static_cast<float>(start + i);
  }
  writer.join();
  EXPECT_GT(accepted.load(), 0);
  EXPECT_EQ(bad, 0);
}
