"""The engine's timing contract, driven from numpy through the pybind11 module."""

import numpy as np
import pytest


def make_engine(engine_module, sample_rate, buffer_size, channels, **parameters):
    engine = engine_module.Engine(block_seconds=0.05)
    for key, value in {"mix": 1.0, "feedback": 0.0, "bypass": 0.0, **parameters}.items():
        engine.set_parameter(key, value)
    engine.set_non_realtime(True)  # offline: every block arrives, so the comparison is exact
    engine.prepare(sample_rate, buffer_size, channels)
    return engine


def run(engine, signal, sizes):
    """Feeds `signal` (channels, frames) in calls of the given sizes, cycling through them."""
    outputs, position, i = [], 0, 0
    while position < signal.shape[1]:
        n = min(sizes[i % len(sizes)], signal.shape[1] - position)
        outputs.append(engine.process(signal[:, position:position + n]))
        position += n
        i += 1
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize("sample_rate", [44100, 48000, 88200, 96000])
@pytest.mark.parametrize("buffer_size", [1, 64, 333, 8192])
@pytest.mark.parametrize("channels", [1, 2])
def test_output_is_input_delayed_by_reported_latency(engine_module, sample_rate, buffer_size, channels):
    engine = make_engine(engine_module, sample_rate, buffer_size, channels)
    latency = engine.latency_frames
    rng = np.random.default_rng(sample_rate + buffer_size)
    signal = rng.uniform(-1, 1, (channels, latency + 3 * engine.block_frames)).astype(np.float32)
    sizes = [buffer_size] if buffer_size < 300 else list(rng.integers(1, buffer_size + 1, 50))
    out = run(engine, signal, sizes)
    assert out.shape == signal.shape
    np.testing.assert_array_equal(out[:, :latency], 0.0)
    np.testing.assert_array_equal(out[:, latency:], signal[:, :-latency])
    stats = engine.stats()
    assert stats["blocks_missed"] == 0 and stats["blocks_played"] >= 3


def test_feedback_echoes_every_latency_period(engine_module):
    engine = make_engine(engine_module, 48000, 256, 1, feedback=0.5)
    latency = engine.latency_frames
    impulse = np.zeros((1, 4 * latency + 10), np.float32)
    impulse[0, 3] = 1.0
    out = run(engine, impulse, [256])[0]
    peaks = np.flatnonzero(np.abs(out) > 1e-6)
    np.testing.assert_array_equal(peaks, [3 + k * latency for k in (1, 2, 3, 4)])
    np.testing.assert_allclose(out[peaks], [1.0, 0.5, 0.25, 0.125], rtol=1e-6)


def test_wet_gain_scales_the_output_not_the_feedback(engine_module):
    engine = make_engine(engine_module, 48000, 256, 1, feedback=0.5, wet_gain=20 * np.log10(2.0))
    latency = engine.latency_frames
    impulse = np.zeros((1, 3 * latency + 10), np.float32)
    impulse[0, 3] = 1.0
    out = run(engine, impulse, [256])[0]
    peaks = np.flatnonzero(np.abs(out) > 1e-6)
    np.testing.assert_array_equal(peaks, [3 + k * latency for k in (1, 2, 3)])
    np.testing.assert_allclose(out[peaks], [2.0, 1.0, 0.5], rtol=1e-5)  # echoes still halve each round


def test_latency_depends_on_block_and_host_buffer_only(engine_module):
    engine = make_engine(engine_module, 48000, 512, 2)
    fade = round(0.005 * 48000)
    assert engine.block_frames == 2400
    assert engine.latency_frames == 2 * 2400 + fade + 512


def test_stats_tell_the_buffers_a_host_sends_from_the_maximum_it_announced(engine_module):
    engine = make_engine(engine_module, 48000, 8192, 1)
    run(engine, np.zeros((1, 5000), np.float32), [100, 333])
    stats = engine.stats()
    assert stats["max_buffer_frames"] == 8192 and stats["largest_buffer_frames"] == 333
    assert stats["realtime_frames"] == 0  # offline: not what a player hears
    engine.set_non_realtime(False)
    run(engine, np.zeros((1, 1000), np.float32), [250])
    assert engine.stats()["realtime_frames"] == 1000


def test_bad_shapes_and_names_are_refused(engine_module):
    engine = make_engine(engine_module, 48000, 64, 2)
    with pytest.raises(ValueError, match="channels=2"):
        engine.process(np.zeros((1, 64), np.float32))
    with pytest.raises(KeyError):
        engine.set_parameter("gain", 1.0)
    with pytest.raises(ValueError):
        engine.prepare(48000, 64, 0)


def test_parameter_table_matches_plugin_defaults(engine_module):
    specs = {s["key"]: s for s in engine_module.parameter_specs()}
    assert set(specs) == {"mix", "feedback", "bypass", "prompt_a", "prompt_b", "morph", "guidance", "steps",
                          "follow_loudness", "follow_brightness", "follow_pitch", "smoothing", "seed", "freeze",
                          "continue", "wet_gain"}
    assert specs["feedback"]["max"] < 1.0  # the loop must decay
    assert specs["bypass"]["toggle"]
