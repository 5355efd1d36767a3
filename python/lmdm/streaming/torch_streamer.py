"""Block-by-block generation with the streaming variants, KV-cached or (as a reference) uncached.

Each block: draw noise for B target frames, integrate the flow over S steps (Euler or Heun, or sample
by ping-pong, which draws fresh noise per step after the block's; classifier-free guidance batched
cond/uncond), append the block to the context, slide the window. The
unconditional row has no prompt and, by default, no sketch controls either, so guidance strengthens
the player's loudness, brightness and pitch as well as the prompt (`guidance_drops_controls`).
- outpaint: every step is one pass over C + B frames (context re-noised to the step's t, as in §3.2).
- encdec: the last C context frames are encoded once per block into the KVCache; each step runs only
  the B target frames against it.
- blockcausal: only the newest block is encoded and appended to the ring of C frames, once per block.
`cached=False` computes the same numbers with full masked passes over the window (encdec) or the whole
history (blockcausal): the definition the cached path must equal.
"""

from dataclasses import dataclass

import torch

from ..dit.flow import solve, time_grid
from ..dit.masks import window_mask
from ..dit.model import KV, DiT
from ..dit.variants import Variant
from .kv_cache import KVCache


@dataclass(frozen=True)
class StreamConfig:
    """How a stream runs, and the one source of its defaults: training, generation, evaluation and the
    export take C, B, the steps and the guidance from here (as class attributes) unless told otherwise."""

    context_frames: int = 64  # C: 1.5 s of latents
    block_frames: int = 16  # B: 0.37 s, the delay a musician hears is about one block plus compute
    steps: int = 8  # S
    solver: str = "euler"  # or "heun"; "pingpong" for ARC-Forcing's few-step models (lmdm.dit.flow)
    time_shift: float = 1.0
    guidance: float = 2.0  # CFG scale (the packages' default); 1 = conditional only (one pass instead of two)
    seed: int = 0
    # The unconditional row lacks the controls too, not only the prompt: on 16 test-split sketches
    # (6 s, CFG 2, model v3) loudness r 0.64 -> 0.75, brightness r 0.52 -> 0.73, pitch within a
    # semitone 0.66 -> 0.70. False: the first packages' text-only guidance.
    guidance_drops_controls: bool = True

    def guided(self, conditional, unconditional):
        """Classifier-free guidance: the unconditional velocity moved `guidance` times the way the
        conditional one differs from it (torch tensors or numpy arrays alike)."""
        return unconditional + self.guidance * (conditional - unconditional)


class Streamer:
    def __init__(self, model: DiT, config: StreamConfig, cached: bool = True):
        if not Variant(model.config.variant).streaming:
            raise ValueError(f"a {model.config.variant} model cannot stream; fine-tune a streaming variant")
        self.model, self.config, self.cached = model.eval(), config, cached
        self.variant = Variant(model.config.variant)
        self.batch = 1 if config.guidance == 1.0 else 2  # [cond, uncond]
        self.grid = time_grid(config.steps, config.time_shift)
        m = model.config
        dtype = next(model.parameters()).dtype
        self.cache = KVCache(m.layers, self.batch, m.heads, config.context_frames, m.head_dim, dtype)
        self.generator = torch.Generator().manual_seed(config.seed)
        with torch.no_grad():  # adaLN depends on t alone: once per time of the grid, and t = 0 for the context
            times = sorted(set(self.grid) | {0.0})
            self.time_modulations = {t: model.time_modulations(torch.full((self.batch,), t)) for t in times}
        self.set_prompt(None)

    # ------------------------------------------------------------------------- state

    @torch.no_grad()
    def set_prompt(self, embedding: torch.Tensor | None) -> None:
        """A sentence embedding (text_dim,) or None; takes effect from the next block."""
        conditional = self.model.text_tokens(None if embedding is None else embedding[None], 1)
        tokens = conditional if self.batch == 1 else torch.cat([conditional, self.model.text_tokens(None, 1)])
        self.text: list[KV] = self.model.text_kv(tokens)

    @torch.no_grad()
    def start(self, latents: torch.Tensor, control_values: torch.Tensor, control_present: torch.Tensor) -> None:
        """Begin a stream from C frames of context (C, D) and their controls (C, n), or from none
        (blockcausal fine-tuned with context dropout: the first block sees only the controls and prompt)."""
        c = self.config
        if latents.shape[0] not in ((c.context_frames, 0) if self.variant.incremental else (c.context_frames,)):
            raise ValueError(f"a {self.variant.value} stream starts from {c.context_frames} context frames, got {latents.shape[0]}")
        self.latents, self.values, self.present = latents.clone(), control_values.clone(), control_present.clone()
        self.position = c.context_frames  # absolute frame index of the next target frame
        if self.cached and self.variant.incremental:
            self.cache.reset()
            if latents.shape[0]:
                self.cache.append(self._encode_context(latents, control_values, control_present, first=0))

    @torch.no_grad()
    def next_block(self, control_values: torch.Tensor, control_present: torch.Tensor) -> torch.Tensor:
        """Generate B frames (B, D) following these controls (B, n); they become context afterwards."""
        c = self.config
        noise = torch.randn(c.block_frames, self.model.config.latent_dim, generator=self.generator)
        if not self.variant.routed:  # outpaint: the context is input channels, recomputed every step
            context_noise = torch.randn(c.context_frames, self.model.config.latent_dim, generator=self.generator)
            velocity = lambda x, t: self._outpaint_velocity(x, t, context_noise, control_values, control_present)
        elif self.cached:
            if not self.variant.incremental:  # encdec re-encodes its whole context window per block
                self.cache.prefill(self._encode_context(*self._window(), first=self.position - c.context_frames))
            velocity = lambda x, t: self._cached_velocity(x, t, control_values, control_present)
        else:
            velocity = lambda x, t: self._reference_velocity(x, t, control_values, control_present)
        fresh = lambda: torch.randn(c.block_frames, self.model.config.latent_dim, generator=self.generator)
        block = solve(velocity, noise, self.grid, c.solver, fresh)
        self._remember(block, control_values, control_present)
        return block

    def _window(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config.context_frames
        return self.latents[-c:], self.values[-c:], self.present[-c:]

    def _remember(self, block: torch.Tensor, values: torch.Tensor, present: torch.Tensor) -> None:
        self.latents = torch.cat([self.latents, block])
        self.values, self.present = torch.cat([self.values, values]), torch.cat([self.present, present])
        if self.cached and self.variant.incremental:
            self.cache.slide(max(0, self.cache.length + block.shape[0] - self.cache.capacity))
            self.cache.append(self._encode_context(block, values, present, self.position))
        self.position += block.shape[0]
        if not (self.variant.incremental and not self.cached):  # only that reference needs all history
            keep = self.config.context_frames
            self.latents, self.values, self.present = self.latents[-keep:], self.values[-keep:], self.present[-keep:]

    # ------------------------------------------------------------------------- model calls

    def _batched(self, x: torch.Tensor) -> torch.Tensor:
        return x[None].expand(self.batch, *x.shape)

    def _controls(self, x: torch.Tensor) -> torch.Tensor:
        """Control values or present flags (T, K) per batch row: the unconditional row's are absent
        (zeros) where guidance drops the controls."""
        batched = self._batched(x)
        if self.batch == 2 and self.config.guidance_drops_controls:
            batched = torch.stack([x, torch.zeros_like(x)])
        return batched

    def _guided(self, v: torch.Tensor) -> torch.Tensor:
        if self.batch == 1:
            return v[0]
        return self.config.guided(v[0], v[1])

    def _encode_context(self, latents, values, present, first: int) -> list[KV]:
        """Keys and values of context frames; they attend the cache's valid frames and (block-causally) each other."""
        frames = latents.shape[0]
        is_context = torch.ones(frames, dtype=torch.bool)
        h = self.model.frame_inputs(None, self._batched(latents), is_context, self._controls(values),
                                    self._controls(present))
        modulations, _ = self.time_modulations[0.0]
        positions = torch.arange(first, first + frames)
        own = window_mask(self.variant, frames, 0, self.config.block_frames, self.config.context_frames)
        if self.variant.incremental and self.cache.length:
            mask = torch.cat([self.cache.valid()[None].expand(frames, -1), own], dim=1)
            _, kv = self.model.run_blocks(h, modulations, positions, self.text, mask, self.cache.layers())
        else:
            _, kv = self.model.run_blocks(h, modulations, positions, self.text, own)
        return kv

    def _cached_velocity(self, x: torch.Tensor, t: float, values, present) -> torch.Tensor:
        frames = x.shape[0]
        is_context = torch.zeros(frames, dtype=torch.bool)
        h = self.model.frame_inputs(self._batched(x), None, is_context, self._controls(values), self._controls(present))
        modulations, out_modulation = self.time_modulations[t]
        mask = torch.cat([self.cache.valid()[None].expand(frames, -1), torch.ones(frames, frames, dtype=torch.bool)], 1)
        positions = torch.arange(self.position, self.position + frames)
        h, _ = self.model.run_blocks(h, modulations, positions, self.text, mask, self.cache.layers())
        return self._guided(self.model.velocity_out(h, out_modulation))

    def _full_pass(self, noisy, clean, t: float, values, present, mask, first: int) -> torch.Tensor:
        """Velocity of the last B frames from one masked pass over a whole window starting at frame `first`."""
        frames = noisy.shape[0]
        is_context = torch.arange(frames) < frames - self.config.block_frames
        h = self.model.frame_inputs(self._batched(noisy), self._batched(clean), is_context, self._controls(values),
                                    self._controls(present))
        if not self.variant.routed:  # outpaint: every frame at time t: the grid's cached modulations
            modulations, out_modulation = self.time_modulations[t]
        else:  # the reference recomputes everything, mixing clean context and noisy target per frame
            modulations, out_modulation = self.model.modulations(torch.full((self.batch,), t), is_context)
        h, _ = self.model.run_blocks(h, modulations, torch.arange(first, first + frames), self.text, mask)
        return self._guided(self.model.velocity_out(h, out_modulation))[-self.config.block_frames:]

    def _reference_velocity(self, x: torch.Tensor, t: float, values, present) -> torch.Tensor:
        context, context_values, context_present = self.latents, self.values, self.present  # all history kept
        frames = context.shape[0]
        mask = window_mask(self.variant, frames, x.shape[0], self.config.block_frames, self.config.context_frames)
        noisy = torch.cat([torch.zeros_like(context), x])
        clean = torch.cat([context, torch.zeros_like(x)])
        return self._full_pass(noisy, clean, t, torch.cat([context_values, values]),
                               torch.cat([context_present, present]), mask, self.position - frames)

    def _outpaint_velocity(self, x, t: float, context_noise, values, present) -> torch.Tensor:
        context, context_values, context_present = self._window()
        noisy = torch.cat([(1 - t) * context + t * context_noise, x])  # the context re-noised to this step's t
        clean = torch.cat([context, torch.zeros_like(x)])
        return self._full_pass(noisy, clean, t, torch.cat([context_values, values]),
                               torch.cat([context_present, present]), None, self.position - context.shape[0])
