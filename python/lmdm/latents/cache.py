"""Where a latent cache lives and how its latents are normalised: what training reads, without the
audio, feature and text code that builds the cache (lmdm.latents.build), so a training machine needs only
the cache itself (lmdm.latents.pack carries it to one)."""

import hashlib
import uuid
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from ..vae.model import WEIGHTS

SPLITS = ("train", "valid", "test")
GUITAR_CONTROLS = "guitar_controls.npy"  # <split>.guitar_controls.npy: lmdm.latents.guitar_controls
GUITAR_LATENTS = "guitar_latents.npy"  # <split>.guitar_latents.npy: lmdm.latents.guitar_envelope


def cache_folder(data: Path, vae: Path) -> Path:
    """The cache of `data` encoded by `vae`: named by a hash of the encoder's weights (names, dtypes,
    shapes, bytes), the only part of the VAE the cache depends on."""
    digest = hashlib.sha256()
    with safe_open(Path(vae) / WEIGHTS, framework="numpy") as weights:
        for name in sorted(k for k in weights.keys() if k.startswith("encoder.")):
            tensor = weights.get_tensor(name)
            digest.update(f"{name}:{tensor.dtype}:{tensor.shape}".encode())
            digest.update(np.ascontiguousarray(tensor).tobytes())
    return Path(data) / f"latents-{digest.hexdigest()[:12]}"


def training_cache(data: Path, vae: Path, latent_cache: str = "") -> Path:
    """The cache a training run reads: `latent_cache` where a run names one (a machine without the
    VAE's weights, e.g. a GPU machine the cache was unpacked on), else the cache of `data` and `vae`."""
    return Path(latent_cache) if latent_cache else cache_folder(data, vae)


def normalise_latents(latents: torch.Tensor, stats: dict) -> torch.Tensor:
    """VAE latents (..., T, D) -> the DiT's unit-variance channels."""
    return (latents - torch.tensor(stats["latent_mean"])) / torch.tensor(stats["latent_std"])


def denormalise_latents(latents: torch.Tensor, stats: dict) -> torch.Tensor:
    return latents * torch.tensor(stats["latent_std"]) + torch.tensor(stats["latent_mean"])


SILENCE = "silence.npy"


def silence_latent(folder: Path, vae: Path) -> np.ndarray:
    """The VAE latent frame (D,) of digital silence after the encoder's start-up (what a rest in the
    training data is made of), kept in the cache beside the latents it belongs to, so training on an
    unpacked cache needs no VAE; computed once from `vae` where the cache lacks it."""
    path = Path(folder) / SILENCE
    if not path.exists():
        from ..vae.model import load_vae  # only where the cache was built without it

        model = load_vae(vae)
        with torch.no_grad():
            mean, _ = model.encode(torch.zeros(1, 64 * model.config.samples_per_latent))  # (1, D, T)
        staging = path.with_name(f"{SILENCE}.{uuid.uuid4().hex}.npy")  # ranks may race: write, then rename
        np.save(staging, mean[0, :, -1].numpy().astype(np.float32))
        staging.replace(path)
    return np.load(path)
