"""lmdm.latents.pack: the latent cache packed small for a GPU machine comes back as the same cache."""

import json

import numpy as np
import pytest

from lmdm.latents.cache import GUITAR_CONTROLS, GUITAR_LATENTS, SILENCE
from lmdm.latents.pack import STEPS_PER_SIGMA, pack, unpack


def fake_cache(folder, frames=500, dim=8):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    mean, std = rng.normal(0, 1, dim), rng.uniform(0.5, 2.0, dim)
    for split, n in (("train", frames), ("valid", frames // 5)):
        latents = mean + std * np.clip(rng.normal(0, 1, (n, dim)), -5, 5)
        np.save(folder / f"{split}.latents.npy", latents.astype(np.float16))
        np.save(folder / f"{split}.controls.npy", rng.uniform(0, 100, (n, 4)).astype(np.float32))
        if split == "train":  # the guitar's controls are optional (lmdm.latents.guitar_controls)
            np.save(folder / f"{split}.{GUITAR_CONTROLS}", rng.uniform(0, 100, (n, 4)).astype(np.float32))
            enveloped = latents.copy()  # lmdm.latents.guitar_envelope: some examples re-levelled, the rest as they are
            enveloped[: n // 2] = mean + std * np.clip(rng.normal(0, 1, (n // 2, dim)), -5, 5)
            np.save(folder / f"{split}.{GUITAR_LATENTS}", enveloped.astype(np.float16))
        captions = rng.normal(0, 0.05, (3, 384)).astype(np.float32)
        np.save(folder / f"{split}.text.npy", captions[[0, 1, 2, 1, 0]])  # repeated captions are stored once
        (folder / f"{split}.json").write_text(json.dumps({"examples": [{"start": 0, "end": n}], "captions": ["x"]}))
    (folder / "stats.json").write_text(json.dumps({"latent_mean": mean.tolist(), "latent_std": std.tolist()}))
    (folder / "vae.json").write_text(json.dumps({"vae": "models/vae"}))
    np.save(folder / SILENCE, rng.normal(0, 1, dim).astype(np.float32))  # else pack would need a VAE
    return mean, std


def test_unpack_rebuilds_the_cache_within_the_quantisation_step(tmp_path):
    cache = tmp_path / "a" / "latents-0123456789ab"
    mean, std = fake_cache(cache)
    report = pack(cache, tmp_path / "cache.npz")
    assert report.megabytes * 1e6 < sum(p.stat().st_size for p in cache.iterdir())
    assert report.latent_max_error_sigma <= 0.5 / STEPS_PER_SIGMA + 1e-3
    rebuilt = unpack(tmp_path / "cache.npz", tmp_path / "b")
    assert rebuilt == tmp_path / "b" / cache.name
    assert sorted(p.name for p in rebuilt.iterdir()) == sorted(p.name for p in cache.iterdir())
    for meta in cache.glob("*.json"):
        assert (rebuilt / meta.name).read_text() == meta.read_text()
    for split in ("train", "valid"):
        original = np.load(cache / f"{split}.latents.npy").astype(np.float32)
        restored = np.load(rebuilt / f"{split}.latents.npy")
        assert restored.dtype == np.float16 and restored.shape == original.shape
        error_sigma = np.abs((restored.astype(np.float32) - original) / std)
        assert error_sigma.max() <= 0.5 / STEPS_PER_SIGMA + 0.01  # + float16 rounding of the latents
        np.testing.assert_allclose(np.load(rebuilt / f"{split}.controls.npy"),
                                   np.load(cache / f"{split}.controls.npy"), rtol=1e-3, atol=0.05)
        np.testing.assert_allclose(np.load(rebuilt / f"{split}.text.npy"),
                                   np.load(cache / f"{split}.text.npy"), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.load(rebuilt / f"train.{GUITAR_CONTROLS}"),
                               np.load(cache / f"train.{GUITAR_CONTROLS}"), rtol=1e-3, atol=0.05)
    original, restored = np.load(cache / f"train.{GUITAR_LATENTS}"), np.load(rebuilt / f"train.{GUITAR_LATENTS}")
    assert restored.dtype == np.float16 and restored.shape == original.shape
    error_sigma = np.abs((restored.astype(np.float32) - original.astype(np.float32)) / std)
    assert error_sigma.max() <= 0.5 / STEPS_PER_SIGMA + 0.01
    assert not (rebuilt / f"valid.{GUITAR_LATENTS}").exists()
    np.testing.assert_array_equal(np.load(rebuilt / SILENCE), np.load(cache / SILENCE))


def test_smooth_latents_pack_smaller_than_int8(tmp_path):
    """Consecutive VAE frames are alike, so the frame-to-frame differences compress well."""
    cache = tmp_path / "latents-smooth"
    fake_cache(cache, frames=20_000)
    stats = json.loads((cache / "stats.json").read_text())
    walk = np.cumsum(np.random.default_rng(1).normal(0, 0.1, (20_000, 8)), axis=0)
    walk = np.clip(walk - walk.mean(0), -4, 4)
    np.save(cache / "train.latents.npy", (np.array(stats["latent_mean"]) + walk * np.array(stats["latent_std"])).astype(np.float16))
    pack(cache, tmp_path / "cache.npz")
    with np.load(tmp_path / "cache.npz") as packed:
        assert packed["train.latents"].size < 0.6 * 20_000 * 8  # int8 alone would be 1 byte a value


def test_a_file_of_another_format_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", header=np.array(json.dumps({"format": "something-else"})))
    with pytest.raises(ValueError, match="is not a lmdm-latent-pack-2 file"):
        unpack(tmp_path / "other.npz", tmp_path / "out")


def test_latents_beyond_the_int8_range_are_refused(tmp_path):
    cache = tmp_path / "latents-wide"
    fake_cache(cache)
    stats = json.loads((cache / "stats.json").read_text())
    latents = np.load(cache / "train.latents.npy").astype(np.float32)
    latents[0] = np.array(stats["latent_mean"]) + 8.0 * np.array(stats["latent_std"])  # an 8-sigma frame
    np.save(cache / "train.latents.npy", latents.astype(np.float16))
    with pytest.raises(ValueError, match="beyond the int8 range"):
        pack(cache, tmp_path / "cache.npz")
