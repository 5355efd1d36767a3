"""Self-attention masks of the DiT variants over one window of frames: [context frames | target frames].

True = the query (row) may attend the key (column). (Text enters through cross-attention, which no
mask restricts: its keys and values depend on the prompt alone and are cached per prompt.)

- offline / outpaint: everything attends everything (outpaint carries its context as input channels).
- encdec (paper §4.1): context attends text + context; target attends everything. The context no
  longer depends on the target or the noise level, so it is encoded once per block (a KV producer)
  and read by every denoising step (the KV consumer).
- blockcausal: as encdec, and a context block attends only itself and the blocks before it, at most
  `window_frames` frames back (a sliding window), and the target only the last `window_frames`
  context frames. A block's keys then never change once written: after each generated block only
  that block is encoded and appended to a rolling cache of `window_frames` frames. Training windows
  that carry extra history before the last `window_frames` frames give every cached block the
  history it had when it was encoded at inference. Block boundaries are counted from the *end* of the
  context (the frames just before the target), so they fall where the streaming cache appends blocks.
"""

import torch

from .variants import VARIANTS, Variant


def window_mask(variant: str, context_frames: int, target_frames: int, block_frames: int | None = None,
                window_frames: int | None = None) -> torch.Tensor:
    """(T, T) boolean mask, T = context_frames + target_frames.

    blockcausal only: block_frames (default target_frames) and window_frames (default: all context)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    mask = torch.ones(context_frames + target_frames, context_frames + target_frames, dtype=torch.bool)
    if not Variant(variant).routed:
        return mask
    context = slice(0, context_frames)
    mask[context, context_frames:] = False  # the context never sees the target
    if Variant(variant).incremental and context_frames:
        block = block_frames or target_frames
        window = window_frames or context_frames
        if window % block:
            raise ValueError(f"the context window ({window}) must be a whole number of blocks ({block})")
        blocks = context_block_index(context_frames, block)
        behind = blocks[:, None] - blocks[None, :]  # how many blocks the key lies before the query
        mask[context, context] = (behind >= 0) & (behind < window // block)
        too_old = torch.arange(context_frames) < context_frames - window
        mask[context_frames:, :context_frames][:, too_old] = False
    return mask


def context_block_index(context_frames: int, block_frames: int) -> torch.Tensor:
    """Block number of each context frame, counted back from the end: the last block_frames frames share
    the highest number. A partial block at the start (context not a multiple of the block) is block 0."""
    from_end = torch.arange(context_frames - 1, -1, -1) // block_frames  # 0 for the newest block
    return from_end.max() - from_end
