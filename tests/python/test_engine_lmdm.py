"""The engine running the generative delay (LmdmProcessor) at host rates, through lmdm._engine."""

import numpy as np
import pytest

from signals import guitar_like


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
    latency = engine.latency_frames
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


def test_a_broken_package_passes_audio_through_with_the_reason(engine_module, package, tmp_path):
    engine, signal, out = render(engine_module, tmp_path, seconds=0.5)
    assert "model not loaded" in engine.model_status and "manifest.json" in engine.model_status
    latency = engine.latency_frames
    np.testing.assert_allclose(out[:, latency:], signal[:, :-latency], atol=1e-6)
