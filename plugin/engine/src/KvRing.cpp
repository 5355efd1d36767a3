#include "lmdm/KvRing.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lmdm {

KvRing::KvRing(int layers, int batch, int heads, int capacity, int headDim)
    : layers_(layers), batch_(batch), heads_(heads), capacity_(capacity), headDim_(headDim),
      keys_(static_cast<std::size_t>(layers) * batch * heads * capacity * headDim),
      values_(keys_.size()), valid_(static_cast<std::size_t>(capacity)) {}

void KvRing::reset() {
  start_ = length_ = 0;
  updateValid();
}

void KvRing::append(const float* keys, const float* values, int frames, int rows) {
  if (length_ + frames > capacity_)
    throw std::logic_error("KV ring full: " + std::to_string(length_) + " + " + std::to_string(frames) +
                           " frames > capacity " + std::to_string(capacity_) + "; slide first");
  if (rows != 1 && rows != batch_)
    throw std::logic_error("KV ring of batch " + std::to_string(batch_) + " given " + std::to_string(rows) + " rows");
  for (int layer = 0; layer < layers_; ++layer)
    for (int b = 0; b < batch_; ++b)
      for (int head = 0; head < heads_; ++head) {
        const std::size_t source = (static_cast<std::size_t>(layer) * rows + (rows == 1 ? 0 : b)) * heads_ + head;
        const std::size_t target = (static_cast<std::size_t>(layer) * batch_ + b) * heads_ + head;
        for (int f = 0; f < frames; ++f) {
          const int slot = (start_ + length_ + f) % capacity_;
          const std::size_t from = (source * frames + f) * headDim_;
          const std::size_t to = (target * capacity_ + slot) * headDim_;
          std::copy_n(keys + from, headDim_, keys_.begin() + static_cast<std::ptrdiff_t>(to));
          std::copy_n(values + from, headDim_, values_.begin() + static_cast<std::ptrdiff_t>(to));
        }
      }
  length_ += frames;
  updateValid();
}

void KvRing::slide(int frames) {
  frames = std::min(frames, length_);
  start_ = (start_ + frames) % capacity_;
  length_ -= frames;
  updateValid();
}

void KvRing::updateValid() {
  for (int slot = 0; slot < capacity_; ++slot)
    valid_[slot] = ((slot - start_ + capacity_) % capacity_) < length_ ? 1.0f : 0.0f;
}

}  // namespace lmdm
