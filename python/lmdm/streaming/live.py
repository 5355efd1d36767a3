"""LiveDelay: the generative delay over a model package, block by block at the model rate.

The reference that the C++ engine's LmdmProcessor (plugin/engine) matches through its Python module:
the same graphs, the same control handling, the same noise (lmdm.streaming.noise), so the same output. Per block
of B latent frames (M = B x hop samples):
1. `features` over the last `feature_history` samples plus the block -> the block's B control frames
   (frame i is centred on the block's sample i x hop; its right half-window sees zeros, as a live host
   cannot see the future);
2. each control follows the input or is absent (continue mode: none follows, so the model only
   continues its own context under the prompt); followed controls are median-smoothed over the
   feature window by `smoothing` frames, then z-scored (lmdm.conditioning.sketch.normalise);
3. OnnxStreamer.next_block -> B latents; `vae_decoder` (state carried) -> M samples.
The prompt is an embedding; morphing two prompts is a linear mix of theirs, renormalised (the
embeddings are unit-length sentence vectors).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from ..conditioning.sketch import median_smooth, normalise
from .noise import GaussianNoise
from .onnx_streamer import OnnxStreamer
from .onnx_vae import OnnxVAEStream
from .sessions import session_options

MAX_INPUT_AMPLITUDE = 16.0  # +24 dBFS: no musical signal, but it must not overflow the features


@dataclass
class LiveSettings:
    steps: int | None = None        # None: the manifest's default
    guidance: float | None = None   # None: the manifest's default
    seed: int = 0
    follow: tuple[bool, bool, bool] = (True, True, True)  # loudness, brightness, pitch follow the input
    smoothing: int = 1              # median width in control frames (odd; 1 = precise)
    threads: int = 1


def morph_prompts(a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
    """Embedding between prompt a (0) and b (1), back on the unit sphere the text encoder writes."""
    mixed = (1.0 - amount) * a + amount * b
    norm = float(np.linalg.norm(mixed))
    return (mixed / norm).astype(np.float32) if norm > 1e-6 else a.astype(np.float32)


def load_prompts(folder: Path) -> dict[str, np.ndarray]:
    bank = json.loads((Path(folder) / "prompts.json").read_text())["prompts"]
    return {p["name"]: np.asarray(p["embedding"], np.float32) for p in bank}


class LiveDelay:
    def __init__(self, folder: Path, settings: LiveSettings = LiveSettings()):
        folder = Path(folder)
        self.settings = settings
        self.streamer = OnnxStreamer.from_package(folder, settings.steps, settings.guidance, settings.seed,
                                                  settings.threads)
        self.streamer.noise = GaussianNoise(settings.seed).normal
        manifest = json.loads((folder / "manifest.json").read_text())
        self.hop = manifest["latent"]["samples_per_latent"]
        self.block_frames = manifest["stream"]["block_frames"]
        self.block_samples = self.block_frames * self.hop
        self.feature_history = self.block_samples
        self.mean = np.asarray(manifest["latent"]["mean"], np.float32)
        self.std = np.asarray(manifest["latent"]["std"], np.float32)
        self.stats = manifest["controls"]["normalisation"]
        self.features = onnxruntime.InferenceSession(str(folder / "features.onnx"), session_options(settings.threads),
                                                     providers=["CPUExecutionProvider"])
        self.decoder = OnnxVAEStream(folder / "vae_decoder.onnx", settings.threads)
        self.history = np.zeros(self.feature_history, np.float32)
        self.prompts = load_prompts(folder)
        # C frames of context, or none (the stream starts from nothing)
        start = np.asarray(manifest["stream"]["start_latents"], np.float32).reshape(-1, len(self.mean))
        no_controls = np.zeros((start.shape[0], 3), np.float32)
        self.streamer.start(start, no_controls, no_controls)

    def set_prompt(self, embedding: np.ndarray | None) -> None:
        self.streamer.set_prompt(embedding)

    def controls(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The block's (values, present), (B, 3), from the input audio and the follow/smoothing settings."""
        window = np.concatenate([self.history, block])[None]
        raw = torch.from_numpy(self.features.run(None, {"audio": window})[0][0])
        first = self.feature_history // self.hop
        values, present = normalise(raw, self.stats)
        values = median_smooth(values, self.settings.smoothing)[first:first + self.block_frames]
        present = median_smooth(present, self.settings.smoothing)[first:first + self.block_frames]
        follow = torch.tensor(self.settings.follow, dtype=values.dtype)
        return (values * present * follow).numpy(), (present * follow).numpy()

    def process(self, block: np.ndarray) -> np.ndarray:
        """M input samples at the model rate -> M output samples (the model's re-performance)."""
        if block.shape != (self.block_samples,):
            raise ValueError(f"a block is {self.block_samples} samples at the model rate, got {block.shape}")
        # Non-finite samples become silence and absurd levels are bounded (the C++ engine does the same),
        # so that no host signal can put Inf/NaN into the features and from there into the KV cache.
        block = np.nan_to_num(block.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        block = np.clip(block, -MAX_INPUT_AMPLITUDE, MAX_INPUT_AMPLITUDE)
        values, present = self.controls(block)
        self.history = np.concatenate([self.history, block])[-self.feature_history:]
        latents = self.streamer.next_block(values, present)
        self.last_latents, self.last_controls = latents, np.stack([values, present])
        return self.decoder((latents * self.std + self.mean).T[None])[0]
