// The KV ring the engine's graphs read: frames land in ring slots, slide forgets the oldest, and one
// appended row fills every batch row (the engine at guidance 1 encodes the conditional row alone).
#include "lmdm/KvRing.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

using lmdm::KvRing;

namespace {

constexpr int kLayers = 2, kBatch = 2, kHeads = 3, kCapacity = 4, kHeadDim = 5;

/** keys[layer, row, head, frame, d] = the value `encode` gives that cell, for `rows` rows. */
std::vector<float> frames(int rows, int count, float base) {
  std::vector<float> out(static_cast<std::size_t>(kLayers) * rows * kHeads * count * kHeadDim);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = base + static_cast<float>(i);
  return out;
}

/** The ring's key at (layer, row, head, slot, d). */
float keyAt(KvRing& ring, int layer, int row, int head, int slot, int d) {
  return ring.keys()[((((layer * kBatch) + row) * kHeads + head) * kCapacity + slot) * kHeadDim + d];
}

}  // namespace

TEST(KvRing, AppendsEveryRowIntoTheNextSlotsAndSlidesAcrossTheWrap) {
  KvRing ring(kLayers, kBatch, kHeads, kCapacity, kHeadDim);
  const auto first = frames(kBatch, 3, 0.0f);
  ring.append(first.data(), first.data(), 3, kBatch);
  ring.slide(2);
  const auto second = frames(kBatch, 2, 1000.0f);
  ring.append(second.data(), second.data(), 2, kBatch);  // slots 3 and 0 (wrapped)
  EXPECT_EQ(ring.length(), 3);
  const std::vector<float> valid(ring.valid(), ring.valid() + kCapacity);
  EXPECT_EQ(valid, (std::vector<float>{1.0f, 0.0f, 1.0f, 1.0f}));
  // Layer 1, row 1, head 2, the second new frame (index 1) at d 4 lands in slot 0.
  const std::size_t from = ((((1 * kBatch) + 1) * kHeads + 2) * 2 + 1) * kHeadDim + 4;
  EXPECT_EQ(keyAt(ring, 1, 1, 2, 0, 4), second[from]);
}

TEST(KvRing, OneAppendedRowFillsEveryBatchRow) {
  KvRing ring(kLayers, kBatch, kHeads, kCapacity, kHeadDim);
  const auto one = frames(1, 2, 7.0f);
  ring.append(one.data(), one.data(), 2, 1);
  for (int layer = 0; layer < kLayers; ++layer)
    for (int head = 0; head < kHeads; ++head)
      for (int f = 0; f < 2; ++f)
        for (int d = 0; d < kHeadDim; ++d) {
          const float expected = one[(((layer * kHeads) + head) * 2 + f) * kHeadDim + d];
          EXPECT_EQ(keyAt(ring, layer, 0, head, f, d), expected);
          EXPECT_EQ(keyAt(ring, layer, 1, head, f, d), expected);
        }
}

TEST(KvRing, RefusesAnOverflowAndAForeignRowCount) {
  KvRing ring(kLayers, 3, kHeads, kCapacity, kHeadDim);
  const auto two = std::vector<float>(static_cast<std::size_t>(kLayers) * 2 * kHeads * kHeadDim);
  EXPECT_THROW(ring.append(two.data(), two.data(), 1, 2), std::logic_error);
  const auto five = std::vector<float>(static_cast<std::size_t>(kLayers) * 3 * kHeads * 5 * kHeadDim);
  EXPECT_THROW(ring.append(five.data(), five.data(), 5, 3), std::logic_error);
}
