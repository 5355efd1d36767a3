// The diffusion noise, drawn exactly as lmdm.streaming.noise.GaussianNoise draws it (SplitMix64 + Box-Muller),
// so the engine and the Python reference produce the same generations from the same seed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmdm {

class GaussianNoise {
 public:
  explicit GaussianNoise(std::uint64_t seed = 0) : seed_(seed) {}

  /** Restarts the stream at its first value. */
  void reset(std::uint64_t seed) { seed_ = seed, drawn_ = 0; }

  /** Writes the next `count` standard normals. Real-time safe. */
  void fill(float* destination, std::size_t count);

  std::uint64_t drawn() const { return drawn_; }

 private:
  double uniform(std::uint64_t index) const;  // the index-th uniform of the stream, in (0, 1]

  std::uint64_t seed_;
  std::uint64_t drawn_ = 0;
};

}  // namespace lmdm
