"""The ARC-Forcing discriminator: the LMDM itself cut at a middle layer, with a small 1-D ConvNeXt head.

As in the authors' recipe (their model exits at layer 12 of 16), the discriminator starts from the
generator's own weights, so from its first step it reads latents, prompts and sketch controls the way
the generator does; it is trained with its backbone. It scores a window of latent frames re-noised
to time t (both real and generated windows with the same noise), after the real prefix the generator
saw, routed as clean context with the generator's visibility (a hidden prefix stays hidden, so a
rollout is not blamed for a context it never saw): target frames attend everything visible, context
frames only context. The head turns the backbone's frames into a score every few frames
(`strides`), so the judgement covers the whole multi-block window and where in it things go wrong.
"""

import copy

import torch
from torch import nn

from ..dit.masks import window_mask
from ..dit.model import DiT


class ConvNeXtBlock1d(nn.Module):
    """Depthwise temporal convolution, LayerNorm, pointwise MLP, residual (ConvNeXt, Liu et al. 2022)."""

    def __init__(self, channels: int, kernel: int = 7):
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(), nn.Linear(4 * channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, T)
        h = self.mlp(self.norm(self.depthwise(x).transpose(1, 2))).transpose(1, 2)
        return x + h


class ConvNeXtHead(nn.Module):
    """Backbone frames (N, T, W) -> scores (N, T / prod(strides)): stages of `blocks` ConvNeXt blocks,
    each stage entered by a strided convolution to channels x its multiplier."""

    def __init__(self, width: int, channels: int = 128, strides: tuple[int, ...] = (1, 2, 2),
                 multipliers: tuple[int, ...] = (1, 2, 4), blocks: int = 2):
        super().__init__()
        stages, previous = [], width
        for stride, multiplier in zip(strides, multipliers):
            out = channels * multiplier
            stages.append(nn.Conv1d(previous, out, kernel_size=stride, stride=stride))
            stages.extend(ConvNeXtBlock1d(out) for _ in range(blocks))
            previous = out
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(previous, eps=1e-6)
        self.score = nn.Linear(previous, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.stages(h.transpose(1, 2)).transpose(1, 2)
        return self.score(self.norm(x))[..., 0]


class Discriminator(nn.Module):
    def __init__(self, generator: DiT, exit_layer: int, head_channels: int = 128):
        super().__init__()
        if not 1 <= exit_layer <= generator.config.layers:
            raise ValueError(f"exit_layer must be within 1..{generator.config.layers}, got {exit_layer}")
        backbone = copy.deepcopy(generator)
        backbone.blocks = backbone.blocks[:exit_layer]
        del backbone.out  # the velocity head: the score head replaces it
        self.backbone = backbone.train()
        self.head = ConvNeXtHead(generator.config.width, head_channels)

    def forward(self, window: torch.Tensor, t: torch.Tensor, prefix: torch.Tensor, visible: torch.Tensor,
                values: torch.Tensor, present: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """window (N, T, D) re-noised to t (N,); prefix (N, P, D) clean, visible (N, P); values / present
        (N, P + T, 3); text (N, text_dim). Returns scores over the window, (N, T / 4)."""
        batch, prefix_frames = prefix.shape[:2]
        frames = prefix_frames + window.shape[1]
        device = window.device
        is_context = torch.arange(frames, device=device) < prefix_frames
        mask = window_mask("encdec", prefix_frames, window.shape[1]).to(device)
        keys_visible = torch.cat([visible, torch.ones(batch, window.shape[1], dtype=torch.bool, device=device)], 1)
        mask = (mask[None] & keys_visible[:, None, :]) | torch.eye(frames, dtype=torch.bool, device=device)[None]
        noisy = torch.cat([torch.zeros_like(prefix), window], 1)
        clean = torch.cat([prefix, torch.zeros_like(window)], 1)
        model = self.backbone
        h = model.frame_inputs(noisy, clean, is_context, values, present)
        modulations, _ = model.modulations(t, is_context)
        text_kv = model.text_kv(model.text_tokens(text, batch))
        h, _ = model.run_blocks(h, modulations, torch.arange(frames, device=device), text_kv, mask[:, None])
        return self.head(h[:, prefix_frames:])
