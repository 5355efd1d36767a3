"""The VST3 in DawDreamer's render graph (no latency compensation: the delay must be exact)."""

import numpy as np
import pytest

daw = pytest.importorskip("dawdreamer")

MIX, FEEDBACK, BYPASS = 0, 1, 2  # parameter indices, in the plugin's declaration order


def render(vst3_path, audio, sample_rate, buffer_size, parameters=None):
    """Returns (output, plugin, engine); the plugin lives only as long as its engine."""
    engine = daw.RenderEngine(sample_rate, buffer_size)
    plugin = engine.make_plugin_processor("lmdm", vst3_path)
    for index, normalised in (parameters or {}).items():
        plugin.set_parameter(index, normalised)
    source = engine.make_playback_processor("source", audio)
    engine.load_graph([(source, []), (plugin, ["source"])])
    engine.render(audio.shape[1] / sample_rate)
    return engine.get_audio(), plugin, engine


def test_parameters_are_described(vst3_path):
    _, plugin, _engine = render(vst3_path, np.zeros((2, 512), np.float32), 48000, 256)
    names = [p["name"] for p in plugin.get_parameters_description()]
    assert names == ["Mix", "Feedback", "Bypass", "Prompt A", "Prompt B", "Morph", "Guidance", "Steps",
                     "Follow loudness", "Follow brightness", "Follow pitch", "Smoothing", "Seed", "Freeze", "Continue",
                     "Wet gain"]


@pytest.mark.parametrize("sample_rate,buffer_size", [(44100, 128), (48000, 512), (96000, 2048)])
def test_output_is_the_input_delayed_by_the_reported_latency(vst3_path, sample_rate, buffer_size):
    audio = np.random.default_rng(2).uniform(-1, 1, (2, 2 * sample_rate)).astype(np.float32)
    out, plugin, _engine = render(vst3_path, audio, sample_rate, buffer_size, {FEEDBACK: 0.0})
    latency = plugin.get_latency_samples()
    assert 0 < latency < audio.shape[1]
    np.testing.assert_array_equal(out[:, :latency], 0.0)
    np.testing.assert_array_equal(out[:, latency:], audio[:, :-latency])


def test_feedback_produces_decaying_echoes(vst3_path):
    impulse = np.zeros((2, 170000), np.float32)  # room for exactly four echoes at 48 kHz
    impulse[:, 0] = 1.0
    # Normalised values: mix 1.0 -> 1, feedback 0.5/0.95 of its range -> 0.5.
    out, plugin, _engine = render(vst3_path, impulse, 48000, 256, {MIX: 1.0, FEEDBACK: 0.5 / 0.95})
    latency = plugin.get_latency_samples()
    taps = latency * np.arange(1, 5)
    np.testing.assert_allclose(out[0, taps], [1.0, 0.5, 0.25, 0.125], rtol=1e-5)
    assert np.count_nonzero(np.abs(out[0]) > 1e-6) == 4
