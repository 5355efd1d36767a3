"""The LV2 bundle inside a real DAW: Ardour 7, headless. ardour7-lua (Dummy audio backend) builds a
session with a stereo audio track carrying the plugin and sets the plugin's mix and feedback through
Ardour's controls for LV2 patch properties; the guitar clip goes on the track at position 0; and
ardour7-export renders the session range (the clip plus a second) from the master bus. Ardour's
export runs the engine in freewheel (faster than real time) and Ardour sets the plugin's
lv2:freeWheeling port from that.

Measured with Ardour 7.3 (Debian 12): the plugin reports 44098 samples of latency (Ardour 7 gives
LV2 plugins a fixed bufs:maxBlockLength of 8192, see libs/ardour/lv2_plugin.cc, so the latency is
2 x 17833 + 240 + 8192), and Ardour's latency compensation aligns the plugin's output with the
timeline exactly: without a model the export equals the clip sample for sample, at lag 0. With the
model the plugin reports the model's own audio delay too (the VAE decoder's overlap and the
resamplers, tests/plugin/shipped_model.py)."""

import time

import numpy as np
import pytest
import soundfile as sf

import ardour_session as ardour
from shipped_model import MODEL_RATE, model_latency
from signals import envelope_db

RATE = ardour.SAMPLE_RATE
ARDOUR_MAX_BLOCK = 8192  # the bufs:maxBlockLength Ardour 7 passes to every LV2 plugin


PASS_THROUGH_BLOCK = 8192  # without a model the plugin delays audio in blocks of this many samples at 22.05 kHz


def expected_latency(model_samples: int, max_block=ARDOUR_MAX_BLOCK, rate=RATE):
    block = int(model_samples * rate / MODEL_RATE + 0.5)
    return 2 * block + int(0.005 * rate + 0.5) + max_block


@pytest.fixture(scope="module")
def clip(guitar_clip):
    audio, rate = sf.read(guitar_clip, dtype="float32")
    assert rate == RATE and audio.ndim == 1
    return audio


def render_in_ardour(tmp_path, build_info, mono, properties, record_property):
    """Builds the session, places `mono` (as two identical channels) and exports. Returns the export
    (frames x 2), the build script's results and the state the plugin saved."""
    bundle, uri = build_info["lv2"], build_info["lv2_uri"]
    env = ardour.ardour_env(bundle, tmp_path / "home")
    name = "lmdm"
    session = tmp_path / name
    started = time.monotonic()
    results, _ = ardour.build_session(session, name, bundle, uri, properties, env)
    assert results["backend"] == "Dummy"
    range_length = ardour.add_clip(session, name, np.stack([mono, mono], axis=1))
    built = time.monotonic()
    out, log, lost = ardour.export(session, name, tmp_path / "export.wav", env)
    record_property("ardour_export_attempts_lost", lost)  # the exporter's own races (ardour_session.py)
    record_property("ardour_build_s", round(built - started, 1))
    record_property("ardour_export_s", round(time.monotonic() - built, 1))
    assert out.shape == (range_length, 2), log
    return out, results, ardour.plugin_state(session)


def test_ardour_compensates_the_plugin_latency_exactly(ardour_tools, build_info, tmp_path, clip,
                                                       record_property):
    out, results, state = render_in_ardour(tmp_path, build_info, clip, {"mix": 1, "feedback": 0},
                                           record_property)
    # The values reached the plugin (its own saved state), and it reported the latency we expect.
    assert "\nmix=1\n" in state and "\nfeedback=0\n" in state, state
    latency = int(results["plugin_latency"])
    assert latency == expected_latency(PASS_THROUGH_BLOCK)

    assert np.isfinite(out).all()
    assert np.abs(out).max() > 0.1, "silent export"
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # two identical channels stay identical
    lag = ardour.lag_by_xcorr(clip, out[:, 0], max_lag=2 * latency)
    record_property("ardour_lag", lag)
    # Ardour compensates the reported latency on export (a host that did not would put the clip at
    # lag == latency), and with no model the plugin is an exact delay: the export is the clip.
    assert lag == 0, f"export lags the clip by {lag} samples (plugin latency {latency})"
    np.testing.assert_allclose(out[: len(clip), 0], clip, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(out[len(clip):], 0.0)  # the extra second is silent


def test_feedback_echoes_arrive_one_reported_latency_apart(ardour_tools, build_info, tmp_path, clip,
                                                           record_property):
    """A control for the test above: an exact copy of the clip could also come from a plugin Ardour
    failed to load or bypassed. With feedback 0.5 the wet signal is the clip plus echoes, each one
    latency later and half as loud, so the plugin demonstrably runs, with the latency it reports."""
    out, results, state = render_in_ardour(tmp_path, build_info, clip, {"mix": 1, "feedback": 0.5},
                                           record_property)
    assert "\nfeedback=0.5\n" in state, state
    latency = int(results["plugin_latency"])
    expected = np.zeros(len(out))
    for k, start in enumerate(range(0, len(out), latency)):
        n = min(len(clip), len(out) - start)
        expected[start:start + n] += 0.5**k * clip[:n]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], expected, rtol=0, atol=1e-6)


@pytest.mark.with_model
def test_ardour_runs_the_bundled_model(ardour_tools, build_info, tmp_path, clip, record_property):
    dry = clip[: 6 * RATE]  # six seconds, as the other hosts' model tests use
    out, results, state = render_in_ardour(tmp_path, build_info, dry, {"mix": 1, "feedback": 0},
                                           record_property)
    assert "\nmix=1\n" in state and "\nfeedback=0\n" in state, state
    assert int(results["plugin_latency"]) == model_latency(ARDOUR_MAX_BLOCK, RATE)
    wet = out[: len(dry), 0]
    assert np.isfinite(out).all()
    assert not np.allclose(wet, dry, atol=1e-3), "the output is the input: the model did not run"

    a, b = envelope_db(dry, RATE // 20), envelope_db(wet, RATE // 20)
    playing = a > a.max() - 40
    assert b[playing].max() > -60, "silent where the guitar plays"
    assert np.mean(b[playing] > -80) > 0.9, "mostly silent where the guitar plays"
    record_property("ardour_model_peak", float(np.abs(wet).max()))
    record_property("loudness_r_ardour", float(np.corrcoef(a[playing], b[playing])[0, 1]))
