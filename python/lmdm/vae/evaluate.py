"""python -m lmdm.vae.evaluate: measure a VAE on the held-out test split, next to simple codecs at similar budgets.

    python -m lmdm.vae.evaluate --model models/vae --data data/lmdm-v1 --out models/vae

Writes eval.json (per-metric mean and median for the VAE and each reference, on the test split and on
the bundled guitar clips), reconstructions.png (log-mel spectrograms) and examples/*.flac (originals
and reconstructions), plus the streaming check: block-by-block vs whole-sequence encoding/decoding.

Metrics (lower is better except SI-SDR): multi-resolution STFT distance (the training loss's
spectral-convergence + log-magnitude, auraloss), mel distance (mean |dB| between 80-band log-mel
spectrograms in dB re full scale, floored at -80 dB), SI-SDR (dB; phase-sensitive, so a decoder that predicts its own phase
scores low even when it sounds right), loudness error (mean |dB| between A-weighted loudness curves,
frames above -60 dB).

References: the latents are 32 channels x 43.07 frames/s = 1,378 numbers/s, i.e. 22 kbit/s at float16.
- `mulaw8_22k`: 8-bit mu-law at the full rate (176 kbit/s, 8x the budget): the quality of a plain codec.
- `mulaw8_2.8k`: 8-bit mu-law at 2,756 Hz (22 kbit/s, the latents' budget at float16): band-limited audio.
- `float_1.4k`: float audio at 1,378 samples/s (the latents' count of numbers): band-limited to 689 Hz.
"""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import auraloss
import librosa
import numpy as np
import soundfile as sf
import soxr
import torch

from ..cli import add_config_arguments, config_from_args
from ..conditioning.controls import ControlFeatures
from ..data.loader import ShardDataset
from .model import VAE, load_vae, trim_to_latents

REPO = Path(__file__).resolve().parents[3]
REFERENCES = {"mulaw8_22k": (8, 22050), "mulaw8_2.8k": (8, 2756), "float_1.4k": (None, 1378)}


@dataclass(frozen=True)
class VAEEvalConfig:
    model: Path = field(default_factory=lambda: Path("models/vae"))  # a shipped VAE or a training checkpoint
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    out: Path = field(default_factory=lambda: Path("models/vae"))
    clips: Path = field(default_factory=lambda: REPO / "assets" / "clips")
    split: str = "test"
    max_items: int = 0  # 0 = the whole split
    stream_items: int = 8  # items used for the block-by-block check (it decodes each once per block size)
    stream_blocks: tuple[int, ...] = (1, 4, 16)  # latents per block
    example_items: int = 3  # test items written as audio and plotted (plus the first guitar clip)
    example_seconds: float = 8.0
    threads: int = 2


# ----------------------------------------------------------------------------- metrics


class Metrics:
    """All four distances between a reference and an estimate of the same length (float32 mono)."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=[256, 512, 1024, 2048], hop_sizes=[64, 128, 256, 512], win_lengths=[256, 512, 1024, 2048])
        self.controls = ControlFeatures()

    def __call__(self, reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
        ref, est = torch.from_numpy(reference)[None], torch.from_numpy(estimate)[None]
        with torch.no_grad():
            loudness = self.controls(torch.stack([ref[0], est[0]]))[..., 0].numpy()
        audible = loudness[0] > -60
        return {"mrstft": float(self.stft(est[:, None], ref[:, None])),
                "mel_db": self.mel_distance(reference, estimate),
                "si_sdr_db": si_sdr(reference, estimate),
                "loudness_db": float(np.abs(loudness[0] - loudness[1])[audible].mean()) if audible.any() else 0.0}

    def mel_distance(self, reference: np.ndarray, estimate: np.ndarray) -> float:
        return float(np.abs(log_mel(reference, self.sample_rate) - log_mel(estimate, self.sample_rate)).mean())


def log_mel(audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256, bands: int = 80) -> np.ndarray:
    """80-band mel power in dB re full scale (a full-scale sine reads about -6 dB), floored at -80 dB.

    Unit-peak triangles on a window-normalised power spectrum, so the floor sits where quantisation
    noise of 16-bit audio would and differences far below hearing count as none.
    """
    window_sum = n_fft / 2  # sum of a periodic Hann window
    power = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop)) ** 2 / window_sum**2
    filters = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=bands, norm=None)
    return 10 * np.log10(np.maximum(filters @ power, 1e-8))


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    reference, estimate = reference.astype(np.float64), estimate.astype(np.float64)
    scale = np.dot(estimate, reference) / max(np.dot(reference, reference), 1e-12)
    target = scale * reference
    return float(10 * np.log10(max(np.dot(target, target), 1e-12) / max(np.sum((estimate - target) ** 2), 1e-12)))


def reference_codec(audio: np.ndarray, sample_rate: int, bits: int | None, rate: int) -> np.ndarray:
    """Resample to `rate` (soxr), optionally mu-law quantise to `bits`, and come back."""
    low = soxr.resample(audio, sample_rate, rate, quality="VHQ") if rate != sample_rate else audio
    if bits is not None:
        mu = 2**bits - 1
        encoded = np.sign(low) * np.log1p(mu * np.minimum(np.abs(low), 1)) / np.log1p(mu)
        quantised = np.round((encoded + 1) / 2 * mu) / mu * 2 - 1
        low = np.sign(quantised) * ((1 + mu) ** np.abs(quantised) - 1) / mu
    back = soxr.resample(low.astype(np.float32), rate, sample_rate, quality="VHQ") if rate != sample_rate else low
    return np.resize(back.astype(np.float32), audio.shape)


# ----------------------------------------------------------------------------- the VAE


@torch.no_grad()
def reconstruct(model: VAE, audio: np.ndarray) -> np.ndarray:
    """Whole-sequence encode (means) and decode; sample-aligned with the input."""
    mean, _ = model.encode(torch.from_numpy(audio)[None])
    return model.decode(mean)[0].numpy()


@torch.no_grad()
def streaming_check(model: VAE, audio: np.ndarray, block: int) -> dict[str, float]:
    """Block-by-block encoding and decoding vs whole-sequence, and spectral flux at block seams vs elsewhere."""
    c = model.config
    x = torch.from_numpy(audio)[None]
    whole_latents, _ = model.encode(x)
    state, parts = {}, []
    for start in range(0, whole_latents.shape[2], block):
        parts.append(model.encode(x[:, start * c.samples_per_latent:(start + block) * c.samples_per_latent], state)[0])
    streamed_latents = torch.cat(parts, dim=2)
    whole_audio = model.decode(whole_latents)[0].numpy()
    state, parts = {}, []
    for start in range(0, whole_latents.shape[2], block):
        parts.append(model.decode(whole_latents[:, :, start:start + block], state))
    streamed_audio = torch.cat(parts, dim=1)[0].numpy()[c.decoder_delay:]  # undo the streaming delay
    aligned = whole_audio[: len(streamed_audio)]
    difference = streamed_audio - aligned
    seams = np.arange(block * c.samples_per_latent, len(streamed_audio), block * c.samples_per_latent) - c.decoder_delay
    return {"encoder_max_abs": float((streamed_latents - whole_latents).abs().max()),
            "encoder_max_relative": float((streamed_latents - whole_latents).abs().max() / whole_latents.abs().max()),
            "decoder_max_abs": float(np.abs(difference).max()),
            "decoder_rms": float(np.sqrt(np.mean(difference**2))),
            "flux_seam_ratio_streamed": seam_flux_ratio(streamed_audio, seams),
            "flux_seam_ratio_whole": seam_flux_ratio(aligned, seams)}


def seam_flux_ratio(audio: np.ndarray, seams: np.ndarray, n_fft: int = 256, hop: int = 32) -> float:
    """Mean spectral flux of frames centred within one hop of a seam, over the mean of the other frames.

    A click or discontinuity at a seam shows as a broadband jump in magnitude: the ratio rises above
    the whole-sequence decode's ratio at the same positions (which is ~1 for music).
    """
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop, center=True))
    flux = np.maximum(np.diff(magnitude, axis=1), 0).sum(axis=0)  # frame t vs t-1, for t >= 1
    centres = np.arange(1, magnitude.shape[1]) * hop
    distance = np.abs(centres[:, None] - seams[None, :]).min(axis=1) if len(seams) else np.full(len(centres), 1e9)
    near = distance <= hop
    return float(flux[near].mean() / max(flux[~near].mean(), 1e-12)) if near.any() and (~near).any() else 1.0


# ----------------------------------------------------------------------------- the run


def load_items(config: VAEEvalConfig, model: VAE) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """(test items, guitar clips) as (name, audio trimmed to whole latents)."""
    trim = lambda audio: trim_to_latents(torch.from_numpy(np.ascontiguousarray(audio, np.float32)), model.config).numpy()
    tests = []
    for example in ShardDataset(config.data, config.split):
        tests.append((example["meta"]["key"], trim(example["mix"])))
        if config.max_items and len(tests) >= config.max_items:
            break
    clips = []
    for path in sorted(config.clips.glob("*.flac")):
        audio, rate = sf.read(path, dtype="float32")
        if rate != model.config.sample_rate:
            audio = soxr.resample(audio, rate, model.config.sample_rate, quality="VHQ")
        clips.append((path.stem, trim(audio)))
    return tests, clips


def score(items: list[tuple[str, np.ndarray]], model: VAE, metrics: Metrics) -> tuple[dict, dict]:
    """Mean and median of every metric for the VAE and each reference; also returns the reconstructions."""
    usable = lambda a: a[: len(a) - model.config.decoder_delay]  # the decode's incomplete tail is not scored
    rows: dict[str, list[dict]] = {name: [] for name in ("vae", *REFERENCES)}
    reconstructions = {}
    for name, audio in items:
        reconstructions[name] = reconstruct(model, audio)
        rows["vae"].append(metrics(usable(audio), usable(reconstructions[name])))
        for reference, (bits, rate) in REFERENCES.items():
            coded = reference_codec(audio, model.config.sample_rate, bits, rate)
            rows[reference].append(metrics(usable(audio), usable(coded)))
    summary = {codec: {metric: {"mean": float(np.mean([r[metric] for r in values])),
                                "median": float(np.median([r[metric] for r in values]))}
                       for metric in values[0]} for codec, values in rows.items()}
    return summary | {"items": len(items)}, reconstructions


def write_examples(folder: Path, chosen: list[tuple[str, np.ndarray]], reconstructions: dict, model: VAE,
                   seconds: float) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    length, written = int(seconds * model.config.sample_rate), []
    for index, (name, audio) in enumerate(chosen):
        stem = f"{index:02d}-{name.replace('/', '_').replace('#', '_')}"[:60]
        for kind, signal in (("original", audio), ("vae", reconstructions[name])):
            path = folder / f"{stem}.{kind}.flac"
            sf.write(path, np.clip(signal[:length], -1, 1), model.config.sample_rate, subtype="PCM_16")
            written.append(path.name)
    return written


def plot_reconstructions(path: Path, chosen: list[tuple[str, np.ndarray]], reconstructions: dict, model: VAE,
                         seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate, length = model.config.sample_rate, int(seconds * model.config.sample_rate)
    bits, low_rate = REFERENCES["mulaw8_2.8k"]
    figure, axes = plt.subplots(len(chosen), 3, figsize=(15, 2.6 * len(chosen)), squeeze=False)
    for row, (name, audio) in enumerate(chosen):
        columns = (("original", audio), ("VAE (22 kbit/s as float16)", reconstructions[name]),
                   ("8-bit mu-law at 2.8 kHz (22 kbit/s)", reference_codec(audio, rate, bits, low_rate)))
        for axis, (title, signal) in zip(axes[row], columns):
            axis.imshow(log_mel(signal[:length], rate), origin="lower", aspect="auto", vmin=-80, vmax=0,
                        cmap="magma", extent=(0, len(signal[:length]) / rate, 0, 80))
            axis.set_title(f"{name[:40]}: {title}", fontsize=8)
            axis.set_xlabel("s")
            axis.set_ylabel("mel band")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def evaluate_vae(config: VAEEvalConfig) -> dict:
    torch.set_num_threads(config.threads)
    model = load_vae(config.model)
    metrics = Metrics(model.config.sample_rate)
    tests, clips = load_items(config, model)
    test_scores, test_reconstructions = score(tests, model, metrics)
    clip_scores, clip_reconstructions = score(clips, model, metrics)
    streaming = {str(block): [streaming_check(model, audio, block) for _, audio in tests[: config.stream_items]]
                 for block in config.stream_blocks}
    streaming = {block: {key: float(np.max([r[key] for r in rows])) if "max" in key else
                         float(np.mean([r[key] for r in rows])) for key in rows[0]}
                 for block, rows in streaming.items()}
    chosen = tests[: config.example_items] + clips[:1]
    reconstructions = test_reconstructions | clip_reconstructions
    config.out.mkdir(parents=True, exist_ok=True)
    examples = write_examples(config.out / "examples", chosen, reconstructions, model, config.example_seconds)
    plot_reconstructions(config.out / "reconstructions.png", chosen, reconstructions, model, config.example_seconds)
    result = {"split": config.split, "test": test_scores, "guitar_clips": clip_scores,
              "streaming": streaming, "examples": examples}
    (config.out / "eval.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.vae.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, VAEEvalConfig)
    result = evaluate_vae(config_from_args(parser.parse_args(argv), VAEEvalConfig))
    print(json.dumps({k: result[k] for k in ("test", "streaming")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
