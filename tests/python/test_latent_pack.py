"""lmdm.latent_pack: the latent cache packed small for a GPU machine comes back as the same cache."""

import json

import numpy as np
import pytest

from lmdm.latent_pack import STEPS_PER_SIGMA, pack, unpack


def fake_cache(folder, frames=500, dim=8):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    mean, std = rng.normal(0, 1, dim), rng.uniform(0.5, 2.0, dim)
    for split, n in (("train", frames), ("valid", frames // 5)):
        latents = mean + std * np.clip(rng.normal(0, 1, (n, dim)), -5, 5)
        np.save(folder / f"{split}.latents.npy", latents.astype(np.float16))
        np.save(folder / f"{split}.controls.npy", rng.uniform(0, 100, (n, 4)).astype(np.float32))
        np.save(folder / f"{split}.text.npy", rng.normal(0, 0.05, (3, 384)).astype(np.float32))
        (folder / f"{split}.json").write_text(json.dumps({"examples": [{"start": 0, "end": n}], "captions": ["x"]}))
    (folder / "stats.json").write_text(json.dumps({"latent_mean": mean.tolist(), "latent_std": std.tolist()}))
    (folder / "vae.json").write_text(json.dumps({"vae": "models/vae"}))
    return mean, std


def test_unpack_rebuilds_the_cache_within_the_quantisation_step(tmp_path):
    cache = tmp_path / "a" / "latents-0123456789ab"
    mean, std = fake_cache(cache)
    report = pack(cache, tmp_path / "cache.npz")
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


def test_latents_beyond_the_int8_range_are_refused(tmp_path):
    cache = tmp_path / "latents-wide"
    fake_cache(cache)
    stats = json.loads((cache / "stats.json").read_text())
    latents = np.load(cache / "train.latents.npy").astype(np.float32)
    latents[0] = np.array(stats["latent_mean"]) + 8.0 * np.array(stats["latent_std"])  # an 8-sigma frame
    np.save(cache / "train.latents.npy", latents.astype(np.float16))
    with pytest.raises(ValueError, match="beyond the int8 range"):
        pack(cache, tmp_path / "cache.npz")
