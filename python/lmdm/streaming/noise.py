"""A Gaussian noise source that a C++ host reproduces bit for bit: SplitMix64 + Box-Muller.

PyTorch's generator cannot be reimplemented outside PyTorch, so the live reference (lmdm.streaming.live) and the
C++ engine (plugin/engine/src/GaussianNoise.cpp) draw the diffusion noise from this one instead: the
n-th 64-bit word is SplitMix64's output for state seed + n * golden gamma; two words make two uniforms
in (0, 1] (53 bits), and Box-Muller turns them into one normal (the cosine branch only, so each
sample depends on its own two words). Computed in float64, rounded to float32.
"""

import numpy as np

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MASK = (1 << 64) - 1


def _splitmix64(states: np.ndarray) -> np.ndarray:
    z = states.copy()
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class GaussianNoise:
    def __init__(self, seed: int):
        self.seed = np.uint64(seed & _MASK)
        self.drawn = 0  # normals drawn so far: the stream's position

    def normal(self, *shape: int) -> np.ndarray:
        count = int(np.prod(shape))
        index = np.arange(2 * self.drawn + 1, 2 * (self.drawn + count) + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            words = _splitmix64(self.seed + index * GOLDEN_GAMMA)
        uniform = ((words >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53  # (0, 1]
        u1, u2 = uniform[0::2], uniform[1::2]
        self.drawn += count
        return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32).reshape(shape)
