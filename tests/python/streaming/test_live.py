"""LiveDelay (the generative delay's Python reference) and the host-reproducible noise it draws."""

import json

import numpy as np
import pytest

from lmdm.streaming.live import LiveDelay, LiveSettings, morph_prompts
from lmdm.streaming.noise import GaussianNoise

from signals import guitar_like


def test_noise_is_standard_normal_and_a_stream():
    whole = GaussianNoise(7).normal(4000, 8)
    assert abs(float(whole.mean())) < 0.02 and abs(float(whole.std()) - 1.0) < 0.02
    parts = GaussianNoise(7)
    assert np.array_equal(np.concatenate([parts.normal(3, 8), parts.normal(3997, 8)]), whole)
    assert not np.array_equal(GaussianNoise(8).normal(16), GaussianNoise(7).normal(16))


def test_noise_first_values_are_pinned():
    """The C++ engine (test_GaussianNoise.cpp) pins the same numbers: both sides draw one stream."""
    np.testing.assert_allclose(GaussianNoise(0).normal(4), [-0.45275775, 2.650606, -0.9886041, 0.25246271],
                               rtol=0, atol=1e-6)


def run(package, settings: LiveSettings, blocks: int = 3, prompt: str | None = "flute") -> np.ndarray:
    delay = LiveDelay(package, settings)
    if prompt:
        delay.set_prompt(delay.prompts[prompt])
    audio = guitar_like(blocks * delay.block_samples)
    return np.concatenate([delay.process(b) for b in np.split(audio, blocks)])


def test_blocks_come_out_finite_and_seeded(package):
    folder, _ = package
    a, b = run(folder, LiveSettings(seed=3)), run(folder, LiveSettings(seed=3))
    assert a.shape == (3 * 4 * 512,) and np.isfinite(a).all() and np.abs(a).max() > 0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run(folder, LiveSettings(seed=4)))


def test_controls_follow_the_settings(package):
    folder, _ = package
    delay = LiveDelay(folder, LiveSettings(follow=(True, False, True)))
    values, present = delay.controls(guitar_like(delay.block_samples))
    assert values.shape == present.shape == (4, 3)
    assert (present[:, 0] == 1).all() and (present[:, 1] == 0).all() and (values[:, 1] == 0).all()
    silent = LiveDelay(folder, LiveSettings(follow=(False, False, False)))  # continue mode
    values, present = silent.controls(guitar_like(delay.block_samples))
    assert not present.any() and not values.any()


def test_bad_input_is_refused_or_cleaned(package):
    folder, _ = package
    delay = LiveDelay(folder)
    with pytest.raises(ValueError, match="2048 samples"):
        delay.process(np.zeros(100, np.float32))
    block = guitar_like(delay.block_samples)
    block[::7] = np.nan
    assert np.isfinite(delay.process(block)).all()


def test_morph_stays_on_the_unit_sphere(package):
    folder, _ = package
    bank = json.loads((folder / "prompts.json").read_text())["prompts"]
    a, b = (np.asarray(p["embedding"], np.float32) for p in bank[:2])
    np.testing.assert_allclose(morph_prompts(a, b, 0.0), a / np.linalg.norm(a), atol=1e-6)
    np.testing.assert_allclose(morph_prompts(a, b, 1.0), b / np.linalg.norm(b), atol=1e-6)
    assert abs(float(np.linalg.norm(morph_prompts(a, b, 0.5))) - 1.0) < 1e-5
