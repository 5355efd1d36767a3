#include "lmdm/InputHistory.h"

#include <stdexcept>

namespace lmdm {

InputHistory::InputHistory(int channels, int capacityFrames)
    : channels_(channels),
      capacity_(capacityFrames),
      samples_(std::make_unique<std::atomic<float>[]>(static_cast<std::size_t>(channels) * capacityFrames)) {
  if (channels <= 0 || capacityFrames <= 0) throw std::invalid_argument("InputHistory: empty shape");
  reset();
}

void InputHistory::reset() {
  const std::size_t total = static_cast<std::size_t>(channels_) * capacity_;
  for (std::size_t i = 0; i < total; ++i) samples_[i].store(0.0f, std::memory_order_relaxed);
  writingEnd_.store(0, std::memory_order_relaxed);
  written_.store(0, std::memory_order_release);
}

void InputHistory::write(const float* const* channelData, int frames) {
  const std::int64_t start = written_.load(std::memory_order_relaxed);
  writingEnd_.store(start + frames, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int c = 0; c < channels_; ++c)
    for (int i = 0; i < frames; ++i) at(c, start + i).store(channelData[c][i], std::memory_order_relaxed);
  written_.store(start + frames, std::memory_order_release);
}

bool InputHistory::read(std::int64_t start, int frames, float* const* out) const {
  const std::int64_t end = start + frames;
  if (start < 0 || frames < 0 || frames > capacity_) return false;
  if (framesWritten() < end) return false;
  for (int c = 0; c < channels_; ++c)
    for (int i = 0; i < frames; ++i) out[c][i] = at(c, start + i).load(std::memory_order_relaxed);
  // The writer may have lapped us during the copy: frames below writingEnd - capacity were (or are
  // being) overwritten. The fence pairs with the writer's, so any overwritten sample we copied
  // implies we now see the writingEnd that announced it.
  std::atomic_thread_fence(std::memory_order_acquire);
  return writingEnd_.load(std::memory_order_relaxed) - capacity_ <= start;
}

}  // namespace lmdm
