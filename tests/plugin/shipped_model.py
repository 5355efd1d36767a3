"""The package the plugin bundles (models/lmdm-live), as the engine measures it, for host tests."""

import functools
import json
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "models" / "lmdm-live"
MODEL_RATE = 22050


@functools.lru_cache
def model_block() -> int:
    """The package's block in model samples (its manifest: block_frames latents x samples_per_latent)."""
    manifest = json.loads((MODEL / "manifest.json").read_text())
    return manifest["stream"]["block_frames"] * manifest["latent"]["samples_per_latent"]


@functools.lru_cache
def model_delay(rate: int) -> int:
    """What the model's audio lags its block at `rate` (VAE decoder overlap + resamplers), as the engine
    measures it for the same package: the plugin must report it inside its latency."""
    from lmdm import _engine

    engine = _engine.Engine(model=str(MODEL))
    engine.prepare(rate, 512, 2)
    delay = engine.stats()["processor_delay_frames"]
    assert delay >= 768 * rate / MODEL_RATE  # at least the VAE decoder's 768 samples at the model rate
    return delay
