#include "lmdm/BufferSizeWatch.h"

#include <cmath>

namespace lmdm {

void BufferSizeWatch::hostPrepared(int announced) noexcept {
  announced_ = announced;
  decided_ = false;
}

int BufferSizeWatch::next(int prepared, int largestSeen, std::int64_t realtimeFrames, double sampleRate) noexcept {
  if (announced_ <= 0 || !(sampleRate > 0.0)) return prepared;
  if (prepared < announced_) {
    // Adapted: a larger buffer means the host sends more than it did while listened to.
    if (largestSeen <= prepared) return prepared;
    decided_ = true;
    return announced_;
  }
  if (decided_ || prepared != announced_) return prepared;
  if (largestSeen <= 0 || static_cast<double>(realtimeFrames) < kListenSeconds * sampleRate) return prepared;
  decided_ = true;
  const bool worthIt = announced_ - largestSeen >= static_cast<int>(std::ceil(kMinimumSavingSeconds * sampleRate));
  return worthIt ? largestSeen : prepared;
}

}  // namespace lmdm
