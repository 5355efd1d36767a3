"""A diffusion transformer over VAE latent frames (rectified flow), and its streaming LMDM variants.

One network serves all four variants (masks.py); they differ only in how a frame enters and what it
may attend:
- offline: every frame is noisy; full attention.
- outpaint (paper §3.2): clean context concatenated as extra input channels (zero over the target),
  full attention, every frame recomputed at every step.
- encdec / blockcausal (paper §4.1): a routing mask sends context frames through `W_c·c` and target
  frames through `W_x·x_t`; context frames are modulated as clean (t = 0), so nothing the context
  computes depends on the noise level, and the attention mask keeps it from the target.
The fine-tuned variants add only the context projection to the offline weights (initialised from
W_x: the network already reads a clean latent as x_t at t = 0).

Conditioning: the timestep through adaLN-zero (per token, so context and target can sit at different
noise levels); text as a few tokens projected from a sentence embedding, read by cross-attention
(keys and values per prompt, cacheable; no positions); sketch controls per frame (loudness,
brightness, pitch) added to the input: loudness and brightness each through a small projection of
(value, present), pitch as sinusoids of its MIDI value (`SinusoidalPitch`), because a pitch change is
not a small linear change of the latents (a semitone moves every harmonic) and a z-scored scalar
through an MLP was measured to be ignored (docs/lmdm.md, "Levers").
Positions are rotary and enter only as differences, so a key cached at absolute frame p stays valid
however the window slides.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .variants import VARIANTS, Variant

KV = tuple[torch.Tensor, torch.Tensor]  # keys, values: (B, heads, T, head_dim)
PITCH_FEATURES = ("sinusoidal", "scalar")


@dataclass(frozen=True)
class DiTConfig:
    latent_dim: int = 32  # the VAE's latent channels
    width: int = 256
    layers: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384  # all-MiniLM-L6-v2 sentence embeddings
    text_tokens: int = 2  # tokens the sentence embedding is projected to
    controls: tuple[str, ...] = ("loudness", "brightness", "pitch")
    control_hidden: int = 64
    pitch_features: str = "sinusoidal"  # "sinusoidal" | "scalar" (the first models' z-score through an MLP)
    pitch_unit_semitones: float = 1.0  # semitones per unit of the pitch control (its z-score's std)
    rope_base: float = 10_000.0
    variant: str = "offline"

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; expected one of {VARIANTS}")
        if self.pitch_features not in PITCH_FEATURES:
            raise ValueError(f"unknown pitch_features {self.pitch_features!r}; expected one of {PITCH_FEATURES}")
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError("width / heads must be an even integer (rotary pairs)")

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


def tiny_config(**overrides) -> DiTConfig:
    """Tests: the same structure in a few thousand parameters."""
    return DiTConfig(**({"width": 32, "layers": 2, "heads": 2, "text_tokens": 1, "control_hidden": 8} | overrides))


def small_config(**overrides) -> DiTConfig:
    """This CPU: ~10 M parameters streams in real time on 2 cores with CFG (a 9.6 M-parameter step, CFG batch 2, 16 frames: 2.85 ms in ONNX Runtime)."""
    return DiTConfig(**overrides)


def base_config(**overrides) -> DiTConfig:
    """GPUs: ~60 M parameters."""
    return DiTConfig(**({"width": 512, "layers": 16, "heads": 8} | overrides))


CONFIGS = {"tiny": tiny_config, "small": small_config, "base": base_config}


# ----------------------------------------------------------------------------- embeddings


def timestep_features(t: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (scaled by 1000 as in DiT), (B,) -> (B, dim)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t[:, None].float() * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:  # (B,) -> (B, W)
        return self.mlp(timestep_features(t))


def _control_mlp(inputs: int, config: DiTConfig) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, config.control_hidden), nn.SiLU(), nn.Linear(config.control_hidden, config.width))


class SinusoidalPitch(nn.Module):
    """Pitch as sin/cos of 2π·MIDI/P over 16 periods P = 12·√2^(k−9): 0.53 to 96 semitones, the octave
    (12) and its multiples among them. Every semitone moves the short periods' phases far, so pitch
    reaches the network as a large, nearly orthogonal change, and the octave's phase is the pitch class.
    A pitch's absolute phase offset (the z-score's mean) is a fixed rotation of each sin/cos pair, which
    the first linear layer absorbs, so the features are computed from the z-score scaled to semitones."""

    PERIODS = 16

    def __init__(self, config: DiTConfig):
        super().__init__()
        periods = 12.0 * 2.0 ** ((torch.arange(self.PERIODS, dtype=torch.float32) - 9) / 2)
        # derived from the config, not trained: not saved with the weights
        self.register_buffer("frequencies", 2 * math.pi * config.pitch_unit_semitones / periods, persistent=False)
        self.mlp = _control_mlp(2 * self.PERIODS + 1, config)

    def forward(self, value: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """value, present (B, T) -> (B, T, W); unvoiced frames (present 0) give the features of 'no pitch'."""
        angles = value[..., None] * self.frequencies  # (B, T, P)
        present = present[..., None]
        return self.mlp(torch.cat([torch.sin(angles) * present, torch.cos(angles) * present, present], dim=-1))


class ControlEmbedding(nn.Module):
    """One small MLP per control over (value x present, present): absent and zero stay distinguishable.
    Pitch (the last control) through SinusoidalPitch unless the config asks for the scalar form."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        sinusoidal = config.pitch_features == "sinusoidal" and config.controls[-1] == "pitch"
        scalar_controls = len(config.controls) - (1 if sinusoidal else 0)
        self.projections = nn.ModuleList(_control_mlp(2, config) for _ in range(scalar_controls))
        self.pitch = SinusoidalPitch(config) if sinusoidal else None

    def forward(self, values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """values, present: (B, T, controls) normalised values and 0/1 flags -> (B, T, W)."""
        present = present.to(values.dtype)
        h = sum(projection(torch.stack([values[..., i] * present[..., i], present[..., i]], dim=-1))
                for i, projection in enumerate(self.projections))
        if self.pitch is not None:
            h = h + self.pitch(values[..., -1] * present[..., -1], present[..., -1])
        return h


def rotary_tables(positions: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (T, head_dim / 2) of frame positions: pair i turns by position * base^(-2i/head_dim)."""
    half = head_dim // 2
    frequencies = base ** (-torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.to(torch.float32)[:, None] * frequencies[None]
    return torch.cos(angles), torch.sin(angles)


def rotary(x: torch.Tensor, tables: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate (B, H, T, Dh) by rotary_tables of its frames: pairs (i, i + Dh/2)."""
    cos, sin = tables
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


# ----------------------------------------------------------------------------- transformer


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention; in float32 under CPU autocast, where its bfloat16 backward costs more
    than float32's (a training step: 0.73 s against 0.85 s with bfloat16 attention, 2 cores with AMX)."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class Block(nn.Module):
    """adaLN-zero transformer block: masked self-attention over frames, cross-attention to text, MLP."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        w, self.heads = config.width, config.heads
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(w, 3 * w)
        self.attention_out = nn.Linear(w, w)
        self.norm_cross = nn.LayerNorm(w, eps=1e-6)
        self.cross_q = nn.Linear(w, w)
        self.cross_kv = nn.Linear(w, 2 * w)
        self.cross_out = nn.Linear(w, w)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        hidden = int(w * config.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(w, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, w))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(w, 6 * w))

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, W) -> (B, H, T, Dh)
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def text_kv(self, text: torch.Tensor) -> KV:
        """Cross-attention keys and values of the text tokens (B, P, W): depend on the prompt only."""
        k, v = self.cross_kv(text).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(self, x: torch.Tensor, modulation: torch.Tensor, rotation: tuple[torch.Tensor, torch.Tensor],
                text: KV, mask: torch.Tensor | None, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        """x (B, T, W) new frames; modulation (B, T or 1, 6W); rotation: rotary_tables of the frames;
        past: cached keys/values the frames also attend; the mask is over (T, past + T) keys.
        Returns the frames and their own (rotated) keys and values."""
        shift1, scale1, gate1, shift2, scale2, gate2 = modulation.chunk(6, dim=-1)
        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).chunk(3, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)
        q, k = rotary(q, rotation), rotary(k, rotation)
        keys, values = (k, v) if past is None else (torch.cat([past[0], k], 2), torch.cat([past[1], v], 2))
        attended = attention(q, keys, values, mask)  # (B, H, T, Dh)
        x = x + gate1 * self.attention_out(attended.transpose(1, 2).flatten(2))
        cross = attention(self._split(self.cross_q(self.norm_cross(x))), *text)
        x = x + self.cross_out(cross.transpose(1, 2).flatten(2))
        x = x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return x, (k, v)


class DiT(nn.Module):
    """Velocity network v(x_t, t | context, text, controls) over latent frames."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.noisy_in = nn.Linear(config.latent_dim, w)  # W_x
        if Variant(config.variant) is Variant.OUTPAINT:
            self.context_channels_in = nn.Linear(config.latent_dim, w, bias=False)  # extra input channels
        elif Variant(config.variant).streaming:
            self.context_in = nn.Linear(config.latent_dim, w)  # W_c, the routed context projection
        self.time = TimestepEmbedding(w)
        self.controls = ControlEmbedding(config)
        self.text_in = nn.Linear(config.text_dim, config.text_tokens * w)
        self.null_text = nn.Parameter(torch.zeros(config.text_tokens, w))  # the unconditional prompt (CFG)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm_out = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.modulation_out = nn.Sequential(nn.SiLU(), nn.Linear(w, 2 * w))
        self.out = nn.Linear(w, config.latent_dim)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """adaLN-zero: every block starts as the identity and the output at zero (DiT §3.2)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.time.mlp[0].weight, std=0.02)
        nn.init.normal_(self.time.mlp[2].weight, std=0.02)
        nn.init.normal_(self.null_text, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.modulation[1].weight)
            nn.init.zeros_(block.modulation[1].bias)
            nn.init.zeros_(block.cross_out.weight)
        for layer in (self.modulation_out[1], self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.controls.pitch is not None:  # a model fine-tuned into this pitch input starts as without it
            nn.init.zeros_(self.controls.pitch.mlp[2].weight)
        if hasattr(self, "context_channels_in"):
            nn.init.zeros_(self.context_channels_in.weight)

    def init_context_from_noisy(self) -> None:
        """Fine-tuning start: W_c = W_x (a clean latent is x_t at t = 0, which the offline model knows)."""
        with torch.no_grad():
            self.context_in.weight.copy_(self.noisy_in.weight)
            self.context_in.bias.copy_(self.noisy_in.bias)

    # ------------------------------------------------------------------------- pieces streaming reuses

    def text_tokens(self, embedding: torch.Tensor | None, batch: int, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Sentence embeddings (B, text_dim), or None for the unconditional prompt -> (B, P, W).
        keep (B,) bool: False swaps in the unconditional prompt (caption dropout for CFG)."""
        null = self.null_text.expand(batch, -1, -1)
        if embedding is None:
            return null
        tokens = self.text_in(embedding).unflatten(-1, (self.config.text_tokens, self.config.width))
        return tokens if keep is None else torch.where(keep[:, None, None], tokens, null)

    def text_kv(self, tokens: torch.Tensor) -> list[KV]:
        return [block.text_kv(tokens) for block in self.blocks]

    def frame_inputs(self, noisy: torch.Tensor | None, clean: torch.Tensor | None, is_context: torch.Tensor,
                     control_values: torch.Tensor, control_present: torch.Tensor) -> torch.Tensor:
        """Input projection of frames (B, T, D) -> (B, T, W). Routed variants: context frames read `clean`
        through W_c, target frames `noisy` through W_x (either may be None when no frame needs it)."""
        h = self.controls(control_values, control_present)
        route = per_frame(is_context).to(h.dtype)  # (1 or B, T, 1)
        if not Variant(self.config.variant).routed:
            h = h + self.noisy_in(noisy)
            if Variant(self.config.variant) is Variant.OUTPAINT:
                h = h + self.context_channels_in(clean * route)
            return h
        if clean is not None:
            h = h + route * self.context_in(clean)
        if noisy is not None:
            h = h + (1 - route) * self.noisy_in(noisy)
        return h

    def time_modulations(self, t: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """adaLN parameters of every frame at time t (B,): per layer (B, 1, 6W), output layer (B, 1, 2W).
        They depend on t alone, so a sampler computes them once per time of its grid."""
        condition = self.time(t)
        return ([block.modulation(condition)[:, None] for block in self.blocks],
                self.modulation_out(condition)[:, None])

    def modulations(self, t: torch.Tensor, is_context: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per-layer adaLN parameters per frame (B, T, 6W), and the output layer's (B, T, 2W).
        Routed variants modulate context frames as clean (t = 0) so their keys ignore the noise level."""
        noisy = self.time_modulations(t)
        if not Variant(self.config.variant).routed:
            return noisy
        clean = self.time_modulations(torch.zeros_like(t))
        select = lambda c, n: torch.where(per_frame(is_context), c, n)
        return [select(c, n) for c, n in zip(clean[0], noisy[0])], select(clean[1], noisy[1])

    def run_blocks(self, h: torch.Tensor, modulations: list[torch.Tensor], positions: torch.Tensor,
                   text: list[KV], mask: torch.Tensor | None, past: list[KV] | None = None
                   ) -> tuple[torch.Tensor, list[KV]]:
        rotation = rotary_tables(positions, self.config.head_dim, self.config.rope_base)
        new_kv = []
        for index, block in enumerate(self.blocks):
            h, kv = block(h, modulations[index], rotation, text[index], mask, None if past is None else past[index])
            new_kv.append(kv)
        return h, new_kv

    def velocity_out(self, h: torch.Tensor, modulation: torch.Tensor) -> torch.Tensor:
        shift, scale = modulation.chunk(2, dim=-1)
        return self.out(modulate(self.norm_out(h), shift, scale))

    # ------------------------------------------------------------------------- the whole window

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, control_values: torch.Tensor,
                control_present: torch.Tensor, text: torch.Tensor | None, clean: torch.Tensor | None = None,
                is_context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                positions: torch.Tensor | None = None, keep_text: torch.Tensor | None = None) -> torch.Tensor:
        """One masked pass over a window of frames: noisy (B, T, D), t (B,), controls (B, T, C),
        text (B, text_dim) or None (unconditional), clean (B, T, D) context latents (zeros over the
        target), is_context (T,) or per example (B, T) bool, mask (T, T) bool, keep_text (B,) bool
        (caption dropout).
        Returns the velocity (B, T, D)."""
        batch, frames = noisy.shape[:2]
        if is_context is None:
            is_context = torch.zeros(frames, dtype=torch.bool, device=noisy.device)
        if positions is None:
            positions = torch.arange(frames, device=noisy.device)
        h = self.frame_inputs(noisy, clean, is_context, control_values, control_present)
        modulations, out_modulation = self.modulations(t, is_context)
        text_kv = self.text_kv(self.text_tokens(text, batch, keep_text))
        h, _ = self.run_blocks(h, modulations, positions, text_kv, mask)
        return self.velocity_out(h, out_modulation)


def per_frame(is_context: torch.Tensor) -> torch.Tensor:
    """is_context (T,) for the whole batch or (B, T) per example -> (1 or B, T, 1), to select per frame."""
    return (is_context[None] if is_context.ndim == 1 else is_context)[..., None]
