// When the plugin prepares the engine for the buffers a host sends instead of the maximum it announced.
#include "lmdm/BufferSizeWatch.h"

#include <gtest/gtest.h>

namespace {

constexpr double kRate = 48000.0;
constexpr std::int64_t kListened = static_cast<std::int64_t>(lmdm::BufferSizeWatch::kListenSeconds * kRate);

TEST(BufferSizeWatch, AdaptsOnceToTheLargestBufferAfterASecondOfRealTimeAudio) {
  lmdm::BufferSizeWatch watch;
  watch.hostPrepared(8192);  // Ardour's LV2 hosting
  EXPECT_EQ(watch.next(8192, 1024, kListened - 1, kRate), 8192) << "still listening";
  EXPECT_EQ(watch.next(8192, 0, kListened, kRate), 8192) << "nothing processed in real time";
  EXPECT_EQ(watch.next(8192, 1024, kListened, kRate), 1024);
  EXPECT_EQ(watch.next(1024, 1024, 10 * kListened, kRate), 1024) << "stays while buffers fit";
  EXPECT_EQ(watch.next(1024, 512, 10 * kListened, kRate), 1024) << "one decision: no second adaptation";
}

TEST(BufferSizeWatch, GoesBackToTheAnnouncedMaximumForGoodWhenALargerBufferArrives) {
  lmdm::BufferSizeWatch watch;
  watch.hostPrepared(4096);
  ASSERT_EQ(watch.next(4096, 256, kListened, kRate), 256);
  EXPECT_EQ(watch.next(256, 300, 100, kRate), 4096);
  EXPECT_EQ(watch.next(4096, 256, 10 * kListened, kRate), 4096) << "no adaptation after going back";
  watch.hostPrepared(4096);  // until the host prepares again
  EXPECT_EQ(watch.next(4096, 256, kListened, kRate), 256);
}

TEST(BufferSizeWatch, KeepsTheAnnouncedSizeWhenAdaptingWouldSaveLessThanFiveMilliseconds) {
  lmdm::BufferSizeWatch watch;
  watch.hostPrepared(512);
  EXPECT_EQ(watch.next(512, 512, kListened, kRate), 512);
  watch.hostPrepared(512);
  EXPECT_EQ(watch.next(512, 300, kListened, kRate), 512) << "212 frames < 240 (5 ms)";
  watch.hostPrepared(512);
  EXPECT_EQ(watch.next(512, 272, kListened, kRate), 272) << "240 frames saved";
  EXPECT_EQ(watch.next(272, 272, kListened, kRate), 272);
}

TEST(BufferSizeWatch, DoesNothingBeforeTheHostPrepares) {
  lmdm::BufferSizeWatch watch;
  EXPECT_EQ(watch.next(1024, 64, kListened, kRate), 1024);
  watch.hostPrepared(1024);
  EXPECT_EQ(watch.next(1024, 64, kListened, 0.0), 1024) << "no sample rate";
}

}  // namespace
