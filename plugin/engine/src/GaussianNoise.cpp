#include "lmdm/GaussianNoise.h"

#include <cmath>

namespace lmdm {
namespace {

constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

std::uint64_t splitMix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

double GaussianNoise::uniform(std::uint64_t index) const {
  const std::uint64_t word = splitMix64(seed_ + index * kGoldenGamma);
  return (static_cast<double>(word >> 11) + 1.0) * 0x1.0p-53;
}

void GaussianNoise::fill(float* destination, std::size_t count) {
  constexpr double kTwoPi = 2.0 * 3.141592653589793;
  for (std::size_t i = 0; i < count; ++i, ++drawn_) {
    const double u1 = uniform(2 * drawn_ + 1), u2 = uniform(2 * drawn_ + 2);
    destination[i] = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
  }
}

}  // namespace lmdm
