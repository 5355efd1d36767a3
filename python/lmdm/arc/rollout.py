"""A streaming LMDM rolled out over several blocks with its KV cache, differentiably (Self-Forcing).

The generator of ARC-Forcing: from a real prefix (all of it, part of it, or none visible: context
dropout, as a stream starts), each of `chunks` blocks is sampled by ping-pong (lmdm.dit.flow) with a
random number of steps from 1 to `max_steps`, the same for the batch; only the last step of a block
carries gradient (the earlier ones only set where it starts), and the clean block, detached, is
encoded into the cache that the next block reads, as the streaming engine does (blockcausal: the
block appended to the cache; encdec: the last C frames re-encoded before each block). What the
discriminator then judges is every block of the rollout at once, so the loss spans blocks.

The cache is a plain list of per-layer keys and values with a per-example validity mask (hidden
prefix frames are invalid); attention reads at most the last `context_frames` frames (the target) or
`context_frames - block_frames` (a new block being encoded), exactly the windows of
lmdm.streaming.torch_streamer.Streamer and the C++ KvRing.
"""

from dataclasses import dataclass

import torch

from ..dit.flow import solve, time_grid
from ..dit.masks import window_mask
from ..dit.model import KV, DiT
from ..dit.variants import Variant


@dataclass
class RolloutCache:
    layers: list[KV]  # per layer (N, heads, frames, head_dim), rotated by absolute position
    valid: torch.Tensor  # (N, frames) bool: frames later frames may attend

    def last(self, frames: int) -> tuple[list[KV], torch.Tensor]:
        return [(k[:, :, -frames:], v[:, :, -frames:]) for k, v in self.layers], self.valid[:, -frames:]

    def extend(self, kv: list[KV], valid: torch.Tensor) -> "RolloutCache":
        layers = [(torch.cat([k, new_k], 2), torch.cat([v, new_v], 2))
                  for (k, v), (new_k, new_v) in zip(self.layers, kv)]
        return RolloutCache(layers, torch.cat([self.valid, valid], 1))


def visible_prefix(batch: int, prefix_frames: int, block_frames: int, no_context: float, partial: float,
                   generator: torch.Generator) -> torch.Tensor:
    """(N, P) bool: which prefix frames a rollout may see. With probability `no_context` none (a stream's
    start), with `partial` only the newest 1..P/B - 1 blocks, else all."""
    draw = torch.rand(batch, generator=generator)
    blocks = torch.randint(1, max(2, prefix_frames // block_frames), (batch,), generator=generator)
    first = torch.where(draw < no_context, torch.full_like(blocks, prefix_frames),
                        torch.where(draw < no_context + partial, prefix_frames - blocks * block_frames,
                                    torch.zeros_like(blocks)))
    return torch.arange(prefix_frames)[None, :] >= first[:, None]


def encode_context(model: DiT, latents: torch.Tensor, values: torch.Tensor, present: torch.Tensor, text: list[KV],
                   visible: torch.Tensor, block_frames: int, context_frames: int, first: int = 0) -> RolloutCache:
    """Keys and values of clean context frames (N, P, D) starting at absolute frame `first`, under the
    model's own context mask (blockcausal: block by block; encdec: all of it at once), visible or
    hidden per example (N, P): hidden frames are attended by nobody but themselves, as in training's
    context dropout."""
    batch, frames = latents.shape[:2]
    device = latents.device
    own = window_mask(model.config.variant, frames, 0, block_frames, context_frames).to(device)
    eye = torch.eye(frames, dtype=torch.bool, device=device)
    mask = (own[None] & visible[:, None, :]) | eye[None]
    h = model.frame_inputs(None, latents, torch.ones(frames, dtype=torch.bool, device=device), values, present)
    modulations, _ = model.time_modulations(torch.zeros(batch, device=device))
    _, kv = model.run_blocks(h, modulations, torch.arange(first, first + frames, device=device), text, mask[:, None])
    return RolloutCache(kv, visible)


def cache_mask(valid: torch.Tensor, frames: int) -> torch.Tensor:
    """(N, 1, F, P + F): new frames attend the cache's valid frames and each other."""
    batch = valid.shape[0]
    own = torch.ones(batch, frames, frames, dtype=torch.bool, device=valid.device)
    return torch.cat([valid[:, None, :].expand(-1, frames, -1), own], 2)[:, None]


def append_block(model: DiT, cache: RolloutCache, block: torch.Tensor, values: torch.Tensor, present: torch.Tensor,
                 text: list[KV], first: int, context_frames: int) -> RolloutCache:
    """Encode a clean block (N, B, D) at absolute frame `first` against the cache's last C - B frames."""
    batch, frames = block.shape[:2]
    device = block.device
    past, valid = cache.last(context_frames - frames)
    h = model.frame_inputs(None, block, torch.ones(frames, dtype=torch.bool, device=device), values, present)
    modulations, _ = model.time_modulations(torch.zeros(batch, device=device))
    _, kv = model.run_blocks(h, modulations, torch.arange(first, first + frames, device=device), text,
                             cache_mask(valid, frames), past)
    return cache.extend(kv, torch.ones(batch, frames, dtype=torch.bool, device=device))


def velocity(model: DiT, cache: RolloutCache, noisy: torch.Tensor, t: float, values: torch.Tensor,
             present: torch.Tensor, text: list[KV], first: int, context_frames: int) -> torch.Tensor:
    """The velocity of a noisy block (N, B, D) at time t, reading the cache's last C frames."""
    batch, frames = noisy.shape[:2]
    device = noisy.device
    past, valid = cache.last(context_frames)
    h = model.frame_inputs(noisy, None, torch.zeros(frames, dtype=torch.bool, device=device), values, present)
    modulations, out_modulation = model.time_modulations(torch.full((batch,), t, device=device))
    h, _ = model.run_blocks(h, modulations, torch.arange(first, first + frames, device=device), text,
                            cache_mask(valid, frames), past)
    return model.velocity_out(h, out_modulation).float()


def roll_out(model: DiT, prefix: torch.Tensor, visible: torch.Tensor, values: torch.Tensor, present: torch.Tensor,
             text: torch.Tensor, chunks: int, block_frames: int, context_frames: int, max_steps: int,
             generator: torch.Generator) -> tuple[torch.Tensor, list[int]]:
    """Generate `chunks` blocks after a prefix (N, P, D) with per-frame visibility (N, P); values and
    present (N, P + chunks*B, 3) cover prefix and rollout, text (N, text_dim) sentence embeddings.
    Returns the rollout (N, chunks*B, D), differentiable through each block's last step, and the
    steps each block took."""
    batch, prefix_frames, dim = prefix.shape
    device = prefix.device
    incremental = Variant(model.config.variant).incremental
    text_kv = model.text_kv(model.text_tokens(text, batch))
    history, history_visible = prefix, visible  # encdec: the clean frames its context window slides over
    if incremental:
        with torch.no_grad():
            cache = encode_context(model, prefix, values[:, :prefix_frames], present[:, :prefix_frames], text_kv,
                                   visible, block_frames, context_frames)
    blocks, steps_taken = [], []
    for chunk in range(chunks):
        first = prefix_frames + chunk * block_frames
        controls = values[:, first:first + block_frames], present[:, first:first + block_frames]
        if not incremental:  # encdec re-encodes its last C frames before every block, as the engine does
            start = max(0, first - context_frames)
            with torch.no_grad():
                cache = encode_context(model, history[:, start:], values[:, start:first], present[:, start:first],
                                       text_kv, history_visible[:, start:], block_frames, context_frames, start)
        steps = int(torch.randint(1, max_steps + 1, (1,), generator=generator))
        grid = time_grid(steps)
        x = torch.randn(batch, block_frames, dim, generator=generator).to(device)
        with torch.no_grad():  # ping-pong down to the last step's time, which alone carries gradient
            x = solve(lambda noisy, t: velocity(model, cache, noisy, t, *controls, text_kv, first, context_frames),
                      x, grid[:-1], "pingpong", lambda: torch.randn(x.shape, generator=generator).to(device))
        t = grid[-2]
        block = x - t * velocity(model, cache, x, t, *controls, text_kv, first, context_frames)
        blocks.append(block)
        steps_taken.append(steps)
        if chunk + 1 < chunks and incremental:
            with torch.no_grad():
                cache = append_block(model, cache, block.detach(), *controls, text_kv, first, context_frames)
        elif chunk + 1 < chunks:
            history = torch.cat([history, block.detach()], 1)
            history_visible = torch.cat([history_visible, torch.ones(batch, block_frames, dtype=torch.bool,
                                                                     device=device)], 1)
    return torch.cat(blocks, 1), steps_taken
