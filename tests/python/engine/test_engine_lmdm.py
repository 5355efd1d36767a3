"""The engine running the generative delay (LmdmProcessor) at host rates, through lmdm._engine."""

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from signals import guitar_like

REPO = Path(__file__).resolve().parents[3]


def render(engine_module, folder, rate=48000, buffer=512, channels=2, seconds=1.5, **parameters):
    engine = engine_module.Engine(model=str(folder))
    for key, value in {"mix": 1.0, "feedback": 0.0, **parameters}.items():
        engine.set_parameter(key, value)
    engine.set_non_realtime(True)  # offline: every block arrives, so runs are comparable
    engine.prepare(rate, buffer, channels)
    signal = np.tile(guitar_like(int(seconds * rate), rate), (channels, 1))
    out = np.concatenate([engine.process(signal[:, i:i + buffer]) for i in range(0, signal.shape[1], buffer)], axis=1)
    return engine, signal, out


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_generative_delay_plays_after_its_latency(engine_module, package, rate):
    engine, _, out = render(engine_module, package[0], rate=rate)
    assert engine.model_status == "" and engine.processor_name == "LMDM pkg"
    assert engine.block_frames == round(2048 * rate / 22050)
    stats = engine.stats()
    assert stats["blocks_played"] >= 3 and stats["blocks_missed"] == 0 and stats["blocks_invalid"] == 0
    latency, delay = engine.latency_frames, stats["processor_delay_frames"]
    vae_delay = json.loads((package[0] / "manifest.json").read_text())["latent"]["decoder_delay_samples"]
    if rate == 22050:  # no resampling: the VAE decoder's overlap is the whole delay of the model's audio
        assert delay == vae_delay
    else:  # the decoder's overlap at the host rate, plus the two resamplers' filters
        assert round(vae_delay * rate / 22050) < delay < round(vae_delay * rate / 22050) + 0.01 * rate
    assert np.isfinite(out).all()
    assert np.abs(out[:, :latency]).max() == 0.0  # nothing before the first block is due
    assert np.abs(out[:, latency:]).max() > 0.0
    np.testing.assert_array_equal(out[0], out[1])  # the model is mono: every channel gets it


def test_model_parameters_change_the_output(engine_module, package):
    _, _, base = render(engine_module, package[0])
    for change in ({"prompt_a": 3}, {"continue": 1}, {"seed": 5}, {"steps": 2}, {"guidance": 4.0}):
        _, _, other = render(engine_module, package[0], **change)
        assert not np.array_equal(base, other), change
    _, _, again = render(engine_module, package[0])
    np.testing.assert_array_equal(base, again)


def test_steps_and_guidance_default_to_the_packages_own(engine_module, package):
    """At 0 (their default) the Steps and Guidance parameters mean the manifest's default_steps and
    default_guidance, so an ARC-Forcing package plays at its few steps without guidance unasked."""
    specs = {s["key"]: s for s in engine_module.parameter_specs()}
    assert specs["steps"]["default"] == specs["guidance"]["default"] == 0.0
    stream = json.loads((package[0] / "manifest.json").read_text())["stream"]
    _, _, by_default = render(engine_module, package[0])
    _, _, told = render(engine_module, package[0], steps=stream["default_steps"], guidance=stream["default_guidance"])
    np.testing.assert_array_equal(by_default, told)


def test_a_broken_package_passes_audio_through_with_the_reason(engine_module, package, tmp_path):
    engine, signal, out = render(engine_module, tmp_path, seconds=0.5)
    assert "model not loaded" in engine.model_status and "manifest.json" in engine.model_status
    latency = engine.latency_frames
    np.testing.assert_allclose(out[:, latency:], signal[:, :-latency], atol=1e-6)


@pytest.mark.skipif(not (REPO / "models" / "lmdm-live").is_dir(), reason="needs the shipped package models/lmdm-live")
def test_the_shipped_models_notes_land_on_the_reported_latency(engine_module):
    """The wet's loudness envelope lines up with the guitar's once shifted by the reported latency: the
    latency includes the VAE decoder's overlap (34.8 ms) and the resamplers, which it once left out."""
    clip, rate = sf.read(REPO / "assets" / "guitar_clip.flac", dtype="float32", always_2d=True)
    clip = clip.mean(axis=1)
    engine = engine_module.Engine(model=str(REPO / "models" / "lmdm-live"))
    for key, value in {"mix": 1.0, "feedback": 0.0, "prompt_a": 1}.items():
        engine.set_parameter(key, value)
    engine.set_non_realtime(True)
    engine.prepare(rate, 256, 1)
    assert engine.model_status == ""
    padded = np.concatenate([clip, np.zeros(engine.latency_frames, np.float32)])[None]
    out = np.concatenate([engine.process(padded[:, i:i + 256]) for i in range(0, padded.shape[1], 256)], axis=1)
    wet = out[0, engine.latency_frames:engine.latency_frames + len(clip)]
    hop = rate // 1000  # 1-ms steps

    def envelope(x: np.ndarray) -> np.ndarray:
        return np.maximum(20 * np.log10(librosa.feature.rms(y=x, frame_length=2048, hop_length=hop)[0] + 1e-5), -80)

    dry_env, wet_env = envelope(clip), envelope(wet)
    lags = range(-60, 61)
    scores = [np.corrcoef(dry_env[max(0, -lag):len(dry_env) - max(0, lag)],
                          wet_env[max(0, lag):len(wet_env) - max(0, -lag)])[0, 1] for lag in lags]
    lag_ms = lags[int(np.argmax(scores))]
    assert max(scores) > 0.5, "the wet does not follow the guitar's loudness at all"
    # Envelopes of different instruments put the best match 5-12 ms either side of the true delay.
    assert abs(lag_ms) <= 20, f"the wet's notes land {lag_ms} ms off the reported latency"
