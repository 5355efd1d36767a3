"""A preallocated ring of context keys and values for every layer: the LMDM's block cache.

Keys are stored already rotated by their absolute frame position; rotary attention depends only on
position differences, and softmax does not care about the order of keys, so the cache is a ring:
`slide` forgets the oldest frames, `append` writes the newest into the freed slots, and no cached key
is ever recomputed or moved. `valid` says which slots hold frames (the attention mask over the cache).
Memory is allocated once, in the constructor (the C++ engine mirrors this layout).
"""

import torch

from ..dit.model import KV


class KVCache:
    def __init__(self, layers: int, batch: int, heads: int, capacity: int, head_dim: int,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
        shape = (layers, batch, heads, capacity, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.capacity = capacity
        self._slots = torch.arange(capacity, device=device)
        self.reset()

    def reset(self) -> None:
        self.start, self.length = 0, 0

    def prefill(self, kv: list[KV]) -> None:
        """Replace the contents with these frames' keys and values (encdec: the context of each block)."""
        self.reset()
        self.append(kv)

    def append(self, kv: list[KV]) -> None:
        """Write new frames after the newest; the ring must have room (slide first when it is full)."""
        frames = kv[0][0].shape[2]
        if self.length + frames > self.capacity:
            raise ValueError(f"cache full: {self.length} + {frames} frames > capacity {self.capacity}; slide first")
        slots = (self.start + self.length + torch.arange(frames, device=self._slots.device)) % self.capacity
        for layer, (k, v) in enumerate(kv):
            self.keys[layer].index_copy_(2, slots, k)
            self.values[layer].index_copy_(2, slots, v)
        self.length += frames

    def slide(self, frames: int) -> None:
        """Forget the oldest `frames` frames (their slots are reused by the next append)."""
        frames = min(frames, self.length)
        self.start = (self.start + frames) % self.capacity
        self.length -= frames

    def valid(self) -> torch.Tensor:
        """(capacity,) bool: slots holding a frame."""
        return (self._slots - self.start) % self.capacity < self.length

    def layer(self, index: int) -> KV:
        return self.keys[index], self.values[index]

    def layers(self) -> list[KV]:
        return [self.layer(i) for i in range(self.keys.shape[0])]
