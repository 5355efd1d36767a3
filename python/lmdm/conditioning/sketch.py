"""Sketch controls as the DiT reads them: normalised values and present flags, and the training corruptions.

Raw features (lmdm.conditioning.controls, per latent frame): loudness dB, brightness (centroid, MIDI), pitch (MIDI),
pitch confidence. The model gets three controls, each as (value, present): z-scored loudness,
brightness and pitch with statistics of the train split; pitch is present only where voiced.
Training drops each control per example (so any subset can drive generation) and median-filters it
with a random width (so a coarse gesture works as well as a precise one), after Sketch2Sound.
"""

import math

import numpy as np
import torch

SKETCH_CONTROLS = ("loudness", "brightness", "pitch")
STAT_KEYS = ("loudness_db", "brightness", "pitch_midi")
VOICED = 0.5  # swift-f0's calibrated confidence threshold (lmdm.conditioning.controls)


def normalise(raw: torch.Tensor, stats: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """raw (..., T, 4) -> values (..., T, 3), present (..., T, 3)."""
    means = torch.tensor([stats[k]["mean"] for k in STAT_KEYS], dtype=raw.dtype, device=raw.device)
    stds = torch.tensor([stats[k]["std"] for k in STAT_KEYS], dtype=raw.dtype, device=raw.device)
    values = (raw[..., :3] - means) / stds
    present = torch.ones_like(values)
    present[..., 2] = (raw[..., 3] >= VOICED).to(raw.dtype)
    return values * present, present


def silence_controls(stats: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, present), (3,) each: the controls lmdm.conditioning.controls gives digital silence (loudness at its
    floor, brightness at its lowest, unvoiced), normalised."""
    from .controls import ControlConfig  # lazily, as sketch_from_audio: controls pulls in onnxruntime

    c = ControlConfig()
    darkest = 69.0 + 12.0 * math.log2(c.brightness_min_hz / 440.0)
    raw = torch.tensor([[c.loudness_floor_db, darkest, c.unvoiced_pitch_midi, 0.0]])
    values, present = normalise(raw, stats)
    return values[0], present[0]


def median_smooth(values: torch.Tensor, width: int) -> torch.Tensor:
    """Median filter along time (dim -2) of (..., T, C), edges replicated; width 1 returns values."""
    if width <= 1:
        return values
    half = width // 2
    padded = torch.cat([values[..., :1, :].expand(*values.shape[:-2], half, values.shape[-1]), values,
                        values[..., -1:, :].expand(*values.shape[:-2], half, values.shape[-1])], dim=-2)
    return padded.unfold(-2, width, 1).median(dim=-1).values


def corrupt_for_training(values: torch.Tensor, present: torch.Tensor, generator: torch.Generator,
                         dropout: float, widths: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example and control: drop with probability `dropout`, else median-smooth with a random width.
    values, present: (B, T, 3)."""
    values, present = values.clone(), present.clone()
    batch, _, controls = values.shape
    keep = torch.rand(batch, controls, generator=generator) >= dropout
    choice = torch.randint(len(widths), (batch, controls), generator=generator)
    for b in range(batch):
        for c in range(controls):
            width = widths[int(choice[b, c])]
            if width > 1:  # smooth the value where present; presence itself is smoothed by majority
                values[b, :, c:c + 1] = median_smooth(values[b, :, c:c + 1], width)
                present[b, :, c:c + 1] = median_smooth(present[b, :, c:c + 1], width)
    present = present * keep[:, None, :].to(present.dtype)
    return values * present, present


def sketch_from_audio(audio: np.ndarray, stats: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Mono audio at the model rate -> (values, present), (frames, 3), one frame per latent."""
    from .controls import ControlConfig, compute_controls

    raw = torch.from_numpy(compute_controls(audio)[: len(audio) // ControlConfig().hop])
    return normalise(raw, stats)
