#include "lmdm/SpscRingBuffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

using lmdm::SpscRingBuffer;

TEST(SpscRingBuffer, RoundsCapacityUpToAPowerOfTwo) {
  EXPECT_EQ(SpscRingBuffer<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRingBuffer<int>(8).capacity(), 8u);
  EXPECT_EQ(SpscRingBuffer<int>(0).capacity(), 2u);
}

TEST(SpscRingBuffer, PushesAndPopsInOrderAcrossTheWrap) {
  SpscRingBuffer<int> ring(8);
  int next = 0, expected = 0;
  // Chunks of 3 into a ring of 8 cross the end of storage on most rounds.
  for (int round = 0; round < 100; ++round) {
    const int chunk[3] = {next, next + 1, next + 2};
    ASSERT_TRUE(ring.push(chunk, 3));
    next += 3;
    int out[3] = {};
    ASSERT_TRUE(ring.pop(out, 3));
    for (int v : out) EXPECT_EQ(v, expected++);
  }
  EXPECT_EQ(ring.availableToRead(), 0u);
}

TEST(SpscRingBuffer, RefusesPushWhenFullAndPopWhenShort) {
  SpscRingBuffer<float> ring(4);
  const float four[4] = {1, 2, 3, 4};
  EXPECT_TRUE(ring.push(four, 4));
  EXPECT_FALSE(ring.push(four, 1));  // all or nothing
  EXPECT_EQ(ring.availableToWrite(), 0u);
  float out[5] = {};
  EXPECT_FALSE(ring.pop(out, 5));
  EXPECT_EQ(ring.availableToRead(), 4u);  // a refused pop takes nothing
  EXPECT_TRUE(ring.pop(out, 4));
  EXPECT_EQ(out[3], 4.0f);
}

TEST(SpscRingBuffer, PeekAndSkip) {
  SpscRingBuffer<int> ring(4);
  const int values[3] = {10, 20, 30};
  ring.push(values, 3);
  int head = 0;
  ASSERT_TRUE(ring.peek(&head, 1));
  EXPECT_EQ(head, 10);
  EXPECT_EQ(ring.availableToRead(), 3u);
  ring.skip(2);
  ASSERT_TRUE(ring.pop(head));
  EXPECT_EQ(head, 30);
  ring.skip(5);  // skipping more than there is empties it, no more
  EXPECT_EQ(ring.availableToRead(), 0u);
}

TEST(SpscRingBuffer, ConcurrentProducerAndConsumerSeeEveryValueOnceInOrder) {
  SpscRingBuffer<std::uint32_t> ring(64);
  constexpr std::uint32_t kCount = 2'000'000;
  std::thread producer([&] {
    std::uint32_t chunk[7];
    for (std::uint32_t next = 0; next < kCount;) {
      const std::uint32_t n = std::min<std::uint32_t>(1 + next % 7, kCount - next);
      for (std::uint32_t i = 0; i < n; ++i) chunk[i] = next + i;
      if (ring.push(chunk, n)) next += n;
      else std::this_thread::yield();
    }
  });
  std::uint32_t expected = 0;
  std::uint32_t out[5];
  bool inOrder = true;
  while (expected < kCount) {
    const std::size_t n = std::min<std::size_t>({5, ring.availableToRead(), kCount - expected});
    if (n == 0) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_TRUE(ring.pop(out, n));
    for (std::size_t i = 0; i < n; ++i) inOrder &= out[i] == expected++;
  }
  producer.join();
  EXPECT_TRUE(inOrder);
  EXPECT_EQ(ring.availableToRead(), 0u);
}
