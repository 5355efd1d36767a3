// The context keys and values of every layer in a preallocated ring (the C++ side of lmdm.streaming.kv_cache).
//
// Layout [layers, batch, heads, capacity, head_dim], as the graphs read it. Keys carry their absolute
// positions (rotary), so `slide` only forgets the oldest frames and `append` writes the newest into the
// freed slots: no cached key is ever moved or recomputed. `valid` marks the slots that hold a frame.
#pragma once

#include <cstdint>
#include <vector>

namespace lmdm {

class KvRing {
 public:
  KvRing(int layers, int batch, int heads, int capacity, int headDim);

  void reset();
  /** Writes `frames` new frames from tensors laid out [layers, rows, heads, frames, head_dim]: `rows` is
      the ring's batch, or 1, whose keys and values then fill every batch row (the engine at guidance 1
      encodes the conditional row alone; the unconditional row takes its keys, see LmdmModel). */
  void append(const float* keys, const float* values, int frames, int rows);
  void slide(int frames);

  int length() const { return length_; }
  int capacity() const { return capacity_; }
  float* keys() { return keys_.data(); }
  float* values() { return values_.data(); }
  float* valid() { return valid_.data(); }
  std::vector<std::int64_t> shape() const { return {layers_, batch_, heads_, capacity_, headDim_}; }

 private:
  void updateValid();

  int layers_, batch_, heads_, capacity_, headDim_;
  int start_ = 0, length_ = 0;
  std::vector<float> keys_, values_, valid_;
};

}  // namespace lmdm
