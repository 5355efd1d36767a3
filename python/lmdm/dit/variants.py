"""The DiT's four variants (paper §4) and what each can do, so code asks a capability, not a name.

- offline: one bidirectional window, no context (the pre-trained model).
- outpaint: context carried as input channels beside the noisy target; everything recomputed per step.
- encdec: context routed through its own projection and encoded once per block (a KV producer), read
  by every denoising step; re-encoded whole each block.
- blockcausal: as encdec, and each context block attends only the blocks before it, so its keys never
  change: one new block is encoded per block and a stream may start from no context at all.

The C++ package reader (ModelPackage::Variant) mirrors the two a host streams: encdec and blockcausal.
"""

from enum import Enum


class Variant(str, Enum):
    """A str, so configs, JSON and command lines keep the plain names."""

    OFFLINE = "offline"
    OUTPAINT = "outpaint"
    ENCDEC = "encdec"
    BLOCKCAUSAL = "blockcausal"

    @property
    def streaming(self) -> bool:
        """Generates block by block after a context window (everything but the offline model)."""
        return self is not Variant.OFFLINE

    @property
    def routed(self) -> bool:
        """Context frames enter through their own projection and attend only context (encoded once per
        block and kept as keys/values): the variants a model package holds and a host runs."""
        return self in (Variant.ENCDEC, Variant.BLOCKCAUSAL)

    @property
    def incremental(self) -> bool:
        """A context block's keys never change once written: only the new block is encoded, and a
        stream can start from an empty cache."""
        return self is Variant.BLOCKCAUSAL


VARIANTS = tuple(v.value for v in Variant)
