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


def model_latency(max_buffer: int, rate: int) -> int:
    """The latency the plugin reports with the model (docs/ARCHITECTURE.md "Timing"): one block, half a
    block of compute headroom (LmdmProcessor::kHeadroomShare, rounded up), the 5-ms decision fade, the
    host's announced buffer and the model's own delay."""
    block = int(model_block() * rate / MODEL_RATE + 0.5)
    return block + -(-block // 2) + int(0.005 * rate + 0.5) + max_buffer + model_delay(rate)


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
