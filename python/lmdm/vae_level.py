"""python -m lmdm.vae_level: calibrate the VAE decoder's level, so that it gives back the level it gets.

    python -m lmdm.vae_level --vae models/vae --out models/vae

The shipped decoder plays quieter than its input, the more so the louder (bench/vae_level_bench.py:
-1.9 dB at -40 dBFS RMS to -7.5 dB at -6 dBFS before this calibration), and the plugin's wet inherits
that. The fix is a per-frame gain the decoder already knows how to express: its head predicts each STFT
frame's log-magnitude from a feature vector h (after the last LayerNorm), so a gain c(h) = w.h + b added
to every bin of a frame scales that frame by e^c. A least-squares fit of c on h, with target half the
log of the frame-energy ratio (input over decoded, Hann windows on the decoder's own frame grid), over
training clips encoded at several gains, is then folded into the head: weight rows of the log-magnitude
bins += w, their biases += b. The architecture, the encoder and so the latents (and the latent cache,
keyed on the encoder) do not change; only `vae_decoder.onnx` differs in its numbers.
"""

import argparse
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .cli import add_config_arguments, config_from_args
from .data.loader import ShardDataset
from .vae import VAE, load_vae, save_vae

CALIBRATION_FILE = "level_calibration.json"


@dataclass(frozen=True)
class LevelCalibrationConfig:
    vae: Path = field(default_factory=lambda: Path("models/vae"))
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    out: Path = field(default_factory=lambda: Path("models/vae"))  # may be the same folder: the weights are rewritten
    split: str = "train"
    clips: int = 60  # every `stride`-th example of the split, up to this many
    stride: int = 37
    clip_latents: int = 256  # 5.9 s
    gains_db: tuple[float, ...] = (-24.0, -12.0, -6.0, 0.0, 6.0)  # each clip at its own level plus these
    ridge: float = 10.0  # on the normal equations; the fit explains the same share from 0.1 to 10
    silence_db: float = -60.0  # frames whose input energy lies below this (re full scale) are not fitted


def frame_energies(audio: torch.Tensor, frames: int, vae: VAE) -> torch.Tensor:
    """Hann-weighted mean square of audio (N,) over the span of each decoder STFT frame: frame t
    overlap-adds onto output samples [t * hop - decoder_delay, t * hop - decoder_delay + n_fft)."""
    c = vae.config
    padded = torch.nn.functional.pad(audio.double(), (c.decoder_delay, c.n_fft))
    window = torch.hann_window(c.n_fft, dtype=torch.float64)
    return ((padded.unfold(0, c.n_fft, c.hop)[:frames] * window) ** 2).mean(1)


@torch.no_grad()
def head_features(vae: VAE, latents: torch.Tensor) -> torch.Tensor:
    """(1, D, L) latents -> (T, W): what the decoder's head sees per STFT frame (whole sequence)."""
    d = vae.decoder
    x = d.frame_blocks(d.up(d.latent_blocks(d.project(latents))))
    return d.norm(x.transpose(1, 2))[0]


@torch.no_grad()
def fit_examples(vae: VAE, clips: list[torch.Tensor], config: LevelCalibrationConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Head features (n, W) and target log-gains (n,) of every active frame of every clip at every gain."""
    features, targets = [], []
    floor = 10 ** (config.silence_db / 10) * 0.5 * 0.375  # a full-scale sine: mean square 0.5, Hann's 0.375
    for clip in clips:
        for gain in config.gains_db:
            audio = clip * 10 ** (gain / 20)
            latents, _ = vae.encode(audio[None])
            h = head_features(vae, latents)
            frames = h.shape[0]
            wanted, got = frame_energies(audio, frames, vae), frame_energies(vae.decode(latents)[0], frames, vae)
            use = (wanted > floor) & (got > 0)
            use[-(vae.config.n_fft // vae.config.hop):] = False  # the last frames miss overlap partners
            features.append(h[use].double())
            targets.append(0.5 * torch.log(wanted[use] / got[use]))
    return torch.cat(features), torch.cat(targets)


def solve(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> tuple[torch.Tensor, float, float]:
    """Ridge least squares c = w.h + b -> ([w, b], explained variance, residual std)."""
    x = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)
    coefficients = torch.linalg.solve(x.T @ x + ridge * torch.eye(x.shape[1], dtype=x.dtype), x.T @ targets)
    residual = targets - x @ coefficients
    return coefficients.float(), float(1 - residual.var() / targets.var()), float(residual.std())


@torch.no_grad()
def fold_into_head(vae: VAE, coefficients: torch.Tensor) -> None:
    """Add the per-frame log-gain w.h + b to every log-magnitude output of the decoder head."""
    head, bins = vae.decoder.head, vae.config.n_fft // 2 + 1
    head.weight[:bins] += coefficients[:-1][None, :]
    head.bias[:bins] += coefficients[-1]


def load_clips(config: LevelCalibrationConfig, vae: VAE) -> list[torch.Tensor]:
    samples = config.clip_latents * vae.config.samples_per_latent
    chosen = []
    for example in itertools.islice(ShardDataset(config.data, config.split), 0, config.clips * config.stride,
                                    config.stride):
        clip = np.ascontiguousarray(example["mix"][:samples], np.float32)
        if len(clip) == samples and 10 * np.log10(np.mean(np.square(clip, dtype=np.float64)) + 1e-20) > config.silence_db:
            chosen.append(torch.from_numpy(clip))
    if not chosen:
        raise ValueError(f"no clip of {samples} samples above {config.silence_db} dBFS in {config.data} {config.split}")
    return chosen


def calibrate(config: LevelCalibrationConfig) -> dict:
    vae = load_vae(config.vae)
    features, targets = fit_examples(vae, load_clips(config, vae), config)
    coefficients, explained, residual = solve(features, targets, config.ridge)
    fold_into_head(vae, coefficients)
    save_vae(vae, config.out)
    report = {"config": json.loads(json.dumps(asdict(config), default=str)), "frames": len(targets),
              "target_mean_db": float(targets.mean()) * 20 / np.log(10),
              "target_std_db": float(targets.std()) * 20 / np.log(10),
              "explained_variance": explained, "residual_std_db": residual * 20 / np.log(10),
              "bias_db": float(coefficients[-1]) * 20 / np.log(10)}
    (config.out / CALIBRATION_FILE).write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.vae_level", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, LevelCalibrationConfig)
    torch.set_num_threads(1)
    print(json.dumps(calibrate(config_from_args(parser.parse_args(argv), LevelCalibrationConfig)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
