"""The plugin with its bundled model in real hosts: the VST3 in pedalboard and DawDreamer, the LV2 in
liblilv. A guitar clip goes in; the model's re-performance comes out where the guitar plays, its
loudness envelope follows the input's, nothing is NaN, the latency is exactly what is reported, and
the prompt parameter changes the sound."""

import threading

import numpy as np
import pytest
import soundfile as sf
from juce_vst3_state import component_state, with_component_state
from lv2_run import run_lv2
from shipped_model import model_latency
from signals import envelope_db

pytestmark = pytest.mark.with_model
RATE, BUFFER, SECONDS = 48000, 512, 6.0


def expected_latency(buffer_size: int, rate: int = RATE) -> int:
    return model_latency(buffer_size, rate)


@pytest.fixture(scope="module")
def clip(guitar_clip) -> np.ndarray:
    audio, rate = sf.read(guitar_clip, dtype="float32")
    assert rate == RATE
    return np.tile(audio[: int(SECONDS * RATE)], (2, 1))


def check_generation(dry: np.ndarray, wet: np.ndarray) -> float:
    """wet is aligned with dry (latency removed). Returns the loudness-envelope correlation."""
    assert np.isfinite(wet).all()
    assert not np.allclose(wet, dry, atol=1e-3), "the output is the input: the model did not run"
    a, b = envelope_db(dry[0], RATE // 20), envelope_db(wet[0], RATE // 20)
    playing = a > a.max() - 40
    assert b[playing].max() > -60, "silent where the guitar plays"
    return float(np.corrcoef(a[playing], b[playing])[0, 1])


def test_pedalboard_vst3_generates_from_guitar(vst3_path, clip, record_property):
    pedalboard = pytest.importorskip("pedalboard")
    plugin = pedalboard.load_plugin(vst3_path)
    plugin.mix, plugin.feedback = 1.0, 0.0
    plugin(clip, RATE, buffer_size=BUFFER)  # warm-up: pedalboard reads the latency before preparing
    plugin.reset()
    wet = plugin(clip, RATE, buffer_size=BUFFER)  # latency compensated by pedalboard
    assert plugin.reported_latency_samples == expected_latency(BUFFER)
    record_property("loudness_r_pedalboard", check_generation(clip, wet))
    plugin.reset()
    plugin.prompt_a = 3
    other = plugin(clip, RATE, buffer_size=BUFFER)
    assert not np.allclose(other, wet, atol=1e-4), "the prompt parameter had no effect"


def hostile(frames: int, rate: int) -> np.ndarray:
    """Silence, DC, full-scale noise, NaN/Inf and an absurd level, a quarter second each, then a tone."""
    t = np.arange(frames) / rate
    x = 0.3 * np.sin(2 * np.pi * 196.0 * t)
    quarter = rate // 4
    x[:quarter] = 0.0
    x[quarter:2 * quarter] = 0.5
    x[2 * quarter:3 * quarter] = np.random.default_rng(0).uniform(-1, 1, quarter)
    x[3 * quarter:4 * quarter:2], x[3 * quarter + 1:4 * quarter:2] = np.nan, np.inf
    x[4 * quarter:5 * quarter] = 1e30
    return np.tile(x.astype(np.float32), (2, 1))


def test_pedalboard_vst3_survives_rate_and_buffer_changes_and_hostile_input(vst3_path):
    pedalboard = pytest.importorskip("pedalboard")
    plugin = pedalboard.load_plugin(vst3_path)
    plugin.mix, plugin.feedback = 1.0, 0.5
    for rate, buffer in ((44100, 1), (96000, 8192), (48000, 37), (22050, 4096)):
        audio = hostile(int(2.5 * rate), rate)
        plugin(audio, rate, buffer_size=buffer)  # warm-up: pedalboard reads the latency before preparing
        plugin.reset()
        out = plugin(audio, rate, buffer_size=buffer)
        assert np.isfinite(out).all(), (rate, buffer)
        assert plugin.reported_latency_samples == expected_latency(buffer, rate)
        assert np.abs(out[:, -rate // 2:]).max() > 1e-3, f"silent after the hostile part at {rate} Hz"


def test_the_provider_is_saved_and_an_absent_one_falls_back_to_the_cpu(vst3_path, clip):
    pedalboard = pytest.importorskip("pedalboard")
    plugin = pedalboard.load_plugin(vst3_path)
    plugin.mix, plugin.feedback = 1.0, 0.0
    state = component_state(plugin.raw_state)
    assert b"provider=cpu\n" in state
    plugin.raw_state = with_component_state(state.replace(b"provider=cpu", b"provider=directml"))
    short = clip[:, : 2 * RATE]
    plugin(short, RATE, buffer_size=BUFFER)  # warm-up (latency read before preparing)
    plugin.reset()
    out = plugin(short, RATE, buffer_size=BUFFER)
    assert np.isfinite(out).all() and not np.allclose(out, short, atol=1e-3), "the model stopped"
    assert b"provider=directml\n" in component_state(plugin.raw_state)  # kept for a machine that has it


def test_dawdreamer_vst3_generates_from_guitar(vst3_path, clip, record_property):
    daw = pytest.importorskip("dawdreamer")
    engine = daw.RenderEngine(RATE, BUFFER)
    plugin = engine.make_plugin_processor("lmdm", vst3_path)
    plugin.set_parameter(0, 1.0)  # mix
    plugin.set_parameter(1, 0.0)  # feedback
    source = engine.make_playback_processor("source", clip)
    engine.load_graph([(source, []), (plugin, ["source"])])
    engine.render(clip.shape[1] / RATE)
    out = engine.get_audio()
    latency = plugin.get_latency_samples()
    assert latency == expected_latency(BUFFER)
    np.testing.assert_array_equal(out[:, :latency], 0.0)
    wet = np.zeros_like(clip)
    wet[:, : clip.shape[1] - latency] = out[:, latency:]
    record_property("loudness_r_dawdreamer", check_generation(clip[:, : -latency], wet[:, : -latency]))


def test_lv2_generates_from_guitar(lv2, tmp_path, clip, record_property):
    out, report = run_lv2(lv2, tmp_path, clip, RATE, BUFFER, {"mix": 1.0, "feedback": 0.0})
    latency = report["latency"]
    assert latency == expected_latency(BUFFER)
    wet = out[:, latency:]
    record_property("loudness_r_lv2", check_generation(clip[:, : -latency], wet))


def test_state_restored_from_another_thread_is_kept_and_never_loaded_there(vst3_path, clip):
    """Hosts may restore state from any thread; loading a package is for the message thread, so the
    restore is deferred to it, and a session saved in between keeps the restored choice."""
    pedalboard = pytest.importorskip("pedalboard")
    plugin = pedalboard.load_plugin(vst3_path)
    plugin.mix, plugin.feedback = 1.0, 0.0
    restored = with_component_state(component_state(plugin.raw_state).replace(b"provider=cpu", b"provider=directml"))
    restorer = threading.Thread(target=setattr, args=(plugin, "raw_state", restored))
    restorer.start()
    restorer.join()
    assert b"provider=directml\n" in component_state(plugin.raw_state)
    short = clip[:, : 2 * RATE]
    plugin(short, RATE, buffer_size=BUFFER)  # warm-up (latency read before preparing)
    plugin.reset()
    out = plugin(short, RATE, buffer_size=BUFFER)
    assert np.isfinite(out).all() and not np.allclose(out, short, atol=1e-3), "the model stopped"
